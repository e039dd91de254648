// The caption burner's own error: no font to draw with, or a style file that is not ASS.

/// Why captions cannot be burned into the picture: fontconfig finds no font to draw them with,
/// or a user's style file (`--caption-style`) cannot be read or is not an ASS file with a
/// `[V4+ Styles]` section. Both are found before anything is drawn (``StitchOptions/validate()``),
/// so a run stops before its first paid request.
///
/// An ``InfiniPipelineError``, compared through ``kind`` (an ``ErrorKind``). ``description`` is
/// one line, e.g. `style.ass: not an ASS style file: it has no [V4+ Styles] section`.
public struct CaptionBurnError: InfiniPipelineError, Equatable {
    /// The kind of a ``CaptionBurnError``: compare with `==` or match with `~=`. New kinds may
    /// be added; switch with a `default`.
    public typealias Kind = ErrorKind<CaptionBurnError>

    /// The kind of failure.
    public let kind: Kind
    /// The style file at fault, for ``Kind/invalidStyle``.
    public let file: String?
    /// One line naming the file or the missing font, and the reason.
    public let description: String

    public var kindName: String { kind.name }
    /// The ``StitchOptions`` property to change: `burnedCaptions`.
    public var option: String? { "burnedCaptions" }
    /// ``ErrorFault/input`` for a style file; ``ErrorFault/option`` when no font is found (burning
    /// cannot be done on this machine until one is installed; nothing else is at fault).
    public var fault: ErrorFault { file == nil ? .option : .input }

    private init(_ kind: Kind, file: String?, _ description: String) {
        self.kind = kind
        self.file = file
        self.description = description
    }

    /// Fontconfig finds no usable font; `reason` is its own words.
    static func noFont(_ reason: String) -> CaptionBurnError {
        CaptionBurnError(
            .noFont, file: nil,
            "burnedCaptions: no font to draw the captions with (\(reason)); install one, e.g. the Debian package fonts-dejavu-core"
        )
    }

    /// A style file that cannot be read or is not ASS.
    static func invalidStyle(file: String, _ reason: String) -> CaptionBurnError {
        CaptionBurnError(.invalidStyle, file: file, "\(file): \(reason)")
    }
}

extension ErrorKind where Owner == CaptionBurnError {
    /// Fontconfig finds no font to draw the captions with.
    public static var noFont: Self { Self("noFont") }
    /// The caption style file cannot be read, or is not an ASS file with a `[V4+ Styles]` section.
    public static var invalidStyle: Self { Self("invalidStyle") }
}
