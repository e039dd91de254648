// The live stream's own error: a directory it cannot use, or a stretch it cannot publish.

/// Why a live stream (``PipelineOptions/live``) cannot be written.
///
/// An ``InfiniPipelineError``, compared through ``kind``. ``description`` is one line naming
/// the directory or file and the reason.
public struct LiveStreamError: InfiniPipelineError {
    /// The kind of a ``LiveStreamError``; new kinds may be added, switch with a `default`.
    public typealias Kind = ErrorKind<LiveStreamError>

    /// The kind of failure.
    public let kind: Kind
    /// The directory or file at fault.
    public let file: String?
    /// What is wrong, in words.
    public let reason: String

    public var kindName: String { kind.name }
    /// ``ErrorFault/output`` for a directory that cannot be used, ``ErrorFault/input`` for a
    /// clip that cannot be published.
    public var fault: ErrorFault { kind == .cannotPublish ? .input : .output }

    init(_ kind: Kind, file: String?, _ reason: String) {
        self.kind = kind
        self.file = file
        self.reason = reason
    }

    /// One line: `"/tmp/live: is a file, not a directory"`.
    public var description: String { file.map { "\($0): \(reason)" } ?? reason }
}

extension ErrorKind where Owner == LiveStreamError {
    /// The live directory cannot be made or written, or holds something else.
    public static var invalidDirectory: Self { Self("invalidDirectory") }
    /// The live directory holds the playlist of another job.
    public static var otherJob: Self { Self("otherJob") }
    /// A stretch cannot be published (a clip that cannot be joined into the stream).
    public static var cannotPublish: Self { Self("cannotPublish") }
}
