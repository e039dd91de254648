// A generation that ended without a usable clip.

/// A generation that ended without a usable clip (the model failed, the result was an error,
/// the clip was broken). The pipeline may resubmit it.
public struct GenerationFailure: InfiniPipelineError, Equatable {
    /// What went wrong, one line (the same as ``description``).
    public var reason: String
    /// Creates a failure.
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
    public var kindName: String { "generationFailed" }
    /// Always ``ErrorFault/generation``.
    public var fault: ErrorFault { .generation }
}
