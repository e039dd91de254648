// A clip that cannot be used for its segment.

/// A clip that cannot be used for its segment: the pipeline re-requests it.
public struct ClipError: InfiniPipelineError, Equatable {
    /// The plan segment the clip was generated for.
    public var segment: Int
    /// The clip file.
    public var clip: String
    /// Why it cannot be used.
    public var reason: String

    /// Creates an error.
    public init(segment: Int, clip: String, reason: String) {
        self.segment = segment
        self.clip = clip
        self.reason = reason
    }

    /// One line: `"clip for segment 3 (seg3.mp4): has 40 frames, needs 45"`.
    public var description: String { "clip for segment \(segment) (\(clip)): \(reason)" }

    public var kindName: String { "unusableClip" }
    /// ``ErrorFault/input``: the clip given for the segment is what must change (the pipeline
    /// makes it again).
    public var fault: ErrorFault { .input }
    /// ``clip``.
    public var file: String? { clip }
}
