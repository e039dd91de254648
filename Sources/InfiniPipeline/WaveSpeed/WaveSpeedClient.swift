// The WaveSpeed client: the type, its HTTP client, and the envelope every JSON answer comes in.
// Uploads, predictions and the download live in the files beside this one; the transport, the
// retry engine, the URL rules, the redaction and the resumable download are the fal client's.

import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// Talks to a model hosted on WaveSpeed (by default `wavespeed-ai/infinitetalk`) the way
/// WaveSpeed's official client does: upload (a ticket, then a PUT), submit, result polling, and
/// the result video's download.
///
/// Share one client per run; call ``close()`` after the last request. The client is `Sendable`.
///
/// Safety rules, enforced before anything is sent:
/// - The key goes only in `Authorization: Bearer …` to the API's base URL (its host), and only
///   over https or plain http to loopback. The upload PUT and the video download never carry it.
/// - No log line, event or error contains the key; URLs are shown without query values.
/// - A submit is billed once accepted, so it is sent again only when it certainly was not
///   accepted: it could not connect, or was refused with 429 or a 5xx that carries WaveSpeed's
///   error envelope. A submit whose answer never arrived after its body was sent (timeout,
///   reset), or that got a 5xx without the envelope (a gateway's page), throws
///   ``WaveSpeedError/Kind/submitOutcomeUnknown`` with ``WaveSpeedError/mayHaveBeenAccepted``.
///
/// Every JSON answer is an envelope `{code, message, data}`: a `code` other than 200 is an error
/// (``WaveSpeedError/Kind/apiError``) even under HTTP 200.
///
/// Logging: each HTTP exchange, upload, submit and poll at `.debug`; retries at `.notice`;
/// giving up at `.warning`. The key is never logged.
public final class WaveSpeedClient: Sendable, CustomReflectable {
    /// The configuration the client was made with.
    public let configuration: WaveSpeedConfiguration

    let credentials: WaveSpeedCredentials
    let logger: Logger
    let redactor: Redactor
    /// The base URL without trailing slashes: the only place the key is sent.
    let base: String
    let transport: FalTransport
    let engine: RetryEngine
    let downloader: ResumableDownload
    /// The `HTTPClient` the client made (nil when the app passed its own).
    let ownedHTTPClient: OwnedHTTPClient?

    /// A downloaded result video: where it was saved, its size and its video stream.
    public typealias DownloadedVideo = FalClient.DownloadedVideo

    /// Creates a client and its own `HTTPClient`; call ``close()`` after the last request.
    /// - Parameters:
    ///   - credentials: the API key (``WaveSpeedCredentials/fromEnvironment(_:)`` reads
    ///     `WAVESPEED_API_KEY`).
    ///   - configuration: base URL, model, retries, polling, limits.
    ///   - logger: where requests, retries and polls are logged (never the key).
    /// - Throws: ``WaveSpeedError`` when the base URL or the model id is invalid or insecure.
    public convenience init(
        credentials: WaveSpeedCredentials, configuration: WaveSpeedConfiguration = WaveSpeedConfiguration(),
        logger: Logger = Logger(label: "infinipipeline.wavespeed")
    ) throws {
        try self.init(credentials: credentials, configuration: configuration, http: nil, logger: logger)
    }

    /// Creates a client that sends its requests through an `HTTPClient` the app owns (left
    /// running by ``close()``). Configure it as ``httpClientConfiguration(for:)`` does, or at
    /// least with `redirectConfiguration: .disallow` (the download follows redirects itself,
    /// checking each target).
    /// - Parameters:
    ///   - credentials: the API key.
    ///   - configuration: base URL, model, retries, polling, limits.
    ///   - httpClient: the `HTTPClient` to send requests through; not shut down by this client.
    ///   - logger: where requests, retries and polls are logged (never the key).
    /// - Throws: ``WaveSpeedError`` when the base URL or the model id is invalid or insecure.
    public convenience init(
        credentials: WaveSpeedCredentials, configuration: WaveSpeedConfiguration = WaveSpeedConfiguration(),
        httpClient: HTTPClient, logger: Logger = Logger(label: "infinipipeline.wavespeed")
    ) throws {
        try self.init(credentials: credentials, configuration: configuration, http: httpClient, logger: logger)
    }

    private init(
        credentials: WaveSpeedCredentials, configuration: WaveSpeedConfiguration, http: HTTPClient?, logger: Logger
    ) throws {
        try configuration.validate()
        self.configuration = configuration
        self.credentials = credentials
        self.logger = logger
        let redactor = Redactor(credentials: credentials)
        self.redactor = redactor
        base = try WaveSpeedConfiguration.checkedBase(configuration.baseURL, role: "WaveSpeed base URL")
        let engine = RetryEngine(
            policy: configuration.retry, sleep: configuration.sleep, logger: logger, redactor: redactor)
        self.engine = engine
        ownedHTTPClient =
            http == nil ? OwnedHTTPClient(configuration: WaveSpeedClient.httpClientConfiguration(for: configuration)) : nil
        let transport = FalTransport(
            http: http ?? ownedHTTPClient!.http, credentials: credentials, userAgent: configuration.userAgent,
            maxResponseBytes: configuration.maxResponseBytes, redactor: redactor, logger: logger)
        self.transport = transport
        downloader = ResumableDownload(
            transport: transport, engine: engine, policy: configuration.download,
            maxBytes: configuration.maxDownloadBytes, transferTimeout: configuration.transferTimeout,
            sleep: configuration.sleep, redactor: redactor, logger: logger)
    }

    /// The `HTTPClient` settings the client makes its own `HTTPClient` with: no redirects, the
    /// configuration's connect and read timeouts, no decompression, no retried connection
    /// attempts (the client must know whether a failed submit was ever sent), idle connections
    /// closed after 20 s.
    /// - Parameter configuration: the timeouts to use.
    /// - Returns: a configuration for an `HTTPClient` to pass to
    ///   ``init(credentials:configuration:httpClient:logger:)``.
    public static func httpClientConfiguration(for configuration: WaveSpeedConfiguration) -> HTTPClient.Configuration {
        var http = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .init(configuration.connectTimeout), read: .init(configuration.readTimeout)),
            decompression: .disabled)
        http.connectionPool.retryConnectionEstablishment = false
        http.connectionPool.idleTimeout = .seconds(20)
        return http
    }

    /// Shuts down the `HTTPClient` the client made, waiting for its connections to close. Call
    /// once, after the last request; a client released without it shuts down by itself. An
    /// `HTTPClient` passed in is left running.
    /// - Throws: AsyncHTTPClient's error when the `HTTPClient` was shut down already.
    public func close() async throws {
        try await ownedHTTPClient?.shutdown()
    }

    /// What `dump` and debuggers show: the base URL and the model, never the key.
    public var customMirror: Mirror {
        Mirror(
            self, children: ["baseURL": base, "modelID": configuration.modelID, "credentials": credentials],
            displayStyle: .class)
    }

    // MARK: - Sending

    /// A call to the API (authorized): `{base}{path}`.
    func apiCall(
        _ method: HTTPMethod, _ path: String, operation: String, body: [UInt8]? = nil, taskID: String? = nil
    ) -> HTTPCall {
        HTTPCall(
            method: method, url: base + path, role: "WaveSpeed API URL", operation: operation, authorized: true,
            body: body, contentType: body == nil ? nil : "application/json", timeout: configuration.requestTimeout,
            requestID: taskID)
    }

    /// Sends a call through the retry engine, with the key only when the call goes to the base
    /// URL; FalErrors of the shared HTTP layer come out as ``WaveSpeedError``s.
    func send(
        _ call: HTTPCall, kind: RetryKind, taskID: String? = nil,
        onEvent: @escaping @Sendable (WaveSpeedEvent) -> Void
    ) async throws -> HTTPReply {
        if call.authorized && !call.url.hasPrefix(base + "/") {
            // Never reached by the client's own calls; a guard for the key.
            throw WaveSpeedError(
                .insecureURL, method: call.methodName, url: redactor.url(call.url),
                reason: "refusing to send the key to a URL outside the WaveSpeed base URL")
        }
        do {
            return try await engine.run(
                call, kind: kind,
                onEvent: { event in
                    if case .retrying(let operation, let attempt, let delay, let reason) = event {
                        onEvent(.retrying(operation: operation, attempt: attempt, delay: delay, reason: reason))
                    }
                }
            ) { _ in try await transport.exchange(call) }
        } catch let error as FalError {
            throw WaveSpeedError(error, taskID: taskID)
        }
    }

    /// WaveSpeed's envelope, `{code, message, data}`.
    struct Envelope {
        var code: Int?
        var message: String?
        var data: JSONValue?

        /// The envelope in `bytes`; nil when they are not a JSON object with a `code`.
        init?(_ bytes: [UInt8]) {
            guard let json = JSONValue.parse(bytes), case .object = json, let code = json["code"]?.int else {
                return nil
            }
            self.code = code
            message = json["message"]?.string
            data = json["data"]
        }
    }

    /// The `data` of a successful answer: HTTP 2xx and envelope code 200.
    /// - Throws: ``WaveSpeedError``: `.httpStatus` for a non-2xx (with the envelope's message),
    ///   `.apiError` for a code other than 200, `.unexpectedResponse` for a body without an
    ///   envelope or `data`.
    func data(_ call: HTTPCall, _ reply: HTTPReply, what: String, taskID: String? = nil) throws -> JSONValue {
        let envelope = Envelope(reply.body)
        guard reply.isSuccess else {
            let detail =
                envelope?.message.map { redactor.text($0) }
                ?? FalErrorBody(bytes: reply.body, headerErrorType: nil, redactor: redactor).detail
            throw WaveSpeedError(
                .httpStatus, method: call.methodName, url: redactor.url(call.url),
                reason: "\(what): HTTP \(reply.status)" + (detail.map { ": \($0)" } ?? "") + reply.noteSuffix,
                statusCode: reply.status, apiCode: envelope?.code, detail: detail, taskID: taskID)
        }
        guard let envelope else {
            throw unexpected(call, reply, "\(what): the answer is not WaveSpeed's {code, message, data} envelope", taskID)
        }
        guard envelope.code == 200 else {
            let detail = envelope.message.map { redactor.text($0) }
            throw WaveSpeedError(
                .apiError, method: call.methodName, url: redactor.url(call.url),
                reason: "\(what): code \(envelope.code.map(String.init) ?? "?") under HTTP \(reply.status)"
                    + (detail.map { ": \($0)" } ?? ""),
                statusCode: reply.status, apiCode: envelope.code, detail: detail, taskID: taskID)
        }
        guard let data = envelope.data, case .object = data else {
            throw unexpected(call, reply, "\(what): the envelope has no data", taskID)
        }
        return data
    }

    /// An answer we cannot use, with an excerpt of it.
    func unexpected(_ call: HTTPCall, _ reply: HTTPReply, _ what: String, _ taskID: String? = nil) -> WaveSpeedError {
        let excerpt = redactor.text(String(decoding: reply.body.prefix(200), as: UTF8.self), limit: 120)
        return WaveSpeedError(
            .unexpectedResponse, method: call.methodName, url: redactor.url(call.url),
            reason: "\(what) (HTTP \(reply.status): \(excerpt.isEmpty ? "empty body" : excerpt))",
            statusCode: reply.status, taskID: taskID)
    }

    /// The encoder for request bodies (URLs stay readable: no escaped slashes).
    static var json: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return encoder
    }
}
