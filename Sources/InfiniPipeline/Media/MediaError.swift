import CFFmpeg

/// The one error type of the media layer: what went wrong, with which file, and FFmpeg's own
/// message when FFmpeg reported it.
///
/// `description` is one line a user can act on, for example
/// `"talk.mp3: no audio stream (the file has 1 video stream)"`.
public struct MediaError: InfiniPipelineError, Equatable {
    /// The kind of a ``MediaError``: compare with `==` or match with `~=`
    /// (`catch MediaError.Kind.invalidData`).
    public typealias Kind = ErrorKind<MediaError>
    /// The old name of ``Kind``.
    @available(*, deprecated, renamed: "Kind")
    public typealias Code = Kind

    /// The kind of failure.
    public let kind: Kind
    /// The file (path or URL) the error concerns, when there is one.
    public let file: String?
    /// The reason, in words (``description`` without the file).
    public let reason: String
    /// FFmpeg's error number (negative AVERROR), when FFmpeg reported the failure.
    public let averror: Int32?

    /// Creates an error. `file` is shown first in `description`.
    public init(_ kind: Kind, file: String?, _ reason: String, averror: Int32? = nil) {
        self.kind = kind
        self.file = file
        self.reason = reason
        self.averror = averror
    }

    /// The old name of ``kind``.
    @available(*, deprecated, renamed: "kind")
    public var code: Kind { kind }

    /// One line: `"<file>: <reason>"`, or the reason alone when no file is known.
    public var description: String {
        if let file { return "\(file): \(reason)" }
        return reason
    }

    public var kindName: String { kind.name }

    /// ``ErrorFault/input`` when the file given is what cannot be used (missing, unreadable,
    /// corrupt, cut off, unsupported, too large or too small); ``ErrorFault/system`` for a
    /// failure while writing, of memory, or of our own.
    public var fault: ErrorFault {
        switch kind {
        case .cannotOpen, .empty, .invalidData, .noStream, .unsupported, .tooLarge, .tooSmall: return .input
        default: return .system
        }
    }

    /// An error for a failed FFmpeg call: `what` says what we tried, FFmpeg's message says why.
    static func ffmpeg(_ kind: Kind, file: String?, _ what: String, _ averror: Int32) -> MediaError {
        MediaError(kind, file: file, "\(what): \(FFmpeg.errorString(averror))", averror: averror)
    }
}

extension ErrorKind where Owner == MediaError {
    /// The file does not exist or cannot be read.
    public static var cannotOpen: Self { Self("cannotOpen") }
    /// The file is empty, or holds no samples or frames.
    public static var empty: Self { Self("empty") }
    /// The bytes are not a format we read, or they are corrupt or truncated.
    public static var invalidData: Self { Self("invalidData") }
    /// The container has no stream of the kind asked for.
    public static var noStream: Self { Self("noStream") }
    /// Readable, but something we do not support.
    public static var unsupported: Self { Self("unsupported") }
    /// Over a size limit.
    public static var tooLarge: Self { Self("tooLarge") }
    /// Under a size limit.
    public static var tooSmall: Self { Self("tooSmall") }
    /// A codec failed while decoding.
    public static var decodeFailed: Self { Self("decodeFailed") }
    /// A codec failed while encoding.
    public static var encodeFailed: Self { Self("encodeFailed") }
    /// Writing the output failed.
    public static var writeFailed: Self { Self("writeFailed") }
    /// A caller used the API wrongly (a bug in the caller, reported instead of crashing).
    public static var misuse: Self { Self("misuse") }
    /// An allocation failed: the machine is out of memory.
    public static var outOfMemory: Self { Self("outOfMemory") }
}
