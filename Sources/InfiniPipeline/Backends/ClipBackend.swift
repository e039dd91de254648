import Foundation

/// One clip to generate: the model input plus the segment it is for.
public struct ClipRequest: Codable, Sendable, Equatable {
    /// The segment being generated.
    public var segment: Plan.Segment
    /// Segments in the plan (for captions and logs).
    public var segmentCount: Int
    /// The model input: image and audio URLs (uploaded, `data:` URIs, or local paths for the
    /// preview backend), prompt, `num_frames`, resolution, seed, acceleration.
    public var input: InfiniTalkRequest
    /// The speaker on screen in a multi-speaker run (the segment's ``Plan/Segment/speaker``);
    /// `nil` for one speaker. The preview backend writes it into each frame; the JSON key is
    /// left out when `nil`.
    public var speaker: String?

    /// A request for `segment` of a plan of `segmentCount` segments.
    /// - Parameters:
    ///   - segment: The segment being generated.
    ///   - segmentCount: Segments in the plan.
    ///   - input: The model input.
    ///   - speaker: The speaker on screen, in a multi-speaker run.
    public init(segment: Plan.Segment, segmentCount: Int, input: InfiniTalkRequest, speaker: String? = nil) {
        self.segment = segment
        self.segmentCount = segmentCount
        self.input = input
        self.speaker = speaker
    }
}

/// A request accepted by a backend's queue: enough to poll it, fetch it or cancel it later,
/// also from another process after a crash.
public struct SubmittedRequest: Codable, Sendable, Equatable {
    /// The queue's request id.
    public var requestId: String
    /// Status URL the queue returned, when it did.
    public var statusURL: String?
    /// Result URL the queue returned, when it did.
    public var responseURL: String?
    /// Cancel URL the queue returned, when it did.
    public var cancelURL: String?

    /// Creates a record.
    public init(requestId: String, statusURL: String? = nil, responseURL: String? = nil, cancelURL: String? = nil) {
        self.requestId = requestId
        self.statusURL = statusURL
        self.responseURL = responseURL
        self.cancelURL = cancelURL
    }
}

/// Progress a backend reports while a request waits or runs.
@nonexhaustive
public enum BackendProgress: Sendable, Equatable {
    /// Waiting in the queue at this position (0 = next).
    case queued(position: Int?)
    /// Being generated.
    case running
    /// A log line from the model.
    case log(String)
    /// The provider's own name for the request's state (WaveSpeed: `created` while it waits,
    /// `processing` while it runs) and, on a provider that gives no queue position, the seconds
    /// since the request was first waited for.
    case providerState(name: String, waiting: Bool, elapsedSeconds: Double?)
}

/// Where clips come from: the hosted model (`fal`) or the local preview renderer.
///
/// The pipeline drives every backend through the same steps so that the manifest can record
/// each one: stage the image once, stage each segment's audio, submit, wait, download. A
/// backend must be safe to call from concurrent tasks.
public protocol ClipBackend: Sendable {
    /// Names the backend in cache keys and the manifest ("fal-ai/infinitalk", "preview").
    var identity: String { get }
    /// Makes the fitted PNG available to requests; called once per run.
    func stageImage(png: [UInt8], fileName: String) async throws -> String
    /// Makes a segment's audio file available to requests.
    func stageAudio(file: URL) async throws -> String
    /// Submits a request. Every accepted submit may be billed: the pipeline records the result
    /// before doing anything else.
    /// - Throws: ``SubmitOutcomeUnknown`` when the request may have been accepted although no
    ///   answer arrived (the pipeline never sends it again on its own).
    func submit(_ request: ClipRequest) async throws -> SubmittedRequest
    /// Waits until the request completes; returns the URL of the clip.
    /// - Throws: ``GenerationFailure`` when the generation failed; `CancellationError`.
    func waitForResult(
        _ submitted: SubmittedRequest, request: ClipRequest,
        progress: @escaping @Sendable (BackendProgress) -> Void
    ) async throws -> String
    /// Downloads the clip at `url` to `destination`.
    func download(_ url: String, to destination: URL) async throws
    /// Downloads the clip at `url` to `destination`, passing each retry of an interrupted
    /// download to `onRetry`. By default, ``download(_:to:)`` (which reports none).
    func download(
        _ url: String, to destination: URL,
        onRetry: @escaping @Sendable (DownloadRetry) -> Void) async throws
    /// Cancels a queued request (best effort; never throws).
    func cancel(_ submitted: SubmittedRequest) async
    /// Releases the backend's resources (connections) after the run.
    func close() async
}

extension ClipBackend {
    public func close() async {}

    public func download(
        _ url: String, to destination: URL,
        onRetry: @escaping @Sendable (DownloadRetry) -> Void
    ) async throws {
        try await download(url, to: destination)
    }
}
