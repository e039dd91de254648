import Foundation

/// The hosted model on WaveSpeed (`wavespeed-ai/infinitetalk`) as a pipeline backend, over a
/// ``WaveSpeedClient``.
///
/// The portrait and each segment's audio are uploaded (ticket, then `PUT`), every task is
/// submitted once and its id recorded before the wait; the clip is as long as the audio sent.
/// A task that failed with a transient upstream error, or a result that is not a usable video,
/// is a ``GenerationFailure`` (the pipeline may submit it again under its attempt limit); a
/// submit that may have been accepted is a ``SubmitOutcomeUnknown``; every other
/// ``WaveSpeedError`` (a final failure with WaveSpeed's message) stops the run.
public final class WaveSpeedBackend: ClipBackend {
    /// The client the backend sends its requests through.
    public let client: WaveSpeedClient
    /// Whether ``close()`` shuts the client down.
    private let ownsClient: Bool

    /// Creates a backend over a client.
    /// - Parameters:
    ///   - client: the client to send requests through.
    ///   - ownsClient: true to have ``close()`` shut the client down after the run.
    public init(client: WaveSpeedClient, ownsClient: Bool = false) {
        self.client = client
        self.ownsClient = ownsClient
    }

    /// The model id, e.g. `wavespeed-ai/infinitetalk`.
    public var identity: String { client.configuration.modelID }

    /// Uploads the fitted portrait (PNG).
    public func stageImage(png: [UInt8], fileName: String) async throws -> String {
        try await Self.mapped { try await client.upload(data: png, fileName: fileName, contentType: "image/png") }
    }

    /// Uploads a segment's audio (WAV): its length is the clip's.
    public func stageAudio(file: URL) async throws -> String {
        try await Self.mapped { try await client.upload(file: file.path, contentType: "audio/wav") }
    }

    /// Submits a task (never sent again once it may have been accepted).
    public func submit(_ request: ClipRequest) async throws -> SubmittedRequest {
        let input = request.input
        let task = WaveSpeedInput(
            image: input.imageURL, audio: input.audioURL, prompt: input.prompt,
            resolution: WaveSpeedResolution(rawValue: input.resolution.rawValue) ?? .p480, seed: input.seed)
        let prediction = try await Self.mapped { try await client.submit(task) }
        return SubmittedRequest(requestId: prediction.id)
    }

    /// Polls the task to its end, reporting its state by WaveSpeed's name for it (`created` as
    /// waiting, `processing` as running) with the time spent so far (WaveSpeed gives no queue
    /// position).
    public func waitForResult(
        _ submitted: SubmittedRequest, request: ClipRequest,
        progress: @escaping @Sendable (BackendProgress) -> Void
    ) async throws -> String {
        let prediction = try await Self.mapped {
            try await client.waitForResult(id: submitted.requestId) { event in
                guard case .progress(_, let status, let elapsed) = event else { return }
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                progress(.providerState(name: status.rawValue, waiting: status == .created, elapsedSeconds: seconds))
            }
        }
        guard let url = prediction.videoURL else {
            throw GenerationFailure("WaveSpeed completed task \(submitted.requestId) without a video")
        }
        return url
    }

    /// Downloads the clip (see ``download(_:to:onRetry:)``).
    public func download(_ url: String, to destination: URL) async throws {
        try await download(url, to: destination, onRetry: { _ in })
    }

    /// Downloads the clip, retrying and resuming with `Range` for the client's download budget.
    public func download(
        _ url: String, to destination: URL,
        onRetry: @escaping @Sendable (DownloadRetry) -> Void
    ) async throws {
        _ = try await Self.mapped { try await client.download(url, to: destination.path, onRetry: onRetry) }
    }

    /// WaveSpeed has no cancel call: a task that was accepted runs to its end.
    public func cancel(_ submitted: SubmittedRequest) async {}

    /// Shuts the client down when the backend owns it.
    public func close() async {
        if ownsClient { try? await client.close() }
    }

    /// What the pipeline may submit again, what it must never send again, and what stops it.
    private static func mapped<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as WaveSpeedError {
            switch error.kind {
            case .taskFailed where error.isTransient, .invalidVideo: throw GenerationFailure(error.description)
            case .submitOutcomeUnknown: throw SubmitOutcomeUnknown(reason: error.description, requestID: error.taskID)
            default: throw error
            }
        }
    }
}
