// The stitcher's own error: options and arguments it refuses before reading any file.

/// Stitch options or arguments the ``Stitcher`` refuses before it reads anything.
///
/// Extensible like the package's other errors: a struct over a private code, compared through
/// ``kind``, so new kinds can be added without breaking callers. An unusable clip is a
/// ``ClipError``; a problem with the audio or the output file is a `MediaError`.
///
/// ``description`` is one line; for an option it starts with the option's name in
/// ``StitchOptions``, for example `"crf 60 is outside 0…51"`.
public struct StitchError: Error, Sendable, CustomStringConvertible {
    fileprivate enum Code: String, Sendable {
        case invalidOption, clipCountMismatch
    }

    /// The kind of a ``StitchError``: compare with `==` or match with `~=`.
    /// New kinds may be added; switch with a `default`.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        fileprivate let code: Code
        fileprivate init(_ code: Code) { self.code = code }
        /// The kind's name, e.g. `"invalidOption"`.
        public var description: String { code.rawValue }

        /// Matches an error against a kind: `case StitchError.Kind.invalidOption = error`.
        public static func ~= (kind: Kind, error: any Error) -> Bool {
            (error as? StitchError)?.kind == kind
        }

        /// A ``StitchOptions`` value out of range; ``StitchError/option`` names it.
        public static let invalidOption = Kind(.invalidOption)
        /// The number of clips is not the plan's number of segments.
        public static let clipCountMismatch = Kind(.clipCountMismatch)
    }

    private let code: Code
    /// The kind of failure.
    public var kind: Kind { Kind(code) }
    /// The ``StitchOptions`` property at fault (`"crf"`, `"crossfadeFrames"`, …), for
    /// ``Kind/invalidOption``.
    public let option: String?
    /// The reason, in words; for an option it follows the option's name in ``description``.
    public let reason: String

    private init(_ kind: Kind, option: String?, reason: String) {
        self.code = kind.code
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
