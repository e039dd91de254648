// The vision layer's error: what OpenCV (behind CVision) could not do.

/// Why a vision step failed: the face cascade is missing or unreadable, or OpenCV refused.
///
/// An ``InfiniPipelineError``, compared through ``kind`` (an ``ErrorKind``). ``description`` is one line naming the file or value and the reason.
public struct VisionError: InfiniPipelineError, Equatable {
    /// The kind of a ``VisionError``: compare with `==` or match with `~=`
    /// (`case VisionError.Kind.cascadeNotFound = error`). New kinds may be added; switch with a `default`.
    public typealias Kind = ErrorKind<VisionError>

    /// The kind of failure.
    public let kind: Kind
    /// One line naming the file or value and the reason.
    public let description: String

    public var kindName: String { kind.name }
    /// Always ``ErrorFault/system``: OpenCV or its data files failed, not the input.
    public var fault: ErrorFault { .system }

    private init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }

    static func cascadeNotFound(_ paths: [String]) -> VisionError {
        VisionError(
            .cascadeNotFound,
            "no face cascade found (looked at \(paths.joined(separator: ", "))): install opencv-data")
    }

    static func failed(_ reason: String) -> VisionError {
        VisionError(.failed, reason)
    }
}

extension ErrorKind where Owner == VisionError {
    /// No face cascade file at the given path or any of the default ones.
    public static var cascadeNotFound: Self { Self("cascadeNotFound") }
    /// OpenCV failed (an unreadable cascade, an internal error); the description says why.
    public static var failed: Self { Self("failed") }
}
