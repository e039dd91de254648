import Foundation

/// The hosted model (`fal-ai/infinitalk` by default) as a pipeline backend, over a ``FalClient``.
///
/// Uploads go to fal storage (or inline `data:` URIs, per the client's
/// ``FalConfiguration/uploadMode``), and every queue step is separate so the pipeline can record
/// the request id before waiting on it. A model failure, or a result that is not a usable video,
/// is a ``GenerationFailure`` (the pipeline may resubmit it); every other ``FalError`` is thrown
/// as it is.
public final class FalBackend: ClipBackend {
    /// The client the backend sends its requests through.
    public let client: FalClient
    /// Whether ``close()`` shuts the client down.
    private let ownsClient: Bool

    /// Creates a backend over a client.
    /// - Parameters:
    ///   - client: the client to send requests through; its ``FalClient/limiter`` bounds the
    ///     requests in flight.
    ///   - ownsClient: true to have ``close()`` shut the client down (after the run); false (the
    ///     default) leaves that to whoever made the client.
    public init(client: FalClient, ownsClient: Bool = false) {
        self.client = client
        self.ownsClient = ownsClient
    }

    /// The endpoint id, e.g. `fal-ai/infinitalk`.
    public var identity: String { client.endpoint.rawValue }

    /// Uploads the fitted portrait (PNG).
    public func stageImage(png: [UInt8], fileName: String) async throws -> String {
        try await Self.mapped { try await client.upload(png, contentType: "image/png", fileName: fileName) }
    }

    /// Uploads a segment's audio (WAV).
    public func stageAudio(file: URL) async throws -> String {
        try await Self.mapped { try await client.upload(file: file.path, contentType: "audio/wav") }
    }

    /// Submits a request to fal's queue (never retried once it may have been accepted).
    public func submit(_ request: ClipRequest) async throws -> SubmittedRequest {
        let handle = try await Self.mapped { try await client.submit(request.input) }
        return SubmittedRequest(
            requestId: handle.requestID, statusURL: handle.statusURL, responseURL: handle.responseURL,
            cancelURL: handle.cancelURL)
    }

    private func handle(_ submitted: SubmittedRequest) throws -> FalRequestHandle {
        if let status = submitted.statusURL, let response = submitted.responseURL, let cancel = submitted.cancelURL {
            return FalRequestHandle(
                requestID: submitted.requestId, endpointID: client.endpoint, statusURL: status,
                responseURL: response, cancelURL: cancel)
        }
        return try client.handle(forRequestID: submitted.requestId)
    }

    /// Follows a submitted request to its result, reporting queue position, start and log lines.
    public func waitForResult(
        _ submitted: SubmittedRequest, request: ClipRequest,
        progress: @escaping @Sendable (BackendProgress) -> Void
    ) async throws -> String {
        let handle = try handle(submitted)
        let response = try await Self.mapped {
            try await client.resume(handle) { event in
                switch event {
                case .queued(_, let position): progress(.queued(position: position))
                case .started: progress(.running)
                case .log(_, let entry): progress(.log(entry.message))
                default: break
                }
            }
        }
        return response.video.url
    }

    /// Downloads the clip (see ``download(_:to:onRetry:)``).
    public func download(_ url: String, to destination: URL) async throws {
        try await download(url, to: destination, onRetry: { _ in })
    }

    /// Downloads the clip, retrying for the client's download budget and resuming with `Range`;
    /// every retry is passed to `onRetry`. A budget that runs out stops the run (the result stays
    /// recorded, so the next run downloads it again) rather than paying for the clip twice.
    public func download(
        _ url: String, to destination: URL,
        onRetry: @escaping @Sendable (DownloadRetry) -> Void
    ) async throws {
        _ = try await Self.mapped {
            try await client.download(FalFile(url: url), to: destination.path) { event in
                if case .downloadRetrying(let retry) = event { onRetry(retry) }
            }
        }
    }

    /// Asks fal to cancel a request (best effort).
    public func cancel(_ submitted: SubmittedRequest) async {
        guard let handle = try? handle(submitted) else { return }
        _ = try? await client.cancel(handle)
    }

    /// Shuts the client down when the backend owns it.
    public func close() async {
        if ownsClient { try? await client.shutdown() }
    }

    /// A model failure, or a result that is not a usable video, may be resubmitted by the
    /// pipeline; a submit that may have been accepted is a ``SubmitOutcomeUnknown``, never sent
    /// again on its own; every other fal error stops the run.
    private static func mapped<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as FalError {
            switch error.kind {
            case .generationFailed, .invalidVideo: throw GenerationFailure(error.description)
            case .submitOutcomeUnknown: throw SubmitOutcomeUnknown(reason: error.description, requestID: error.requestID)
            default: throw error
            }
        }
    }
}
