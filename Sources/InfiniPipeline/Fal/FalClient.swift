// The fal queue + storage client: upload, submit, poll, result, cancel, download.

import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Talks to a hosted fal model the way fal's own clients do: storage upload, queue submit,
/// status polling, result, cancel, and the result video's download.
///
/// One client owns one `HTTPClient`; call ``shutdown()`` when done (AsyncHTTPClient asserts if
/// a client is dropped without it). The client is `Sendable`: share one per run, so that its
/// ``limiter`` bounds the requests in flight for the whole run.
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
public final class FalClient: Sendable, CustomReflectable {
    /// The configuration the client was made with.
    public let configuration: FalConfiguration
    /// The run-wide limit on requests in flight.
    public let limiter: RequestLimiter
    /// The endpoint requests go to.
    public let endpoint: FalEndpointID

    private let credentials: FalCredentials
    private let http: HTTPClient
    private let logger: Logger
    private let redactor: Redactor
    private let queueBase: String
    private let restBase: String

    /// fal's limit on a `data:` URI (`MAX_DATA_URI_LENGTH` in fal's toolkit), in characters.
    public static let maxInlineURILength = 10 * 1024 * 1024

    /// Creates a client and its `HTTPClient`.
    /// - Parameters:
    ///   - credentials: the API key.
    ///   - configuration: endpoints, model, retries, polling, limits.
    ///   - limiter: a limiter shared with other clients; nil makes one of
    ///     `configuration.maxRequestsInFlight`.
    ///   - logger: where requests, retries and polls are logged (never the key).
    /// - Throws: ``FalError`` when a base URL or the model id is invalid or insecure.
    public init(credentials: FalCredentials, configuration: FalConfiguration = FalConfiguration(),
                limiter: RequestLimiter? = nil, logger: Logger = Logger(label: "infinipipeline.fal")) throws {
        try configuration.validate()
        self.configuration = configuration
        self.credentials = credentials
        self.limiter = limiter ?? RequestLimiter(limit: configuration.maxRequestsInFlight)
        self.endpoint = try FalEndpointID(configuration.modelID)
        self.logger = logger
        self.redactor = Redactor(credentials: credentials)
        queueBase = FalClient.trimmed(configuration.queueBaseURL)
        restBase = FalClient.trimmed(configuration.restBaseURL)

        var http = HTTPClient.Configuration(redirectConfiguration: .disallow,
                                            timeout: .init(connect: .init(configuration.connectTimeout),
                                                           read: .init(configuration.readTimeout)),
                                            decompression: .disabled)
        // We retry ourselves, and must know whether a failed submit was ever sent: a refused
        // connection has to fail at once, not be retried inside the pool.
        http.connectionPool.retryConnectionEstablishment = false
        // Close idle connections well before servers do (nginx: 75 s), so a submit rarely meets
        // a connection the server is closing.
        http.connectionPool.idleTimeout = .seconds(20)
        self.http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: http)
    }

    /// What `dump` and debuggers show: the endpoints, never the key or the HTTP machinery.
    public var customMirror: Mirror {
        Mirror(self, children: ["endpoint": endpoint.rawValue, "queueBaseURL": queueBase, "restBaseURL": restBase,
                                "credentials": credentials], displayStyle: .class)
    }

    /// Shuts the HTTP client down. Call once, after the last request.
    public func shutdown() async throws {
        try await http.shutdown()
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
    /// - Throws: ``FalError``: `.invalidRequest` before anything is sent, `.generationFailed` when
    ///   the model failed, `.submitOutcomeUnknown` when a submit may have been accepted, and the
    ///   transport and HTTP kinds; `CancellationError`.
    public func generate(_ request: InfiniTalkRequest,
                         onEvent: @escaping @Sendable (FalEvent) -> Void = { _ in }) async throws -> Generation {
        try request.validate()
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
    /// - Throws: as ``generate(_:onEvent:)``.
    public func resume(_ handle: FalRequestHandle,
                       onEvent: @escaping @Sendable (FalEvent) -> Void = { _ in }) async throws -> InfiniTalkResponse {
        try await limiter.acquire()
        do {
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
    /// - Throws: ``FalError`` (`.invalidURL`) when the id is malformed.
    public func handle(forRequestID requestID: String) throws -> FalRequestHandle {
        try FalRequestHandle(requestID: requestID, endpointID: endpoint, queueBaseURL: queueBase)
    }

    private func follow(_ handle: FalRequestHandle, pollImmediately: Bool,
                        onEvent: @escaping @Sendable (FalEvent) -> Void) async throws -> InfiniTalkResponse {
        let completion = try await waitForCompletion(handle, pollImmediately: pollImmediately, onEvent: onEvent)
        if let error = completion.error {
            // The result usually explains more ("detail"); its failure is the failure.
            let failure = try await resultFailure(handle)
            throw FalError(.generationFailed, method: "GET", url: redactor.url(handle.responseURL),
                           reason: "generation failed: \(failure?.detail ?? redactor.text(error))"
                               + " (error_type \(failure?.errorType ?? completion.errorType ?? "unknown"), request \(handle.requestID))",
                           statusCode: failure?.statusCode, requestID: handle.requestID,
                           errorType: failure?.errorType ?? completion.errorType,
                           detail: failure?.detail ?? redactor.text(error), fieldErrors: failure?.fieldErrors ?? [])
        }
        return try await result(handle)
    }

    // MARK: - Upload

    /// Makes a file available to the model: uploads it to fal storage, or in inline mode
    /// encodes it as a `data:` URI.
    /// - Parameters:
    ///   - data: the bytes.
    ///   - contentType: the MIME type, e.g. `audio/wav`.
    ///   - fileName: the name fal stores it under.
    /// - Returns: the URL to put in the request.
    /// - Throws: ``FalError``: `.inlineTooLarge`, the HTTP and transport kinds.
    public func upload(_ data: [UInt8], contentType: String, fileName: String,
                       onEvent: @escaping @Sendable (FalEvent) -> Void = { _ in }) async throws -> String {
        switch configuration.uploadMode {
        case .inline:
            let uri = try FalClient.dataURI(data, contentType: contentType, fileName: fileName)
            onEvent(.uploaded(fileName: fileName, bytes: data.count, url: String(uri.prefix(40)) + "…"))
            return uri
        case .storage:
            let url = try await uploadToStorage(data, contentType: contentType, fileName: fileName, onEvent: onEvent)
            onEvent(.uploaded(fileName: fileName, bytes: data.count, url: url))
            return url
        }
    }

    /// Uploads a file from disk (see ``upload(_:contentType:fileName:onEvent:)``); the MIME type
    /// is guessed from the extension when not given.
    public func upload(file path: String, contentType: String? = nil,
                       onEvent: @escaping @Sendable (FalEvent) -> Void = { _ in }) async throws -> String {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw FalError(.fileError, url: path,
                           reason: "cannot read the file to upload: \(Redactor(credentials: nil).text(error.localizedDescription))")
        }
        let name = (path as NSString).lastPathComponent
        return try await upload([UInt8](data), contentType: contentType ?? FalClient.mimeType(forFileName: name),
                                fileName: name, onEvent: onEvent)
    }

    /// `data:<mime>;base64,…` for `data`.
    /// - Throws: ``FalError`` (`.inlineTooLarge`) when the URI would exceed fal's 10 MiB limit.
    public static func dataURI(_ data: [UInt8], contentType: String, fileName: String = "data") throws -> String {
        let prefix = "data:\(contentType);base64,"
        let length = prefix.utf8.count + (data.count + 2) / 3 * 4
        guard length <= maxInlineURILength else {
            throw FalError(.inlineTooLarge, url: fileName, reason: String(
                format: "%.1f MiB as a data: URI is over fal's 10 MiB inline limit; upload it to fal storage instead",
                Double(length) / 1_048_576))
        }
        return prefix + Data(data).base64EncodedString()
    }

    /// A MIME type for a file name's extension (`application/octet-stream` when unknown).
    public static func mimeType(forFileName name: String) -> String {
        switch (name as NSString).pathExtension.lowercased() {
        case "png": return "image/png"
        case "jpg", "jpeg": return "image/jpeg"
        case "webp": return "image/webp"
        case "wav": return "audio/wav"
        case "mp3": return "audio/mpeg"
        case "m4a", "aac": return "audio/mp4"
        case "flac": return "audio/flac"
        case "ogg", "oga": return "audio/ogg"
        case "mp4": return "video/mp4"
        default: return "application/octet-stream"
        }
    }

    private struct InitiateBody: Encodable {
        let content_type: String
        let file_name: String
    }

    private struct InitiateReply: Decodable {
        let upload_url: String
        let file_url: String
    }

    private func uploadToStorage(_ data: [UInt8], contentType: String, fileName: String,
                                 onEvent: @escaping @Sendable (FalEvent) -> Void) async throws -> String {
        let initiateURL = restBase + "/storage/upload/initiate?storage_type=fal-cdn-v3"
        let body = try FalClient.json.encode(InitiateBody(content_type: contentType, file_name: fileName))
        let call = HTTPCall(method: .POST, url: initiateURL, role: "storage initiate URL", operation: "upload initiate",
                            authorized: true, body: [UInt8](body), contentType: "application/json",
                            timeout: configuration.requestTimeout)
        let reply = try await send(call, kind: .idempotent, onEvent: onEvent)
        guard reply.isSuccess else { throw httpError(call, reply, what: "storage upload initiate failed") }
        guard let target = try? JSONDecoder().decode(InitiateReply.self, from: Data(reply.body)) else {
            throw unexpected(call, reply, "the upload initiate response has no upload_url and file_url")
        }
        // The storage host is not fal's API: it must not see the key, and gets the bytes only
        // over https (or loopback http).
        try URLRules.check(target.file_url, role: "file_url", redactor: redactor)
        let put = HTTPCall(method: .PUT, url: target.upload_url, role: "upload_url", operation: "upload",
                           authorized: false, body: data, contentType: contentType, accept: nil,
                           timeout: configuration.transferTimeout)
        let putReply = try await send(put, kind: .idempotent, onEvent: onEvent)
        guard putReply.isSuccess else { throw httpError(put, putReply, what: "uploading \(fileName) failed") }
        logger.debug("uploaded", metadata: ["file": "\(fileName)", "bytes": "\(data.count)",
                                            "url": "\(redactor.url(target.file_url))"])
        return target.file_url
    }

    // MARK: - Queue

    private struct SubmitReply: Decodable {
        let request_id: String
        let status_url: String?
        let response_url: String?
        let cancel_url: String?
    }

    /// Submits a request to the queue (after ``InfiniTalkRequest/validate()``).
    /// - Returns: the handle to follow it by.
    /// - Throws: ``FalError``: `.invalidRequest` (nothing sent), `.validationFailed` (422),
    ///   `.submitOutcomeUnknown` (may have been accepted: not resubmitted), `.httpStatus`, `.transport`.
    public func submit(_ request: InfiniTalkRequest,
                       onEvent: @escaping @Sendable (FalEvent) -> Void = { _ in }) async throws -> FalRequestHandle {
        try request.validate()
        let body = try FalClient.json.encode(request)
        let call = HTTPCall(method: .POST, url: "\(queueBase)/\(endpoint.rawValue)", role: "queue submit URL",
                            operation: "submit", authorized: true, body: [UInt8](body), contentType: "application/json",
                            timeout: configuration.requestTimeout)
        let reply = try await send(call, kind: .submit, onEvent: onEvent)
        let headerID = reply.headers.first(name: "x-fal-request-id")
        guard reply.isSuccess else {
            if reply.status == 422 { throw validationError(call, reply) }
            let error = FalErrorBody(bytes: reply.body, headerErrorType: reply.headers.first(name: "x-fal-error-type"),
                                     redactor: redactor)
            // A 5xx that reached fal (it has a request id), or any 5xx that is not a plain
            // ingress error, may have been queued.
            let ingress = [502, 503, 504].contains(reply.status) && headerID == nil
            if reply.status >= 500 && !ingress {
                throw FalError(.submitOutcomeUnknown, method: call.methodName, url: redactor.url(call.url),
                               reason: "HTTP \(reply.status)\(headerID.map { " (x-fal-request-id \($0))" } ?? "")"
                                   + "\(error.detail.map { ": \($0)" } ?? ""); the request may have been accepted"
                                   + " (and billed), so it was not resubmitted",
                               statusCode: reply.status, requestID: headerID, errorType: error.errorType,
                               detail: error.detail, mayHaveBeenAccepted: true)
            }
            throw httpError(call, reply, what: "submit failed (not queued)")
        }
        guard let parsed = try? JSONDecoder().decode(SubmitReply.self, from: Data(reply.body)),
              FalRequestHandle.isValidRequestID(parsed.request_id) else {
            throw FalError(.submitOutcomeUnknown, method: call.methodName, url: redactor.url(call.url),
                           reason: "the submit response has no usable request_id; the request may have been accepted"
                               + " (and billed), so it was not resubmitted",
                           statusCode: reply.status, requestID: headerID, mayHaveBeenAccepted: true)
        }
        let rebuilt = try FalRequestHandle(requestID: parsed.request_id, endpointID: endpoint, queueBaseURL: queueBase)
        let handle = FalRequestHandle(requestID: parsed.request_id, endpointID: endpoint,
                                      statusURL: parsed.status_url ?? rebuilt.statusURL,
                                      responseURL: parsed.response_url ?? rebuilt.responseURL,
                                      cancelURL: parsed.cancel_url ?? rebuilt.cancelURL)
        logger.info("submitted", metadata: ["request": "\(handle.requestID)", "endpoint": "\(endpoint)"])
        onEvent(.submitted(handle))
        return handle
    }

    /// Asks for a request's status once (with its logs).
    /// - Throws: ``FalError``: `.insecureURL` when the status URL is plain http to another host,
    ///   `.httpStatus`, `.transport`, `.unexpectedResponse`.
    public func status(_ handle: FalRequestHandle,
                       onEvent: @escaping @Sendable (FalEvent) -> Void = { _ in }) async throws -> FalStatus {
        let separator = handle.statusURL.contains("?") ? "&" : "?"
        let call = HTTPCall(method: .GET, url: handle.statusURL + separator + "logs=1", role: "status_url",
                            operation: "status", authorized: true, timeout: configuration.requestTimeout,
                            requestID: handle.requestID)
        let reply = try await send(call, kind: .idempotent, onEvent: onEvent)
        guard reply.isSuccess else { throw httpError(call, reply, what: "status request failed") }
        guard let json = JSONValue.parse(reply.body), let status = json["status"]?.string else {
            throw unexpected(call, reply, "the status response has no status")
        }
        let logs = FalClient.logs(json["logs"])
        switch status {
        case "IN_QUEUE":
            return .inQueue(position: json["queue_position"]?.int)
        case "IN_PROGRESS":
            return .inProgress(logs: logs)
        case "COMPLETED":
            let error: String?
            switch json["error"] {
            case nil, .null?: error = nil
            case let value?: error = value.string ?? value.text
            }
            return .completed(FalCompletion(logs: logs, inferenceTime: json["metrics"]?["inference_time"]?.double,
                                            error: error, errorType: json["error_type"]?.string))
        default:
            throw unexpected(call, reply, "unknown request status \"\(redactor.text(status, limit: 40))\"")
        }
    }

    /// Polls a request until it completes, reporting queue positions, the start and new log lines
    /// as events. Intervals follow ``FalConfiguration/poll``.
    /// - Returns: the completion, which carries `error` when the request failed (this method
    ///   does not throw for that; ``generate(_:onEvent:)`` and ``resume(_:onEvent:)`` do).
    /// - Throws: ``FalError`` (`.timedOut` after `poll.maxWait`, and as ``status(_:onEvent:)``);
    ///   `CancellationError`.
    public func waitForCompletion(_ handle: FalRequestHandle, pollImmediately: Bool = true,
                                  onEvent: @escaping @Sendable (FalEvent) -> Void = { _ in }) async throws -> FalCompletion {
        let policy = configuration.poll
        let clock = ContinuousClock()
        let start = clock.now
        var interval = policy.initialInterval
        var lastPosition: Int?? = .none
        var started = false
        var seen = Set<FalLogEntry>()
        func report(_ logs: [FalLogEntry]) {
            for entry in logs where seen.insert(entry).inserted {
                onEvent(.log(requestID: handle.requestID, entry))
            }
        }
        if !pollImmediately { try await configuration.sleep(interval) }
        while true {
            try Task.checkCancellation()
            switch try await status(handle, onEvent: onEvent) {
            case .inQueue(let position):
                if lastPosition != .some(position) {
                    lastPosition = .some(position)
                    logger.debug("queued", metadata: ["request": "\(handle.requestID)", "position": "\(position.map(String.init) ?? "?")"])
                    onEvent(.queued(requestID: handle.requestID, position: position))
                }
            case .inProgress(let logs):
                if !started {
                    started = true
                    logger.debug("started", metadata: ["request": "\(handle.requestID)"])
                    onEvent(.started(requestID: handle.requestID))
                }
                report(logs)
            case .completed(let completion):
                report(completion.logs)
                logger.info("completed", metadata: ["request": "\(handle.requestID)",
                                                    "failed": "\(completion.error != nil)"])
                onEvent(.completed(requestID: handle.requestID, inferenceTime: completion.inferenceTime))
                return completion
            }
            if let maxWait = policy.maxWait, clock.now - start + interval > maxWait {
                throw FalError(.timedOut, method: "GET", url: redactor.url(handle.statusURL),
                               reason: "request \(handle.requestID) did not complete within \(Int(maxWait.seconds)) s;"
                                   + " it may still run on fal: resume or cancel it by its id",
                               requestID: handle.requestID)
            }
            try await configuration.sleep(interval)
            interval = policy.next(after: interval)
        }
    }

    /// Fetches the output of a completed request.
    /// - Throws: ``FalError``: `.generationFailed` for any non-2xx answer (with fal's `detail`
    ///   and `error_type`), `.validationFailed` for a 422, `.unexpectedResponse` when the output
    ///   has no video, and the transport kinds.
    public func result(_ handle: FalRequestHandle,
                       onEvent: @escaping @Sendable (FalEvent) -> Void = { _ in }) async throws -> InfiniTalkResponse {
        let call = HTTPCall(method: .GET, url: handle.responseURL, role: "response_url", operation: "result",
                            authorized: true, timeout: configuration.requestTimeout, requestID: handle.requestID)
        let reply = try await send(call, kind: .result, onEvent: onEvent)
        guard reply.isSuccess else { throw resultError(call, reply, handle) }
        do {
            return try JSONDecoder().decode(InfiniTalkResponse.self, from: Data(reply.body))
        } catch {
            throw unexpected(call, reply, "the result of request \(handle.requestID) has no video")
        }
    }

    /// Fetches the result of a request known to have failed, once, for its explanation.
    private func resultFailure(_ handle: FalRequestHandle) async throws -> FalError? {
        let call = HTTPCall(method: .GET, url: handle.responseURL, role: "response_url", operation: "result",
                            authorized: true, timeout: configuration.requestTimeout, requestID: handle.requestID)
        do {
            let reply = try await send(call, kind: .failedResult, onEvent: { _ in })
            return reply.isSuccess ? nil : resultError(call, reply, handle)
        } catch let error as FalError where error.kind == .transport || error.kind == .httpStatus {
            return nil
        }
    }

    private struct CancelReply: Decodable { let status: String }

    /// Asks fal to cancel a request: a queued one is removed, a running one is told to stop.
    /// - Returns: what fal reported (`ALREADY_COMPLETED` and `NOT_FOUND` are answers, not errors).
    /// - Throws: ``FalError``: `.insecureURL`, `.httpStatus`, `.transport`.
    @discardableResult
    public func cancel(_ handle: FalRequestHandle,
                       onEvent: @escaping @Sendable (FalEvent) -> Void = { _ in }) async throws -> FalCancelOutcome {
        let call = HTTPCall(method: .PUT, url: handle.cancelURL, role: "cancel_url", operation: "cancel",
                            authorized: true, timeout: configuration.requestTimeout, requestID: handle.requestID)
        let reply = try await send(call, kind: .idempotent, onEvent: onEvent)
        if let parsed = try? JSONDecoder().decode(CancelReply.self, from: Data(reply.body)),
           let outcome = FalCancelOutcome(rawValue: parsed.status) {
            logger.info("cancel", metadata: ["request": "\(handle.requestID)", "outcome": "\(outcome.rawValue)"])
            return outcome
        }
        if reply.isSuccess { return .ok }
        if reply.status == 404 { return .notFound }
        throw httpError(call, reply, what: "cancel failed")
    }

    // MARK: - Download

    /// A downloaded result video.
    public struct DownloadedVideo: Sendable, Equatable {
        /// Where it was saved.
        public var path: String
        /// Its size.
        public var bytes: Int64
        /// Its video stream, as the container declares it.
        public var video: StreamInfo
    }

    /// Downloads a result video to `destination`, streaming it to a temporary file beside it and
    /// renaming at the end (the temporary file is removed on any failure). The request carries
    /// no key. Redirects are followed (up to 5), each checked like the first URL.
    ///
    /// The result is paid for, so the download does not give up after a few attempts: transport
    /// failures, bodies that end early and 408/409/429/5xx answers are retried with capped
    /// exponential backoff for ``FalConfiguration/download``'s time budget, each retry reported as
    /// ``FalEvent/downloadRetrying(_:)``. A retry asks only for the missing bytes (`Range:
    /// bytes=N-`, with `If-Range` when the server gave a strong `ETag`) and appends a `206` whose
    /// `Content-Range` starts at N; a `200` (the server ignores ranges, or the file changed)
    /// starts over. The size is checked against `Content-Length` or the `Content-Range` total.
    /// Other answers (401, 403, 404, 410, …) are not retried: fal's clients retry no other 4xx,
    /// and a missing or forbidden file stays so.
    /// - Throws: ``FalError``: `.insecureURL`/`.invalidURL` before anything is sent,
    ///   `.downloadTooLarge` (by `Content-Length`, `Content-Range`, or while streaming),
    ///   `.downloadIncomplete` when the budget ran out (naming the URL, the attempts and the
    ///   bytes received), `.httpStatus` for an answer that is not retried, `.invalidVideo` when the
    ///   file is not an MP4 with a video stream, `.fileError`; `CancellationError`.
    @discardableResult
    public func download(_ file: FalFile, to destination: String,
                         onEvent: @escaping @Sendable (FalEvent) -> Void = { _ in }) async throws -> DownloadedVideo {
        let shown = redactor.url(file.url)
        try URLRules.check(file.url, role: "video url", redactor: redactor)
        let target = URL(fileURLWithPath: destination)
        let directory = target.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw FalError(.fileError, url: destination, reason: "the folder for the download does not exist")
        }
        let temp = target.deletingLastPathComponent()
            .appendingPathComponent(".\(target.lastPathComponent).\(UUID().uuidString.prefix(8)).part").path
        defer { unlink(temp) }  // nothing to do once renamed

        let sink = try DownloadFile(path: temp)
        let bytes: Int64
        do {
            bytes = try await fetch(file.url, into: sink, onEvent: onEvent)
            try sink.finish()
        } catch {
            sink.close()
            throw error
        }
        if let expected = file.fileSize, expected > 0, bytes < expected {
            throw FalError(.invalidVideo, method: "GET", url: shown,
                           reason: "got \(bytes) bytes but the result says file_size \(expected): the download is incomplete")
        }
        let video: StreamInfo
        do {
            let demuxer = try Demuxer(path: temp)
            guard demuxer.formatName.split(separator: ",").contains("mp4") else {
                throw FalError(.invalidVideo, method: "GET", url: shown,
                               reason: "the download is not an MP4 (FFmpeg reads it as \(demuxer.formatName))")
            }
            video = try demuxer.bestStream(.video)
        } catch let error as MediaError {
            throw FalError(.invalidVideo, method: "GET", url: shown,
                           reason: "the download is not an MP4 with a video stream: \(error.reason)")
        }
        guard rename(temp, destination) == 0 else {
            throw FalError(.fileError, url: destination, reason: "cannot move the download into place: \(String(cString: strerror(errno)))")
        }
        logger.info("downloaded", metadata: ["path": "\(destination)", "bytes": "\(bytes)"])
        onEvent(.downloaded(path: destination, bytes: bytes))
        return DownloadedVideo(path: destination, bytes: bytes, video: video)
    }

    /// How far a download got, carried from one attempt to the next.
    struct DownloadState {
        /// Bytes on disk, all of them the file's first bytes.
        var received: Int64 = 0
        /// The file's size, once a server said it.
        var total: Int64?
        /// The file's strong `ETag`, sent as `If-Range` so that a changed file is sent whole.
        var etag: String?
        /// The server said `Accept-Ranges: none`: do not ask for ranges.
        var rangesRefused = false
    }

    /// A download attempt that failed in a way worth retrying.
    struct DownloadInterruption: Error {
        /// A few words: "connection reset", "HTTP 503".
        var reason: String
        var statusCode: Int? = nil
        var retryAfter: Duration? = nil
    }

    /// Downloads `url` into `file`, attempt after attempt, until it is complete or the budget
    /// is spent. Returns the size.
    private func fetch(_ url: String, into file: DownloadFile,
                       onEvent: @escaping @Sendable (FalEvent) -> Void) async throws -> Int64 {
        let policy = configuration.download
        let clock = ContinuousClock()
        let start = clock.now
        var state = DownloadState()
        var attempt = 1
        var step = 1  // retries since the last attempt that received bytes
        while true {
            try Task.checkCancellation()
            let before = state.received
            let interruption: DownloadInterruption
            do {
                if try await downloadAttempt(url, into: file, state: &state) { return state.received }
                // The server sent only part of the rest (a shorter 206): ask for more at once.
                interruption = DownloadInterruption(reason: "the server sent part of the file")
                if clock.now - start <= policy.budget {
                    attempt += 1
                    step = 1
                    continue
                }
            } catch let failure as DownloadInterruption {
                interruption = failure
            } catch {
                if Task.isCancelled { throw CancellationError() }
                throw error
            }
            if state.received > before { step = 1 }
            let delay = policy.delay(retry: step, retryAfter: interruption.retryAfter)
            step += 1
            let elapsed = clock.now - start
            if elapsed + delay > policy.budget {
                let got = "\(state.received)\(state.total.map { " of \($0)" } ?? "") bytes received"
                let reason = "gave up downloading after \(attempt) attempt\(attempt == 1 ? "" : "s") in "
                    + String(format: "%.1f s", elapsed.seconds)
                    + " (the download budget is \(FalClient.seconds(policy.budget))): last \(interruption.reason); \(got)"
                logger.warning("download gave up", metadata: ["url": "\(redactor.url(url))", "why": "\(reason)"])
                throw FalError(.downloadIncomplete, method: "GET", url: redactor.url(url), reason: reason,
                               statusCode: interruption.statusCode)
            }
            let retry = DownloadRetry(url: redactor.url(url), attempt: attempt + 1, bytesReceived: state.received,
                                      totalBytes: state.total, elapsed: elapsed, delay: delay, reason: interruption.reason)
            logger.notice("download interrupted", metadata: [
                "url": "\(retry.url)", "attempt": "\(retry.attempt)", "bytes": "\(retry.bytesReceived)",
                "delay_s": "\(String(format: "%.3f", delay.seconds))", "reason": "\(retry.reason)"])
            onEvent(.downloadRetrying(retry))
            try await configuration.sleep(delay)
            attempt += 1
        }
    }

    /// One attempt: GET (following redirects), asking for the bytes from `state.received` on,
    /// and streaming the body into `file`.
    /// - Returns: true when the file is complete, false when the server sent only part of the rest.
    /// - Throws: ``DownloadInterruption`` for what is worth retrying; ``FalError`` and
    ///   `CancellationError` for what is not.
    private func downloadAttempt(_ url: String, into file: DownloadFile, state: inout DownloadState) async throws -> Bool {
        let cap = configuration.maxDownloadBytes
        var current = url
        for _ in 0...5 {
            let resumeFrom = state.received
            let ranged = resumeFrom > 0 && !state.rangesRefused
            // Ranges count bytes of the encoded body: ask for it unencoded.
            var headers = [("Accept-Encoding", "identity")]
            if ranged {
                headers.append(("Range", "bytes=\(resumeFrom)-"))
                if let etag = state.etag { headers.append(("If-Range", etag)) }
            }
            let call = HTTPCall(method: .GET, url: current, role: "video url", operation: "download",
                                authorized: false, accept: "*/*", timeout: configuration.transferTimeout,
                                headers: headers)
            let response: HTTPClientResponse
            do {
                response = try await execute(call)
            } catch let failure as TransportFailure {
                throw DownloadInterruption(reason: failure.brief)
            }
            let status = Int(response.status.code)
            if [301, 302, 303, 307, 308].contains(status), let location = response.headers.first(name: "location") {
                guard let next = URL(string: location, relativeTo: URL(string: current))?.absoluteString else {
                    throw FalError(.invalidURL, method: "GET", url: redactor.url(current),
                                   reason: "the redirect Location is not a URL")
                }
                current = next
                continue
            }
            func startOver() throws {
                try file.truncate(to: 0)
                state.received = 0
                state.etag = nil
            }
            /// Where this response's body must end.
            let end: Int64?
            switch status {
            case 206:
                let header = response.headers.first(name: "content-range")
                guard ranged, let range = ContentRange(header), range.first == resumeFrom,
                      range.total == nil || state.total == nil || range.total == state.total else {
                    // Not the part asked for: keep nothing of it and start over.
                    try startOver()
                    throw DownloadInterruption(reason: "the server sent a part that was not asked for"
                                                   + " (Content-Range \(header.map { redactor.text($0, limit: 60) } ?? "missing")); starting over")
                }
                if let total = range.total {
                    guard total <= cap else {
                        throw FalError(.downloadTooLarge, method: "GET", url: redactor.url(current),
                                       reason: "the video is \(total) bytes, over the \(cap)-byte download limit")
                    }
                    state.total = total
                }
                end = range.last + 1
            case 200..<300:
                if resumeFrom > 0 {
                    // The whole file again: the server ignores ranges, or the file changed.
                    logger.info("download starts over", metadata: ["url": "\(redactor.url(current))", "status": "\(status)",
                                                                  "discarded": "\(resumeFrom)"])
                    try startOver()
                }
                let length = response.headers.first(name: "content-length").flatMap { Int64($0) }
                if let length, length > cap {
                    throw FalError(.downloadTooLarge, method: "GET", url: redactor.url(current),
                                   reason: "the video is \(length) bytes, over the \(cap)-byte download limit")
                }
                state.total = length
                state.rangesRefused = response.headers.first(name: "accept-ranges")?.lowercased()
                    .trimmingCharacters(in: .whitespaces) == "none"
                state.etag = response.headers.first(name: "etag").flatMap { tag in
                    // Only a strong validator may go in If-Range.
                    tag.hasPrefix("\"") && tag.hasSuffix("\"") && tag.count >= 2 && tag.count <= 200 ? tag : nil
                }
                end = length
            case 416 where ranged:
                // We asked from a byte past the end: either we already have it all, or the file changed.
                if let total = ContentRange.unsatisfiedTotal(response.headers.first(name: "content-range")),
                   total == resumeFrom, state.total == nil || state.total == total {
                    state.total = total
                    return true
                }
                try startOver()
                throw DownloadInterruption(reason: "HTTP 416 for the bytes from \(resumeFrom) on; starting over",
                                           statusCode: 416)
            default:
                let body = try? await response.body.collect(upTo: 64 * 1024)
                let reply = HTTPReply(status: status, headers: response.headers,
                                      body: body.map { Array($0.readableBytesView) } ?? [])
                if let verdict = verdict(reply, kind: .idempotent) {
                    throw DownloadInterruption(reason: verdict.reason, statusCode: status, retryAfter: verdict.retryAfter)
                }
                throw httpError(call, reply, what: "download failed (not retried)")
            }
            do {
                for try await chunk in response.body {
                    let size = Int64(chunk.readableBytes)
                    if state.received + size > cap {
                        throw FalError(.downloadTooLarge, method: "GET", url: redactor.url(current),
                                       reason: "the video exceeds the \(cap)-byte download limit")
                    }
                    if let end, state.received + size > end {
                        try startOver()
                        throw DownloadInterruption(reason: "the server sent more bytes than it announced; starting over")
                    }
                    try file.write(chunk, at: state.received)
                    state.received += size
                }
            } catch let error as FalError {
                throw error
            } catch let error as DownloadInterruption {
                throw error
            } catch {
                if Task.isCancelled { throw CancellationError() }
                throw DownloadInterruption(reason: FalClient.brief(error, redactor: redactor))
            }
            if let end, state.received < end {
                throw DownloadInterruption(reason: "the body ended early, at byte \(state.received) of \(end)")
            }
            if let total = state.total, state.received < total { return false }
            return true
        }
        throw FalError(.httpStatus, method: "GET", url: redactor.url(url), reason: "more than 5 redirects")
    }

    /// `Content-Range: bytes first-last/total` (total may be `*`).
    struct ContentRange: Equatable {
        var first: Int64
        var last: Int64
        var total: Int64?

        init(first: Int64, last: Int64, total: Int64?) {
            self.first = first
            self.last = last
            self.total = total
        }

        /// Parses a satisfied range; nil when absent or malformed (or `bytes */total`).
        init?(_ header: String?) {
            guard let value = ContentRange.spec(header) else { return nil }
            let parts = value.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { return nil }
            let bounds = parts[0].split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
            guard bounds.count == 2, let first = Int64(bounds[0]), let last = Int64(bounds[1]), first >= 0, last >= first else {
                return nil
            }
            if parts[1] == "*" {
                total = nil
            } else {
                guard let total = Int64(parts[1]), total > last else { return nil }
                self.total = total
            }
            self.first = first
            self.last = last
        }

        /// The total of an unsatisfied range (`bytes */total`), as a 416 carries it.
        static func unsatisfiedTotal(_ header: String?) -> Int64? {
            guard let value = spec(header), value.hasPrefix("*/") else { return nil }
            return Int64(value.dropFirst(2)).flatMap { $0 >= 0 ? $0 : nil }
        }

        private static func spec(_ header: String?) -> String? {
            guard let header = header?.trimmingCharacters(in: .whitespaces), header.lowercased().hasPrefix("bytes ") else {
                return nil
            }
            return header.dropFirst("bytes ".count).trimmingCharacters(in: .whitespaces)
        }
    }

    /// "10 s", "1.5 s", "10 min".
    static func seconds(_ duration: Duration) -> String {
        let s = duration.seconds
        if s >= 120, s.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(s / 60)) min" }
        return s == s.rounded() ? "\(Int(s)) s" : String(format: "%.1f s", s)
    }

    // MARK: - HTTP with retries

    /// One HTTP call as the client describes it.
    struct HTTPCall {
        var method: HTTPMethod
        var url: String
        /// What the URL is, for messages ("status_url").
        var role: String
        /// What the call does, for events and logs ("submit").
        var operation: String
        /// Whether the key is sent.
        var authorized: Bool
        var body: [UInt8]? = nil
        var contentType: String? = nil
        var accept: String? = "application/json"
        var timeout: Duration
        var requestID: String? = nil
        /// More request headers (Range, If-Range, …).
        var headers: [(String, String)] = []

        var methodName: String { method.rawValue }
    }

    /// The temporary file a download streams into, written at explicit offsets so that an
    /// attempt can append to what earlier attempts received, or start over.
    final class DownloadFile {
        let path: String
        private var fd: Int32

        init(path: String) throws {
            self.path = path
            fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw FalError(.fileError, url: path, reason: "cannot create the download file: \(String(cString: strerror(errno)))")
            }
        }

        deinit { close() }

        /// Writes all of `buffer` at `offset`.
        func write(_ buffer: ByteBuffer, at offset: Int64) throws {
            try buffer.withUnsafeReadableBytes { raw in
                var done = 0
                while done < raw.count {
                    let n = pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(offset) + off_t(done))
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw FalError(.fileError, url: path, reason: "cannot write the download: \(String(cString: strerror(errno)))")
                    }
                    done += n
                }
            }
        }

        /// Cuts the file to `length` bytes.
        func truncate(to length: Int64) throws {
            guard ftruncate(fd, off_t(length)) == 0 else {
                throw FalError(.fileError, url: path, reason: "cannot truncate the download: \(String(cString: strerror(errno)))")
            }
        }

        /// Flushes the file to disk and closes it.
        func finish() throws {
            guard fsync(fd) == 0 else {
                throw FalError(.fileError, url: path, reason: "cannot flush the download: \(String(cString: strerror(errno)))")
            }
            close()
        }

        /// Closes the file (once).
        func close() {
            if fd >= 0 {
                closeDescriptor(fd)
                fd = -1
            }
        }
    }

    /// A complete response.
    struct HTTPReply: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]
        /// Why retrying stopped, when it did ("gave up after 6 attempts").
        var note: String? = nil
        var isSuccess: Bool { (200..<300).contains(status) }
        /// ` (note)`, or nothing.
        var noteSuffix: String { note.map { " (\($0))" } ?? "" }
    }

    /// How a call may be retried.
    enum RetryKind {
        /// Safe to repeat: retry transport errors and the retryable statuses.
        case idempotent
        /// A submit: retry only what certainly did not reach the queue.
        case submit
        /// A result fetch: as idempotent, but a 5xx that carries fal's `error_type` is the
        /// model's answer, not a hiccup (unless `X-Fal-Retryable: true`).
        case result
        /// The result of a request known to have failed: retry only transport errors and 429.
        case failedResult
    }

    /// The outcome of one attempt.
    enum Attempt<T> {
        case done(T)
        /// Worth retrying; if we give up, `giveUp(why)` says what to return or throw.
        case retry(reason: String, retryAfter: Duration?, giveUp: (_ why: String) -> Result<T, FalError>)
    }

    /// A transport failure, with whether the request certainly never left this machine.
    struct TransportFailure: Error {
        var error: FalError
        var notSent: Bool
        /// The failure in a few words, for progress lines ("connection reset").
        var brief: String = "the connection failed"
    }

    /// Sends a call, retrying per `kind` and the retry policy, and returns the last response
    /// (2xx, or the final non-2xx for the caller to explain).
    private func send(_ call: HTTPCall, kind: RetryKind,
                      onEvent: @escaping @Sendable (FalEvent) -> Void) async throws -> HTTPReply {
        try await retrying(operation: call.operation, kind: kind, onEvent: onEvent) { _ in
            let response = try await execute(call)
            let body: ByteBuffer
            do {
                body = try await response.body.collect(upTo: configuration.maxResponseBytes)
            } catch is NIOTooManyBytesError {
                throw FalError(.unexpectedResponse, method: call.methodName, url: redactor.url(call.url),
                               reason: "the response is larger than \(configuration.maxResponseBytes) bytes")
            } catch {
                throw FalClient.transportFailure(error, call: call, redactor: redactor)
            }
            let reply = HTTPReply(status: Int(response.status.code), headers: response.headers,
                                  body: Array(body.readableBytesView))
            logger.debug("http", metadata: ["method": "\(call.methodName)", "url": "\(redactor.url(call.url))",
                                            "status": "\(reply.status)"])
            if let verdict = verdict(reply, kind: kind) {
                return .retry(reason: verdict.reason, retryAfter: verdict.retryAfter, giveUp: { why in
                    var final = reply
                    final.note = why
                    return .success(final)
                })
            }
            return .done(reply)
        }
    }

    /// Runs `attempt` until it is done, retrying per the policy. Transport failures are retried
    /// per `kind`; when giving up they become ``FalError``s.
    private func retrying<T: Sendable>(operation: String, kind: RetryKind,
                                       onEvent: @escaping @Sendable (FalEvent) -> Void,
                                       _ attempt: (Int) async throws -> Attempt<T>) async throws -> T {
        let policy = configuration.retry
        let clock = ContinuousClock()
        let start = clock.now
        var number = 1
        while true {
            try Task.checkCancellation()
            let outcome: Attempt<T>
            do {
                outcome = try await attempt(number)
            } catch let failure as TransportFailure {
                if Task.isCancelled { throw CancellationError() }
                if kind == .submit && !failure.notSent {
                    // The request left this machine: the queue may have it. Never resubmit.
                    throw FalError(.submitOutcomeUnknown, method: failure.error.method, url: failure.error.url,
                                   reason: "\(failure.error.reason) after the request was sent; it may have been"
                                       + " accepted (and billed), so it was not resubmitted",
                                   mayHaveBeenAccepted: true)
                }
                let giveUp = kind == .submit
                    ? failure.error.with(reason: failure.error.reason + "; the request was not submitted")
                    : failure.error
                outcome = .retry(reason: failure.error.reason, retryAfter: nil, giveUp: { why in
                    .failure(giveUp.with(reason: "\(giveUp.reason) (\(why))"))
                })
            }
            switch outcome {
            case .done(let value):
                return value
            case .retry(let reason, let retryAfter, let giveUp):
                func stop(_ why: String) throws -> T {
                    logger.warning("giving up", metadata: ["operation": "\(operation)", "why": "\(why)"])
                    return try giveUp(why).get()
                }
                if number >= policy.maxAttempts {
                    return try stop("gave up after \(number) attempt\(number == 1 ? "" : "s")")
                }
                if let retryAfter, retryAfter > policy.maxRetryAfter {
                    return try stop("the server asked to retry after \(Int(retryAfter.seconds)) s, more than the \(Int(policy.maxRetryAfter.seconds)) s we wait")
                }
                let delay = policy.delay(retry: number, retryAfter: retryAfter)
                if clock.now - start + delay > policy.maxTotalTime {
                    return try stop("gave up after \(number) attempts in \(String(format: "%.1f", (clock.now - start).seconds)) s")
                }
                logger.notice("retrying", metadata: ["operation": "\(operation)", "attempt": "\(number + 1)",
                                                     "delay_s": "\(String(format: "%.3f", delay.seconds))",
                                                     "reason": "\(reason)"])
                onEvent(.retrying(operation: operation, attempt: number + 1, delay: delay, reason: reason))
                try await configuration.sleep(delay)
                number += 1
            }
        }
    }

    /// Whether a response is worth retrying for a call of `kind`, and after how long at least.
    private func verdict(_ reply: HTTPReply, kind: RetryKind) -> (reason: String, retryAfter: Duration?)? {
        let status = reply.status
        let headers = reply.headers
        let retryAfter = FalClient.retryAfter(headers)
        let reason = "HTTP \(status)"
        if headers.first(name: "x-fal-retryable")?.lowercased() == "false" { return nil }
        if status == 504, headers.first(name: "x-fal-request-timeout-type")?.lowercased() == "user" { return nil }
        switch kind {
        case .submit:
            if status == 429 { return (reason, retryAfter) }
            if [502, 503, 504].contains(status) && headers.first(name: "x-fal-request-id") == nil {
                return (reason + " from the ingress (no x-fal-request-id)", retryAfter)
            }
            return nil
        case .failedResult:
            return status == 429 ? (reason, retryAfter) : nil
        case .result:
            guard [408, 409, 429, 500, 502, 503, 504].contains(status) else { return nil }
            if status >= 500, headers.first(name: "x-fal-retryable")?.lowercased() != "true" {
                let body = FalErrorBody(bytes: reply.body, headerErrorType: headers.first(name: "x-fal-error-type"),
                                        redactor: redactor)
                if body.errorType != nil { return nil }
            }
            return (reason, retryAfter)
        case .idempotent:
            return [408, 409, 429, 500, 502, 503, 504].contains(status) ? (reason, retryAfter) : nil
        }
    }

    /// One HTTP exchange up to the response head. Checks the URL first.
    private func execute(_ call: HTTPCall) async throws -> HTTPClientResponse {
        try URLRules.check(call.url, role: call.role, redactor: redactor)
        var request = HTTPClientRequest(url: call.url)
        request.method = call.method
        request.headers.add(name: "User-Agent", value: configuration.userAgent)
        if let accept = call.accept { request.headers.add(name: "Accept", value: accept) }
        for (name, value) in call.headers { request.headers.add(name: name, value: value) }
        if call.authorized { request.headers.add(name: "Authorization", value: credentials.headerValue) }
        if let body = call.body {
            // AsyncHTTPClient sets Content-Length (0 for a bodiless PUT or POST) itself.
            request.headers.add(name: "Content-Type", value: call.contentType ?? "application/octet-stream")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        do {
            // No logger: AsyncHTTPClient's trace logs would include our headers.
            return try await http.execute(request, timeout: .init(call.timeout), logger: nil)
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw FalClient.transportFailure(error, call: call, redactor: redactor)
        }
    }

    /// Wraps a network error; FalErrors (our own checks) pass through unchanged.
    private static func transportFailure(_ error: any Error, call: HTTPCall, redactor: Redactor) -> any Error {
        if error is FalError || error is CancellationError || error is TransportFailure { return error }
        let notSent = isConnectFailure(error)
        let what = notSent ? "could not connect" : "the connection failed"
        return TransportFailure(
            error: FalError(.transport, method: call.methodName, url: redactor.url(call.url),
                            reason: "\(what): \(redactor.text(describe(error), limit: 200))", requestID: call.requestID),
            notSent: notSent, brief: brief(error, redactor: redactor))
    }

    /// A network failure in a few words, for progress lines.
    static func brief(_ error: any Error, redactor: Redactor) -> String {
        if isConnectFailure(error) { return "could not connect" }
        if let error = error as? IOError {
            switch error.errnoCode {
            case ECONNRESET: return "connection reset"
            case EPIPE: return "connection broken"
            case ETIMEDOUT: return "connection timed out"
            default: return "connection failed (\(String(cString: strerror(error.errnoCode))))"
            }
        }
        if let error = error as? HTTPClientError {
            switch error {
            case .remoteConnectionClosed: return "the server closed the connection"
            case .readTimeout: return "no data within the read timeout"
            case .deadlineExceeded: return "the attempt took longer than its time limit"
            default: break
            }
        }
        if let error = error as? HTTPParserError {
            return error == .invalidEOFState ? "the body ended early" : "the response could not be read (\(error))"
        }
        return redactor.text(describe(error), limit: 120)
    }

    /// True for failures that happen before any byte of the request is sent.
    static func isConnectFailure(_ error: any Error) -> Bool {
        if error is NIOConnectionError { return true }
        if let error = error as? HTTPClientError {
            return [.connectTimeout, .getConnectionFromPoolTimeout, .tlsHandshakeTimeout, .socksHandshakeTimeout,
                    .httpProxyHandshakeTimeout].contains(error)
        }
        if let error = error as? ChannelError, case .connectTimeout(_) = error { return true }
        if let error = error as? IOError {
            return [ECONNREFUSED, ENETUNREACH, EHOSTUNREACH, EADDRNOTAVAIL].contains(error.errnoCode)
        }
        return false
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .remoteConnectionClosed: return "the server closed the connection without a response"
            case .readTimeout: return "no data from the server within the read timeout"
            case .deadlineExceeded: return "the request took longer than its deadline"
            case .connectTimeout: return "connecting timed out"
            default: return String(describing: error)
            }
        }
        if let error = error as? NIOConnectionError {
            if let dns = error.dnsAError ?? error.dnsAAAAError { return "cannot resolve \(error.host): \(dns)" }
            let reasons = error.connectionErrors.map { "\($0.error)" }
            return "connection to \(error.host):\(error.port) refused or unreachable"
                + (reasons.isEmpty ? "" : " (\(reasons.joined(separator: "; ")))")
        }
        return String(describing: error)
    }

    /// `Retry-After` as seconds or an HTTP date, nil when absent or unreadable.
    static func retryAfter(_ headers: HTTPHeaders, now: Date = Date()) -> Duration? {
        guard let value = headers.first(name: "retry-after")?.trimmingCharacters(in: .whitespaces), !value.isEmpty else {
            return nil
        }
        if let seconds = Double(value), seconds.isFinite, seconds >= 0 { return .seconds(seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: value) {
                return .seconds(max(0, date.timeIntervalSince(now)))
            }
        }
        return nil
    }

    // MARK: - Errors from responses

    private func httpError(_ call: HTTPCall, _ reply: HTTPReply, what: String) -> FalError {
        let body = FalErrorBody(bytes: reply.body, headerErrorType: reply.headers.first(name: "x-fal-error-type"),
                                redactor: redactor)
        let requestID = reply.headers.first(name: "x-fal-request-id") ?? call.requestID
        return FalError(.httpStatus, method: call.methodName, url: redactor.url(call.url),
                        reason: "\(what): HTTP \(reply.status)" + (body.detail.map { ": \($0)" } ?? "")
                            + (body.errorType.map { " (error_type \($0))" } ?? "") + reply.noteSuffix,
                        statusCode: reply.status, requestID: requestID, errorType: body.errorType, detail: body.detail,
                        fieldErrors: body.fieldErrors)
    }

    private func validationError(_ call: HTTPCall, _ reply: HTTPReply) -> FalError {
        let body = FalErrorBody(bytes: reply.body, headerErrorType: reply.headers.first(name: "x-fal-error-type"),
                                redactor: redactor)
        return FalError(.validationFailed, method: call.methodName, url: redactor.url(call.url),
                        reason: "the server rejected the input (422): " + (body.detail ?? "no details"),
                        statusCode: 422, requestID: reply.headers.first(name: "x-fal-request-id") ?? call.requestID,
                        errorType: body.errorType, detail: body.detail, fieldErrors: body.fieldErrors)
    }

    private func resultError(_ call: HTTPCall, _ reply: HTTPReply, _ handle: FalRequestHandle) -> FalError {
        if reply.status == 422 { return validationError(call, reply) }
        let body = FalErrorBody(bytes: reply.body, headerErrorType: reply.headers.first(name: "x-fal-error-type"),
                                redactor: redactor)
        return FalError(.generationFailed, method: call.methodName, url: redactor.url(call.url),
                        reason: "generation failed: HTTP \(reply.status)" + (body.detail.map { ": \($0)" } ?? "")
                            + " (error_type \(body.errorType ?? "unknown"), request \(handle.requestID))" + reply.noteSuffix,
                        statusCode: reply.status, requestID: handle.requestID, errorType: body.errorType,
                        detail: body.detail, fieldErrors: body.fieldErrors)
    }

    private func unexpected(_ call: HTTPCall, _ reply: HTTPReply, _ what: String) -> FalError {
        let excerpt = redactor.text(String(decoding: reply.body.prefix(200), as: UTF8.self), limit: 120)
        return FalError(.unexpectedResponse, method: call.methodName, url: redactor.url(call.url),
                        reason: "\(what) (HTTP \(reply.status): \(excerpt.isEmpty ? "empty body" : excerpt))",
                        statusCode: reply.status, requestID: reply.headers.first(name: "x-fal-request-id") ?? call.requestID)
    }

    // MARK: - Helpers

    private static func logs(_ value: JSONValue?) -> [FalLogEntry] {
        guard let items = value?.array else { return [] }
        return items.map { item in
            FalLogEntry(message: item["message"]?.string ?? item.text, level: item["level"]?.string,
                        source: item["source"]?.string, timestamp: item["timestamp"]?.string)
        }
    }

    /// The encoder for request bodies (URLs stay readable: no escaped slashes).
    private static var json: JSONEncoder {
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


/// libc's `close`, out of reach of methods that are themselves called `close`.
private func closeDescriptor(_ fd: Int32) {
    _ = close(fd)
}
