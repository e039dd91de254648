import CFFmpeg
import Foundation

/// SHA-256 by libavutil (already linked for the media work), for cache keys, checksums and
/// work-dir names. Owns the memory of one `AVSHA` context (allocated by Swift, in
/// `av_sha_size` bytes, as every Swift allocation is), freed exactly once, in deinit. Never
/// shared between tasks.
final class SHA256 {
    private let memory: UnsafeMutableRawPointer
    private var context: OpaquePointer { OpaquePointer(memory) }

    init() {
        memory = UnsafeMutableRawPointer.allocate(byteCount: Int(av_sha_size), alignment: 16)
        av_sha_init(context, 256)
    }

    deinit {
        memory.deallocate()
    }

    /// Adds bytes to the digest.
    func update(_ bytes: some DataProtocol) {
        for region in bytes.regions {
            region.withUnsafeBytes { raw in
                guard let base = raw.bindMemory(to: UInt8.self).baseAddress else { return }
                av_sha_update(context, base, raw.count)
            }
        }
    }

    /// The digest of everything added, as lower-case hex (the context is spent afterwards).
    func hexDigest() -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        av_sha_final(context, &digest)
        return digest.map { String(format: "%02x", $0) }.joined()
    }
}
