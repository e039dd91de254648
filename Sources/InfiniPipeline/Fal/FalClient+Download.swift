// The result video's download: resumable with `Range`, retried for a time budget, checked
// to be an MP4 before it is moved into place.

import AsyncHTTPClient
import Foundation
import Logging
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension FalClient {
    /// A downloaded result video.
    public struct DownloadedVideo: Sendable, Equatable {
        /// Where it was saved.
        public var path: String
        /// Its size.
        public var bytes: Int64
        /// Its video stream, as the container declares it (the media toolkit's own type, so
        /// not part of the public API; the properties below say what it holds).
        var video: StreamInfo

        /// The video codec, as FFmpeg names it (`h264`).
        public var codecName: String { video.codecName }
        /// The picture width in pixels.
        public var width: Int { video.width }
        /// The picture height in pixels.
        public var height: Int { video.height }
        /// The frame count the container declares (0 when it does not).
        public var declaredFrameCount: Int { video.declaredFrameCount }
        /// The video stream's duration in seconds, when the container declares it.
        public var duration: Double? { video.duration }
    }

    /// Downloads a result video to `destination`, streaming it to a temporary file beside it and
    /// renaming at the end (the temporary file is removed on any failure). The request carries
    /// no key. Redirects are followed (up to 5), each checked like the first URL.
    ///
    /// The result is paid for, so the download does not give up after a few attempts: transport
    /// failures, bodies that end early and 408/409/429/5xx answers are retried with capped
    /// exponential backoff for ``FalConfiguration/download``'s time budget, each retry reported as
    /// ``FalEvent/downloadRetrying(_:)``. A retry asks only for the missing bytes (`Range:
    /// bytes=N-`, with `If-Range` when the server gave a strong `ETag`) and appends a `206` whose
    /// `Content-Range` starts at N; a `200` (the server ignores ranges, or the file changed)
    /// starts over. The size is checked against `Content-Length` or the `Content-Range` total.
    /// Other answers (401, 403, 404, 410, …) are not retried: fal's clients retry no other 4xx,
    /// and a missing or forbidden file stays so.
    /// - Parameters:
    ///   - file: the result's video (its `fileSize`, when given, is checked).
    ///   - destination: the path to save it at; its folder must exist.
    ///   - onEvent: receives ``FalEvent/downloadRetrying(_:)`` and ``FalEvent/downloaded(path:bytes:)``.
    /// - Returns: where the video was saved, its size and its video stream.
    /// - Throws: ``FalError``: `.insecureURL`/`.invalidURL` before anything is sent,
    ///   `.downloadTooLarge` (by `Content-Length`, `Content-Range`, or while streaming),
    ///   `.downloadIncomplete` when the budget ran out (naming the URL, the attempts and the
    ///   bytes received), `.httpStatus` for an answer that is not retried, `.invalidVideo` when the
    ///   file is not an MP4 with a video stream, `.fileError`; `CancellationError`.
    @discardableResult
    public func download(
        _ file: FalFile, to destination: String,
        onEvent: @escaping @Sendable (FalEvent) -> Void = { _ in }
    ) async throws -> DownloadedVideo {
        let video = try await ResumableDownload(client: self).run(
            file.url, expectedSize: file.fileSize, to: destination,
            onRetry: { onEvent(.downloadRetrying($0)) })
        onEvent(.downloaded(path: destination, bytes: video.bytes))
        return video
    }

    /// `Content-Range: bytes first-last/total` (total may be `*`).
    struct ContentRange: Equatable {
        var first: Int64
        var last: Int64
        var total: Int64?

        init(first: Int64, last: Int64, total: Int64?) {
            self.first = first
            self.last = last
            self.total = total
        }

        /// Parses a satisfied range; nil when absent or malformed (or `bytes */total`).
        init?(_ header: String?) {
            guard let value = ContentRange.spec(header) else { return nil }
            let parts = value.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { return nil }
            let bounds = parts[0].split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
            guard bounds.count == 2, let first = Int64(bounds[0]), let last = Int64(bounds[1]), first >= 0, last >= first else {
                return nil
            }
            if parts[1] == "*" {
                total = nil
            } else {
                guard let total = Int64(parts[1]), total > last else { return nil }
                self.total = total
            }
            self.first = first
            self.last = last
        }

        /// The total of an unsatisfied range (`bytes */total`), as a 416 carries it.
        static func unsatisfiedTotal(_ header: String?) -> Int64? {
            guard let value = spec(header), value.hasPrefix("*/") else { return nil }
            return Int64(value.dropFirst(2)).flatMap { $0 >= 0 ? $0 : nil }
        }

        private static func spec(_ header: String?) -> String? {
            guard let header = header?.trimmingCharacters(in: .whitespaces), header.lowercased().hasPrefix("bytes ") else {
                return nil
            }
            return header.dropFirst("bytes ".count).trimmingCharacters(in: .whitespaces)
        }
    }

    /// "10 s", "1.5 s", "10 min".
    static func seconds(_ duration: Duration) -> String {
        let s = duration.seconds
        if s >= 120, s.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(s / 60)) min" }
        return s == s.rounded() ? "\(Int(s)) s" : String(format: "%.1f s", s)
    }

    /// The temporary file a download streams into, written at explicit offsets so that an
    /// attempt can append to what earlier attempts received, or start over.
    final class DownloadFile {
        let path: String
        private var fd: Int32

        init(path: String) throws {
            self.path = path
            fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw FalError(
                    .fileError, url: path, reason: "cannot create the download file: \(String(cString: strerror(errno)))")
            }
        }

        deinit { close() }

        /// Writes all of `buffer` at `offset`.
        func write(_ buffer: ByteBuffer, at offset: Int64) throws {
            try buffer.withUnsafeReadableBytes { raw in
                var done = 0
                while done < raw.count {
                    let n = pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(offset) + off_t(done))
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw FalError(
                            .fileError, url: path, reason: "cannot write the download: \(String(cString: strerror(errno)))")
                    }
                    done += n
                }
            }
        }

        /// Cuts the file to `length` bytes.
        func truncate(to length: Int64) throws {
            guard ftruncate(fd, off_t(length)) == 0 else {
                throw FalError(.fileError, url: path, reason: "cannot truncate the download: \(String(cString: strerror(errno)))")
            }
        }

        /// Flushes the file to disk and closes it.
        func finish() throws {
            guard fsync(fd) == 0 else {
                throw FalError(.fileError, url: path, reason: "cannot flush the download: \(String(cString: strerror(errno)))")
            }
            close()
        }

        /// Closes the file (once).
        func close() {
            if fd >= 0 {
                closeDescriptor(fd)
                fd = -1
            }
        }
    }
}

/// libc's `close`, out of reach of methods that are themselves called `close`.
private func closeDescriptor(_ fd: Int32) {
    _ = close(fd)
}
