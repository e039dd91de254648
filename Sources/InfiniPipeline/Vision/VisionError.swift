// The vision layer's error: what OpenCV (behind CVision) could not do.

/// Why a vision step failed: the face cascade is missing or unreadable, or OpenCV refused.
///
/// Extensible like the package's other errors: a struct over a private code, compared through
/// ``kind``. ``description`` is one line naming the file or value and the reason.
public struct VisionError: Error, Sendable, Equatable, CustomStringConvertible {
    fileprivate enum Code: String, Sendable {
        case cascadeNotFound, failed
    }

    /// The kind of a ``VisionError``: compare with `==` or match with `~=`.
    /// New kinds may be added; switch with a `default`.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        fileprivate let code: Code
        fileprivate init(_ code: Code) { self.code = code }
        /// The kind's name, e.g. `"cascadeNotFound"`.
        public var description: String { code.rawValue }

        /// Matches an error against a kind: `case VisionError.Kind.cascadeNotFound = error`.
        public static func ~= (kind: Kind, error: any Error) -> Bool {
            (error as? VisionError)?.kind == kind
        }

        /// No face cascade file at the given path or any of the default ones.
        public static let cascadeNotFound = Kind(.cascadeNotFound)
        /// OpenCV failed (an unreadable cascade, an internal error); the description says why.
        public static let failed = Kind(.failed)
    }

    private let code: Code
    /// The kind of failure.
    public var kind: Kind { Kind(code) }
    /// One line naming the file or value and the reason.
    public let description: String

    private init(_ code: Code, _ description: String) {
        self.code = code
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
