import CFFmpeg

/// The one error type of the media layer: what went wrong, with which file, and FFmpeg's own
/// message when FFmpeg reported it.
///
/// `description` is one line a user can act on, for example
/// `"talk.mp3: no audio stream (the file has 1 video stream)"`.
public struct MediaError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of failure this is. New codes may be added; switch with a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// The code's name, e.g. `"invalidData"`.
        public var description: String { name }

        /// Matches an error against a code: `catch MediaError.Code.invalidData`.
        public static func ~= (code: Code, error: any Error) -> Bool {
            (error as? MediaError)?.code == code
        }

        /// The file does not exist or cannot be read.
        public static let cannotOpen = Code("cannotOpen")
        /// The file is empty, or holds no samples or frames.
        public static let empty = Code("empty")
        /// The bytes are not a format we read, or they are corrupt or truncated.
        public static let invalidData = Code("invalidData")
        /// The container has no stream of the kind asked for.
        public static let noStream = Code("noStream")
        /// Readable, but something we do not support.
        public static let unsupported = Code("unsupported")
        /// Over a size limit.
        public static let tooLarge = Code("tooLarge")
        /// Under a size limit.
        public static let tooSmall = Code("tooSmall")
        /// A codec failed while decoding.
        public static let decodeFailed = Code("decodeFailed")
        /// A codec failed while encoding.
        public static let encodeFailed = Code("encodeFailed")
        /// Writing the output failed.
        public static let writeFailed = Code("writeFailed")
        /// A caller used the API wrongly (a bug in the caller, reported instead of crashing).
        public static let misuse = Code("misuse")
        /// An allocation failed: the machine is out of memory.
        public static let outOfMemory = Code("outOfMemory")
    }

    /// The kind of failure.
    public let code: Code
    /// The file (path or URL) the error concerns, when there is one.
    public let file: String?
    /// The reason, in words.
    public let reason: String
    /// FFmpeg's error number (negative AVERROR), when FFmpeg reported the failure.
    public let averror: Int32?

    /// Creates an error. `file` is shown first in `description`.
    public init(_ code: Code, file: String?, _ reason: String, averror: Int32? = nil) {
        self.code = code
        self.file = file
        self.reason = reason
        self.averror = averror
    }

    /// One line: `"<file>: <reason>"`, or the reason alone when no file is known.
    public var description: String {
        if let file { return "\(file): \(reason)" }
        return reason
    }

    /// Whether the file given is what cannot be used (missing, unreadable, corrupt, cut off,
    /// unsupported, too large or too small), rather than a failure while writing or of our own.
    public var isInputProblem: Bool {
        switch code {
        case .cannotOpen, .empty, .invalidData, .noStream, .unsupported, .tooLarge, .tooSmall: return true
        default: return false
        }
    }

    /// An error for a failed FFmpeg call: `what` says what we tried, FFmpeg's message says why.
    static func ffmpeg(_ code: Code, file: String?, _ what: String, _ averror: Int32) -> MediaError {
        MediaError(code, file: file, "\(what): \(FFmpeg.errorString(averror))", averror: averror)
    }
}
