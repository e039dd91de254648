// A submit that may have created a billed request although its answer never arrived.

/// A submit whose answer never arrived (a timeout, or a connection reset after the request
/// was sent): the provider may have accepted it, and may bill it. A backend's
/// ``ClipBackend/submit(_:)`` throws it so that the pipeline never sends it again on its own:
/// the segment is recorded as unknown, and only ``PipelineOptions/resubmitUnknown`` sends it
/// again (accepting the risk of paying twice).
public struct SubmitOutcomeUnknown: InfiniPipelineError, Equatable {
    /// What happened, in words (the provider's error, redacted).
    public var reason: String
    /// The request id, when the provider sent one before the answer was lost: the request
    /// exists, and can be polled instead of sent again.
    public var requestID: String?

    /// An unknown outcome.
    public init(reason: String, requestID: String? = nil) {
        self.reason = reason
        self.requestID = requestID
    }

    public var description: String { reason }
    public var kindName: String { "submitOutcomeUnknown" }
    /// ``ErrorFault/generation``: the provider's side did not answer.
    public var fault: ErrorFault { .generation }
}
