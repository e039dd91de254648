// InfiniPipeline: why a transcript could not be read, or does not fit the audio.

/// Why a transcript (SRT, WebVTT, Whisper-style or fal JSON) could not be used: the file cannot
/// be read, a line of it is malformed, it holds no cues, or its times run past the audio.
///
/// An ``InfiniPipelineError``, compared through ``kind`` (an ``ErrorKind``), so new kinds can be
/// added without breaking callers. ``description`` is one line naming the file and line and the
/// reason, for example `talk.srt:12: "00:00:0x,000" is not a time (hh:mm:ss,mmm or mm:ss.mmm)`.
/// Always ``ErrorFault/input``: the transcript is what must change.
public struct TranscriptError: InfiniPipelineError, Equatable {
    /// The kind of a ``TranscriptError``: compare with `==` or match with `~=`
    /// (`case TranscriptError.Kind.malformed = error`). New kinds may be added; switch with a `default`.
    public typealias Kind = ErrorKind<TranscriptError>

    /// The kind of failure.
    public let kind: Kind
    /// The transcript's path or name.
    public let file: String?
    /// The line (from 1) the error is about, when there is one.
    public let line: Int?
    /// One line naming the file (and line) and the reason.
    public let description: String

    public var kindName: String { kind.name }
    /// Always ``ErrorFault/input``.
    public var fault: ErrorFault { .input }

    private init(_ kind: Kind, file: String, line: Int?, _ reason: String) {
        self.kind = kind
        self.file = file
        self.line = line
        self.description = line.map { "\(file):\($0): \(reason)" } ?? "\(file): \(reason)"
    }

    /// A file that cannot be read, or is not text.
    static func unreadable(file: String, _ reason: String) -> TranscriptError {
        TranscriptError(.unreadable, file: file, line: nil, reason)
    }

    /// A line that is not what the format allows there.
    static func malformed(file: String, line: Int, _ reason: String) -> TranscriptError {
        TranscriptError(.malformed, file: file, line: line, reason)
    }

    /// A file without a single timed cue, segment or chunk.
    static func empty(file: String, _ what: String) -> TranscriptError {
        TranscriptError(.empty, file: file, line: nil, "holds no \(what): a transcript needs at least one timed line")
    }

    /// A time past the end of the audio.
    static func beyondAudio(file: String, line: Int?, time: Double, audioSeconds: Double) -> TranscriptError {
        TranscriptError(
            .beyondAudio, file: file, line: line,
            "time \(Timecode.srt(time)) is past the end of the audio (\(Timecode.srt(audioSeconds))): is this the transcript of another recording?"
        )
    }
}

extension ErrorKind where Owner == TranscriptError {
    /// The file cannot be read, or is not UTF-8 text.
    public static var unreadable: Self { Self("unreadable") }
    /// A line (a cue time, a JSON value) that the format does not allow there.
    public static var malformed: Self { Self("malformed") }
    /// No timed cue, segment or chunk at all.
    public static var empty: Self { Self("empty") }
    /// A time past the end of the audio the transcript is for.
    public static var beyondAudio: Self { Self("beyondAudio") }
}
