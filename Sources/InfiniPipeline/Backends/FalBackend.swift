import Foundation

/// The hosted model (`fal-ai/infinitalk` by default) as a pipeline backend, over ``FalClient``.
///
/// Uploads go to fal storage (or inline `data:` URIs with `inline`), and every queue step is
/// separate so the pipeline can record the request id before waiting on it.
final class FalBackend: ClipBackend {
    let client: FalClient

    private let ownsClient: Bool

    init(client: FalClient, ownsClient: Bool) {
        self.client = client
        self.ownsClient = ownsClient
    }

    var identity: String { client.endpoint.rawValue }

    func stageImage(png: [UInt8], fileName: String) async throws -> String {
        try await Self.mapped { try await client.upload(png, contentType: "image/png", fileName: fileName) }
    }

    func stageAudio(file: URL) async throws -> String {
        try await Self.mapped { try await client.upload(file: file.path, contentType: "audio/wav") }
    }

    func submit(_ request: ClipRequest) async throws -> SubmittedRequest {
        let handle = try await Self.mapped { try await client.submit(request.input) }
        return SubmittedRequest(requestId: handle.requestID, statusURL: handle.statusURL, responseURL: handle.responseURL,
                                cancelURL: handle.cancelURL)
    }

    private func handle(_ submitted: SubmittedRequest) throws -> FalRequestHandle {
        if let status = submitted.statusURL, let response = submitted.responseURL, let cancel = submitted.cancelURL {
            return FalRequestHandle(requestID: submitted.requestId, endpointID: client.endpoint, statusURL: status,
                                    responseURL: response, cancelURL: cancel)
        }
        return try client.handle(forRequestID: submitted.requestId)
    }

    func waitForResult(_ submitted: SubmittedRequest, request: ClipRequest,
                       progress: @escaping @Sendable (BackendProgress) -> Void) async throws -> String {
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

    func download(_ url: String, to destination: URL) async throws {
        try await download(url, to: destination, onRetry: { _ in })
    }

    /// Downloads the clip, retrying for the client's download budget and resuming with `Range`;
    /// every retry is passed to `onRetry`. A budget that runs out stops the run (the result stays
    /// recorded, so the next run downloads it again) rather than paying for the clip twice.
    func download(_ url: String, to destination: URL,
                  onRetry: @escaping @Sendable (DownloadRetry) -> Void) async throws {
        _ = try await Self.mapped {
            try await client.download(FalFile(url: url), to: destination.path) { event in
                if case .downloadRetrying(let retry) = event { onRetry(retry) }
            }
        }
    }

    func cancel(_ submitted: SubmittedRequest) async {
        guard let handle = try? handle(submitted) else { return }
        _ = try? await client.cancel(handle)
    }

    func close() async {
        if ownsClient { try? await client.shutdown() }
    }

    /// A model failure, or a result that is not a usable video, may be resubmitted by the
    /// pipeline; every other fal error stops the run.
    private static func mapped<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as FalError {
            switch error.kind {
            case .generationFailed, .invalidVideo: throw GenerationFailure(error.description)
            default: throw error
            }
        }
    }
}
