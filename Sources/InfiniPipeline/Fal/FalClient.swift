// The fal queue + storage client: the type, its HTTP client, and whole generations. Storage,
// queue, download, transport and retry rules live in the files beside this one.

import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOPosix

/// Talks to a hosted fal model the way fal's own clients do: storage upload, queue submit,
/// status polling, result, cancel, and the result video's download.
///
/// The client sends its requests through an AsyncHTTPClient `HTTPClient`: its own (made by
/// ``init(credentials:configuration:limiter:logger:)``, shut down by ``shutdown()``), or one the
/// app owns (``init(credentials:configuration:httpClient:limiter:logger:)``, left running). The
/// client is `Sendable`: share one per run, so that its ``limiter`` bounds the requests in
/// flight for the whole run.
///
/// Safety rules, enforced before anything is sent:
/// - The key goes only in `Authorization: Key …` to the queue and REST APIs and to the
///   status/result/cancel URLs the queue returns, and only over https or plain http to loopback.
/// - The storage PUT and the video download never carry the key.
/// - No log line, event or error contains the key; URLs are shown without query values.
///
/// Retries: transport errors and 408, 409, 429, 500, 502, 503, 504 (not a 504 with
/// `X-Fal-Request-Timeout-Type: user`) are retried per ``FalConfiguration/retry``, honouring
/// `Retry-After`. A submit is retried only when it certainly did not reach the queue (could not
/// connect, 429, or 502/503/504 without `x-fal-request-id`), because every accepted submit is
/// billed; any other submit failure throws ``FalError/Kind/submitOutcomeUnknown``. The result
/// video's download is paid for already: it is retried for a time budget instead
/// (``FalConfiguration/download``), resuming with `Range` (see ``download(_:to:onEvent:)``).
///
/// Logging: routine traffic (each HTTP exchange, poll, upload, submit, completion and download)
/// at `.debug`; retries, interrupted downloads and cancels at `.notice`/`.info`; giving up at
/// `.warning`. The key is never logged.
public final class FalClient: Sendable, CustomReflectable {
    /// The configuration the client was made with.
    public let configuration: FalConfiguration
    /// The run-wide limit on requests in flight.
    public let limiter: RequestLimiter
    /// The endpoint requests go to.
    public let endpoint: FalEndpointID

    let credentials: FalCredentials
    let logger: Logger
    let redactor: Redactor
    let queueBase: String
    let restBase: String
    /// Sends single HTTP exchanges.
    let transport: FalTransport
    /// Decides which failed API calls are repeated.
    let engine: RetryEngine
    /// The `HTTPClient` the client made (nil when the app passed its own): shut down by
    /// ``shutdown()``, or when the client is released without that call.
    let ownedHTTPClient: OwnedHTTPClient?

    /// fal's limit on a `data:` URI (`MAX_DATA_URI_LENGTH` in fal's toolkit), in characters.
    public static let maxInlineURILength = 10 * 1024 * 1024

    /// Creates a client and its own `HTTPClient`, configured by
    /// ``httpClientConfiguration(for:)``; call ``shutdown()`` after the last request.
    /// - Parameters:
    ///   - credentials: the API key.
    ///   - configuration: endpoints, model, retries, polling, limits.
    ///   - limiter: a limiter shared with other clients; nil makes one of
    ///     `configuration.maxRequestsInFlight`.
    ///   - logger: where requests, retries and polls are logged (never the key).
    /// - Throws: ``FalError`` when a base URL or the model id is invalid or insecure.
    public convenience init(
        credentials: FalCredentials, configuration: FalConfiguration = FalConfiguration(),
        limiter: RequestLimiter? = nil,
        logger: Logger = Logger(label: "infinipipeline.fal")
    ) throws {
        try self.init(
            credentials: credentials, configuration: configuration, http: nil, limiter: limiter,
            logger: logger)
    }

    /// Creates a client that sends its requests through an `HTTPClient` the app owns.
    ///
    /// ``shutdown()`` leaves that client running: shut it down yourself, after this client's
    /// last request. The client's own settings apply instead of ``FalConfiguration``'s
    /// `connectTimeout` and `readTimeout` (each request is still bounded by `requestTimeout` or
    /// `transferTimeout`). Configure it as ``httpClientConfiguration(for:)`` does, or at least
    /// with `redirectConfiguration: .disallow`: the fal client follows the download's redirects
    /// itself, checking each target against its URL rules, which an `HTTPClient` that follows
    /// them skips.
    /// - Parameters:
    ///   - credentials: the API key.
    ///   - configuration: endpoints, model, retries, polling, limits.
    ///   - httpClient: the `HTTPClient` to send requests through; not shut down by this client.
    ///   - limiter: a limiter shared with other clients; nil makes one of
    ///     `configuration.maxRequestsInFlight`.
    ///   - logger: where requests, retries and polls are logged (never the key).
    /// - Throws: ``FalError`` when a base URL or the model id is invalid or insecure.
    public convenience init(
        credentials: FalCredentials, configuration: FalConfiguration = FalConfiguration(),
        httpClient: HTTPClient, limiter: RequestLimiter? = nil,
        logger: Logger = Logger(label: "infinipipeline.fal")
    ) throws {
        try self.init(
            credentials: credentials, configuration: configuration, http: httpClient, limiter: limiter,
            logger: logger)
    }

    /// Checks everything that can fail first, so that an `HTTPClient` is made only for a client
    /// that exists (an `HTTPClient` must be shut down).
    private init(
        credentials: FalCredentials, configuration: FalConfiguration, http: HTTPClient?,
        limiter: RequestLimiter?, logger: Logger
    ) throws {
        try configuration.validate()
        self.configuration = configuration
        self.credentials = credentials
        self.limiter = limiter ?? RequestLimiter(limit: configuration.maxRequestsInFlight)
        self.endpoint = try FalEndpointID(configuration.modelID)
        self.logger = logger
        let redactor = Redactor(credentials: credentials)
        self.redactor = redactor
        queueBase = FalClient.trimmed(configuration.queueBaseURL)
        restBase = FalClient.trimmed(configuration.restBaseURL)
        engine = RetryEngine(policy: configuration.retry, sleep: configuration.sleep, logger: logger, redactor: redactor)
        ownedHTTPClient =
            http == nil ? OwnedHTTPClient(configuration: FalClient.httpClientConfiguration(for: configuration)) : nil
        transport = FalTransport(
            http: http ?? ownedHTTPClient!.http, credentials: credentials, userAgent: configuration.userAgent,
            maxResponseBytes: configuration.maxResponseBytes, redactor: redactor, logger: logger)
    }

    /// The `HTTPClient` settings the client makes its own `HTTPClient` with: no redirects (the
    /// client follows the download's itself, checking each), `configuration`'s connect and read
    /// timeouts, no decompression, no retried connection attempts (the client retries itself, and
    /// must know whether a failed submit was ever sent), idle connections closed after 20 s.
    /// - Parameter configuration: the timeouts to use.
    /// - Returns: a configuration for an `HTTPClient` to pass to
    ///   ``init(credentials:configuration:httpClient:limiter:logger:)``.
    public static func httpClientConfiguration(for configuration: FalConfiguration) -> HTTPClient.Configuration {
        var http = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(
                connect: .init(configuration.connectTimeout),
                read: .init(configuration.readTimeout)),
            decompression: .disabled)
        // We retry ourselves, and must know whether a failed submit was ever sent: a refused
        // connection has to fail at once, not be retried inside the pool.
        http.connectionPool.retryConnectionEstablishment = false
        // Close idle connections well before servers do (nginx: 75 s), so a submit rarely meets
        // a connection the server is closing.
        http.connectionPool.idleTimeout = .seconds(20)
        return http
    }

    /// What `dump` and debuggers show: the endpoints, never the key or the HTTP machinery.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "endpoint": endpoint.rawValue, "queueBaseURL": queueBase, "restBaseURL": restBase,
                "credentials": credentials,
            ], displayStyle: .class)
    }

    /// Shuts down the `HTTPClient` the client made, waiting for its connections to close. Call
    /// once, after the last request. A client released without this call shuts its `HTTPClient`
    /// down by itself (without waiting), so dropping one, on an error path say, is harmless. An
    /// `HTTPClient` passed to ``init(credentials:configuration:httpClient:limiter:logger:)`` is
    /// left running (its owner shuts it down).
    /// - Throws: AsyncHTTPClient's error when the `HTTPClient` was shut down already.
    public func shutdown() async throws {
        try await ownedHTTPClient?.shutdown()
    }

    /// Sends a call, retrying per `kind` and ``FalConfiguration/retry``.
    /// - Returns: the last response (2xx, or the final non-2xx for the caller to explain).
    func send(_ call: HTTPCall, kind: RetryKind, onEvent: @escaping @Sendable (FalEvent) -> Void) async throws -> HTTPReply {
        try await engine.run(call, kind: kind, onEvent: onEvent) { _ in try await transport.exchange(call) }
    }

    // MARK: - Whole generations

    /// The result of one generation: the request's handle and the model's output.
    public struct Generation: Sendable, Hashable {
        /// The request (record it to resume or cancel later).
        public var handle: FalRequestHandle
        /// The model's output.
        public var response: InfiniTalkResponse
    }

    /// Submits a request, waits for it and fetches its result, holding one permit of
    /// ``limiter`` from before the submit until the result (or a failure).
    ///
    /// Cancelling the task stops the waiting only: the request keeps running on fal and can be
    /// resumed with the handle from the ``FalEvent/submitted(_:)`` event, or cancelled.
    /// - Parameters:
    ///   - request: the model input (checked with ``FalClient/validate(_:)`` first).
    ///   - onEvent: receives every step as it happens.
    /// - Returns: the handle and the model's output.
    /// - Throws: ``FalError``: `.invalidRequest` before anything is sent, `.generationFailed` when
    ///   the model failed, `.submitOutcomeUnknown` when a submit may have been accepted, and the
    ///   transport and HTTP kinds; `CancellationError`.
    public func generate(
        _ request: InfiniTalkRequest,
        onEvent: @escaping @Sendable (FalEvent) -> Void = { _ in }
    ) async throws -> Generation {
        try FalClient.validate(request)
        try await limiter.acquire()
        do {
            let handle = try await submit(request, onEvent: onEvent)
            let response = try await follow(handle, pollImmediately: false, onEvent: onEvent)
            await limiter.release()
            return Generation(handle: handle, response: response)
        } catch {
            await limiter.release()
            throw error
        }
    }

    /// Follows a request submitted earlier (possibly in an earlier run) to its result, without
    /// submitting anything: status until `COMPLETED`, then the result. Holds one permit of
    /// ``limiter`` meanwhile.
    /// - Parameters:
    ///   - handle: the request, as ``submit(_:onEvent:)`` returned it or rebuilt by
    ///     ``handle(forRequestID:)``.
    ///   - onEvent: receives every step as it happens.
    /// - Returns: the model's output.
    /// - Throws: as ``generate(_:onEvent:)``.
    public func resume(
        _ handle: FalRequestHandle,
        onEvent: @escaping @Sendable (FalEvent) -> Void = { _ in }
    ) async throws -> InfiniTalkResponse {
        try await limiter.acquire()
        do {
            logger.debug("following", metadata: ["request": "\(handle.requestID)"])
            let response = try await follow(handle, pollImmediately: true, onEvent: onEvent)
            await limiter.release()
            return response
        } catch {
            await limiter.release()
            throw error
        }
    }

    /// A handle for a request id recorded earlier, its URLs rebuilt from this client's queue
    /// base and endpoint.
    /// - Parameter requestID: fal's request id.
    /// - Returns: the handle to follow, fetch or cancel the request by.
    /// - Throws: ``FalError`` (`.invalidURL`) when the id is malformed.
    public func handle(forRequestID requestID: String) throws -> FalRequestHandle {
        try FalRequestHandle(requestID: requestID, endpointID: endpoint, queueBaseURL: queueBase)
    }

    private func follow(
        _ handle: FalRequestHandle, pollImmediately: Bool,
        onEvent: @escaping @Sendable (FalEvent) -> Void
    ) async throws -> InfiniTalkResponse {
        let completion = try await waitForCompletion(handle, pollImmediately: pollImmediately, onEvent: onEvent)
        if let error = completion.error {
            // The result usually explains more ("detail"); its failure is the failure.
            let failure = try await resultFailure(handle)
            throw FalError(
                .generationFailed, method: "GET", url: redactor.url(handle.responseURL),
                reason: "generation failed: \(failure?.detail ?? redactor.text(error))"
                    + " (error_type \(failure?.errorType ?? completion.errorType ?? "unknown"), request \(handle.requestID))",
                statusCode: failure?.statusCode, requestID: handle.requestID,
                errorType: failure?.errorType ?? completion.errorType,
                detail: failure?.detail ?? redactor.text(error), fieldErrors: failure?.fieldErrors ?? [])
        }
        return try await result(handle)
    }

    // MARK: - Helpers

    /// The encoder for request bodies (URLs stay readable: no escaped slashes).
    static var json: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }

    private static func trimmed(_ base: String) -> String {
        var base = base
        while base.hasSuffix("/") { base.removeLast() }
        return base
    }
}
