import Foundation

/// The hosted model (`fal-ai/infinitalk` by default) as a pipeline backend, over ``FalClient``.
///
/// Uploads go to fal storage (or inline `data:` URIs with `inline`), and every queue step is
/// separate so the pipeline can record the request id before waiting on it.
final class FalBackend: ClipBackend {
    let client: FalClient

    /// Checks, without any network traffic, that a fal run can start: a key in the
    /// environment and valid (https, or http to loopback) endpoints.
    /// - Throws: ``PipelineError`` (bad input) naming what is missing or wrong.
    static func checkConfiguration(options: PipelineOptions) throws {
        _ = try credentials(options)
        _ = try configuration(options)
    }

    static func credentials(_ options: PipelineOptions) throws -> FalCredentials {
        do {
            guard let credentials = try FalCredentials.fromEnvironment(options.environment) else {
                throw PipelineError.badInput("FAL_KEY is not set: export FAL_KEY (or FAL_KEY_ID and FAL_KEY_SECRET), or use --backend preview or --dry-run")
            }
            return credentials
        } catch let error as FalError {
            throw PipelineError.badInput(error.description)
        }
    }

    static func configuration(_ options: PipelineOptions) throws -> FalConfiguration {
        do {
            var configuration = try FalConfiguration.fromEnvironment(options.environment)
            if let queue = options.queueURL { configuration.queueBaseURL = queue }
            if let rest = options.restURL { configuration.restBaseURL = rest }
            configuration.modelID = options.endpoint
            configuration.uploadMode = options.inline ? .inline : .storage
            configuration.maxRequestsInFlight = options.concurrency
            try configuration.validate()
            return configuration
        } catch let error as FalError {
            throw PipelineError.badInput(error.description)
        }
    }

    init(options: PipelineOptions) throws {
        client = try FalClient(credentials: Self.credentials(options), configuration: Self.configuration(options))
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
        try? await client.shutdown()
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
