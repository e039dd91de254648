import CFFmpeg
import CMediaShims
import Foundation
import NIOConcurrencyHelpers

/// Small helpers around FFmpeg's C API that the rest of the media layer shares.
enum FFmpeg {
    static let eof = CFFmpeg_AVERROR_EOF
    static let noPTS = CFFmpeg_AV_NOPTS_VALUE
    static var eagain: Int32 { CFFmpeg_AVERROR_EAGAIN() }

    /// FFmpeg's message for an AVERROR code (what av_err2str gives in C).
    static func errorString(_ code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        if av_strerror(code, &buffer, buffer.count) < 0 {
            return "error \(code)"
        }
        return cString(buffer)
    }

    /// A String from a NUL-terminated C character array.
    static func cString(_ chars: [CChar]) -> String {
        String(decoding: chars.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Whether a decoded frame's YUV values are full range ("JPEG" range): as it says, or as
    /// its pixel format (FFmpeg's `yuvj` formats) does.
    static func isFullRange(_ frame: UnsafePointer<AVFrame>) -> Bool {
        let f = frame.pointee
        let yuvj = [AV_PIX_FMT_YUVJ420P, AV_PIX_FMT_YUVJ422P, AV_PIX_FMT_YUVJ444P, AV_PIX_FMT_YUVJ440P, AV_PIX_FMT_YUVJ411P]
        return f.color_range == AVCOL_RANGE_JPEG || yuvj.contains { $0.rawValue == f.format }
    }

    /// The codec's short name, e.g. "h264" or "mp3".
    static func codecName(_ id: AVCodecID) -> String {
        String(cString: avcodec_get_name(id))
    }

    /// The one out-of-memory policy of the media layer: an FFmpeg allocation that returned
    /// NULL becomes a `MediaError` `.outOfMemory` naming what was being allocated (and the file
    /// it was for, when there is one). Nothing traps. Every allocation goes through here.
    /// - Throws: `MediaError` `.outOfMemory` when `pointer` is nil.
    static func allocated<T>(_ pointer: T?, _ what: String, file: String? = nil) throws -> T {
        guard let pointer else { throw MediaError(.outOfMemory, file: file, "out of memory allocating \(what)") }
        return pointer
    }
}

/// A rational number as FFmpeg uses for time bases and frame rates (public with
/// ``StreamInfo``, which reports them).
package struct Rational: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Numerator.
    package var num: Int32
    /// Denominator.
    package var den: Int32
    /// Creates `num/den`.
    package init(_ num: Int32, _ den: Int32) {
        self.num = num
        self.den = den
    }
    init(_ r: AVRational) { self.init(r.num, r.den) }
    var av: AVRational { AVRational(num: num, den: den) }
    /// The value as a Double; 0 when the denominator is 0.
    package var value: Double { den == 0 ? 0 : Double(num) / Double(den) }
    /// `"num/den"`, e.g. `"25/1"`.
    package var description: String { "\(num)/\(den)" }
}

/// Where FFmpeg's own log lines go. By default FFmpeg is silent: errors reach callers as
/// `MediaError`s. A command-line tool may install a handler to show them.
package enum MediaLog {
    /// FFmpeg log levels (AV_LOG_*).
    package enum Level: Int32, Sendable {
        case quiet = -8, panic = 0, fatal = 8, error = 16, warning = 24, info = 32, verbose = 40, debug = 48
    }

    /// Sends FFmpeg's messages at or above `level` to `handler`, which may be called from any
    /// thread. Passing `nil` silences FFmpeg.
    package static func route(level: Level, to handler: (@Sendable (Level, String) -> Void)?) {
        installedHandler.withLockedValue { $0 = handler }
        if handler == nil {
            CMediaShims_ffmpeg_log_install(Level.quiet.rawValue, nil)
        } else {
            CMediaShims_ffmpeg_log_install(level.rawValue) { level, line in
                let text = String(cString: line).trimmingCharacters(in: .newlines)
                if text.isEmpty { return }
                MediaLog.installedHandler.withLockedValue { $0 }?(MediaLog.Level(rawValue: level) ?? .info, text)
            }
        }
    }

    /// Silences FFmpeg unless a handler was installed. Called once by every entry point.
    static let silenceByDefault: Void = {
        if installedHandler.withLockedValue({ $0 }) == nil {
            CMediaShims_ffmpeg_log_install(Level.quiet.rawValue, nil)
        }
    }()

    /// The handler: the C callback reads it from codec worker threads.
    private static let installedHandler = NIOLockedValueBox<(@Sendable (Level, String) -> Void)?>(nil)
}
