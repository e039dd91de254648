import CFFmpeg
import CMediaShims
import Foundation

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

    /// The codec's short name, e.g. "h264" or "mp3".
    static func codecName(_ id: AVCodecID) -> String {
        String(cString: avcodec_get_name(id))
    }
}

/// A rational number as FFmpeg uses for time bases and frame rates.
public struct Rational: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Numerator.
    public var num: Int32
    /// Denominator.
    public var den: Int32
    /// Creates `num/den`.
    public init(_ num: Int32, _ den: Int32) {
        self.num = num
        self.den = den
    }
    init(_ r: AVRational) { self.init(r.num, r.den) }
    var av: AVRational { AVRational(num: num, den: den) }
    /// The value as a Double; 0 when the denominator is 0.
    public var value: Double { den == 0 ? 0 : Double(num) / Double(den) }
    public var description: String { "\(num)/\(den)" }
}

/// Where FFmpeg's own log lines go. By default FFmpeg is silent: errors reach callers as
/// `MediaError`s. A command-line tool may install a handler for `--verbose`.
public enum MediaLog {
    /// FFmpeg log levels (AV_LOG_*).
    public enum Level: Int32, Sendable {
        case quiet = -8, panic = 0, fatal = 8, error = 16, warning = 24, info = 32, verbose = 40, debug = 48
    }

    /// Sends FFmpeg's messages at or above `level` to `handler`, which may be called from any
    /// thread. Passing `nil` silences FFmpeg.
    public static func route(level: Level, to handler: (@Sendable (Level, String) -> Void)?) {
        handlerBox.set(handler)
        if handler == nil {
            CMediaShims_ffmpeg_log_install(Level.quiet.rawValue, nil)
        } else {
            CMediaShims_ffmpeg_log_install(level.rawValue) { level, line in
                let text = String(cString: line).trimmingCharacters(in: .newlines)
                if text.isEmpty { return }
                MediaLog.handlerBox.get()?(MediaLog.Level(rawValue: level) ?? .info, text)
            }
        }
    }

    /// Silences FFmpeg unless a handler was installed. Called once by every entry point.
    static let silenceByDefault: Void = {
        if handlerBox.get() == nil {
            CMediaShims_ffmpeg_log_install(Level.quiet.rawValue, nil)
        }
    }()

    fileprivate static let handlerBox = HandlerBox()

    /// The handler, behind a lock: the C callback reads it from codec worker threads.
    fileprivate final class HandlerBox: @unchecked Sendable {
        private let lock = NSLock()
        private var handler: (@Sendable (Level, String) -> Void)?
        func set(_ h: (@Sendable (Level, String) -> Void)?) { lock.lock(); handler = h; lock.unlock() }
        func get() -> (@Sendable (Level, String) -> Void)? { lock.lock(); defer { lock.unlock() }; return handler }
    }
}

/// Runs blocking media work on a thread outside Swift's cooperative pool, so that long decode
/// and encode loops never starve other tasks.
///
/// Cancelling the calling task is seen by the work: loops that call
/// ``BlockingWork/checkCancellation()`` (decoding, hashing, stitching) stop with a
/// `CancellationError` at their next step.
public func runBlocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    let flag = BlockingWork.Flag()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            Thread.detachNewThread {
                Thread.current.threadDictionary[BlockingWork.key] = flag
                continuation.resume(with: Result { try body() })
            }
        }
    } onCancel: {
        flag.set()
    }
}

/// Cancellation for blocking work that runs on its own thread (see ``runBlocking(_:)``).
public enum BlockingWork {
    static let key = "InfiniPipeline.BlockingWork.cancelled"

    /// Set once, from any thread.
    final class Flag: NSObject, @unchecked Sendable {
        private let lock = NSLock()
        private var isSet = false
        func set() { lock.lock(); isSet = true; lock.unlock() }
        var value: Bool { lock.lock(); defer { lock.unlock() }; return isSet }
    }

    /// Throws `CancellationError` when the task that started this thread's work was cancelled.
    /// Outside ``runBlocking(_:)`` it checks the current task, if any.
    public static func checkCancellation() throws {
        if let flag = Thread.current.threadDictionary[key] as? Flag {
            if flag.value { throw CancellationError() }
        } else {
            try Task.checkCancellation()
        }
    }
}
