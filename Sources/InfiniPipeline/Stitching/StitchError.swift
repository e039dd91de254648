// The stitcher's own error: options and arguments it refuses before reading any file.

/// Stitch options or arguments the ``Stitcher`` refuses before it reads anything.
///
/// An ``InfiniPipelineError``, compared through ``kind`` (an ``ErrorKind``), so new kinds can be
/// added without breaking callers. An unusable clip is a
/// ``ClipError``; a problem with the audio or the output file is a `MediaError`.
///
/// ``description`` is one line; for an option it starts with the option's name in
/// ``StitchOptions``, for example `"crf 60 is outside 0…51"`.
public struct StitchError: InfiniPipelineError {
    /// The kind of a ``StitchError``: compare with `==` or match with `~=`
    /// (`case StitchError.Kind.invalidOption = error`). New kinds may be added; switch with a `default`.
    public typealias Kind = ErrorKind<StitchError>

    /// The kind of failure.
    public let kind: Kind
    /// The ``StitchOptions`` property at fault (`"crf"`, `"crossfadeFrames"`, …), for
    /// ``Kind/invalidOption``.
    public let option: String?
    /// The reason, in words; for an option it follows the option's name in ``description``.
    public let reason: String

    public var kindName: String { kind.name }
    /// ``ErrorFault/option`` for an option's value, ``ErrorFault/input`` for the clips given.
    public var fault: ErrorFault { option == nil ? .input : .option }

    private init(_ kind: Kind, option: String?, reason: String) {
        self.kind = kind
        self.option = option
        self.reason = reason
    }

    /// An option value out of range: `option` is the property name, `reason` says what is
    /// wrong with its value (`"60 is outside 0…51"`).
    static func invalidOption(_ option: String, _ reason: String) -> StitchError {
        StitchError(.invalidOption, option: option, reason: reason)
    }

    /// The clips do not match the plan's segments one to one.
    static func clipCountMismatch(segments: Int, clips: Int) -> StitchError {
        StitchError(
            .clipCountMismatch, option: nil,
            reason: "the plan has \(segments) segments but \(clips) clips were given")
    }

    /// One line: `"crf 60 is outside 0…51"`, or the reason alone when no option is at fault.
    public var description: String {
        if let option { return "\(option) \(reason)" }
        return reason
    }
}

extension ErrorKind where Owner == StitchError {
    /// A ``StitchOptions`` value out of range; ``StitchError/option`` names it.
    public static var invalidOption: Self { Self("invalidOption") }
    /// The number of clips is not the plan's number of segments.
    public static var clipCountMismatch: Self { Self("clipCountMismatch") }
}
