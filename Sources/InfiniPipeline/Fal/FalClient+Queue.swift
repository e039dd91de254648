// The queue: submit, status, polling, result, cancel.

import Foundation

extension FalClient {
    private struct SubmitReply: Decodable {
        let request_id: String
        let status_url: String?
        let response_url: String?
        let cancel_url: String?
    }

    /// Submits a request to the queue (after ``validate(_:)``).
    /// - Parameters:
    ///   - request: the model input.
    ///   - onEvent: receives retries and ``FalEvent/submitted(_:)``.
    /// - Returns: the handle to follow it by.
    /// - Throws: ``FalError``: `.invalidRequest` (nothing sent), `.validationFailed` (422),
    ///   `.submitOutcomeUnknown` (may have been accepted: not resubmitted), `.httpStatus`, `.transport`.
    public func submit(
        _ request: InfiniTalkRequest,
        onEvent: @escaping @Sendable (FalEvent) -> Void = { _ in }
    ) async throws -> FalRequestHandle {
        try FalClient.validate(request)
        return try await submit(json: [UInt8](try FalClient.json.encode(request)), to: endpoint, onEvent: onEvent)
    }

    /// Submits a JSON input to another endpoint's queue (a speech-to-text model, say), with the
    /// same key, retries and rules as ``submit(_:onEvent:)``.
    /// - Parameters:
    ///   - body: the input, a JSON object.
    ///   - endpoint: the endpoint to queue it on.
    ///   - onEvent: receives retries and ``FalEvent/submitted(_:)``.
    /// - Returns: the handle to follow it by (``waitForCompletion(_:pollImmediately:onEvent:)``,
    ///   then ``resultBody(_:onEvent:)``).
    /// - Throws: as ``submit(_:onEvent:)``.
    public func submit(
        json body: [UInt8], to endpoint: FalEndpointID,
        onEvent: @escaping @Sendable (FalEvent) -> Void = { _ in }
    ) async throws -> FalRequestHandle {
        let call = HTTPCall(
            method: .POST, url: "\(queueBase)/\(endpoint.rawValue)", role: "queue submit URL",
            operation: "submit", authorized: true, body: [UInt8](body), contentType: "application/json",
            timeout: configuration.requestTimeout)
        // The retry engine throws `.submitOutcomeUnknown` for a failure that may have reached the
        // queue; what comes back is a success, or a failure the queue certainly did not accept.
        let reply = try await send(call, kind: .submit, onEvent: onEvent)
        let headerID = reply.headers.first(name: "x-fal-request-id")
        guard reply.isSuccess else {
            if reply.status == 422 { throw FalError.validationFailed(call, reply, redactor: redactor) }
            throw FalError.httpStatus(call, reply, what: "submit failed (not queued)", redactor: redactor)
        }
        guard let parsed = try? JSONDecoder().decode(SubmitReply.self, from: Data(reply.body)),
            FalRequestHandle.isValidRequestID(parsed.request_id)
        else {
            throw FalError(
                .submitOutcomeUnknown, method: call.methodName, url: redactor.url(call.url),
                reason: "the submit response has no usable request_id; the request may have been accepted"
                    + " (and billed), so it was not resubmitted",
                statusCode: reply.status, requestID: headerID, mayHaveBeenAccepted: true)
        }
        let rebuilt = try FalRequestHandle(requestID: parsed.request_id, endpointID: endpoint, queueBaseURL: queueBase)
        let handle = FalRequestHandle(
            requestID: parsed.request_id, endpointID: endpoint,
            statusURL: parsed.status_url ?? rebuilt.statusURL,
            responseURL: parsed.response_url ?? rebuilt.responseURL,
            cancelURL: parsed.cancel_url ?? rebuilt.cancelURL)
        logger.debug("submitted", metadata: ["request": "\(handle.requestID)", "endpoint": "\(endpoint)"])
        onEvent(.submitted(handle))
        return handle
    }

    /// Asks for a request's status once (with its logs).
    /// - Parameters:
    ///   - handle: the request.
    ///   - onEvent: receives retries.
    /// - Returns: where the request stands.
    /// - Throws: ``FalError``: `.insecureURL` when the status URL is plain http to another host,
    ///   `.httpStatus`, `.transport`, `.unexpectedResponse`.
    public func status(
        _ handle: FalRequestHandle,
        onEvent: @escaping @Sendable (FalEvent) -> Void = { _ in }
    ) async throws -> FalStatus {
        let separator = handle.statusURL.contains("?") ? "&" : "?"
        let call = HTTPCall(
            method: .GET, url: handle.statusURL + separator + "logs=1", role: "status_url",
            operation: "status", authorized: true, timeout: configuration.requestTimeout,
            requestID: handle.requestID)
        let reply = try await send(call, kind: .idempotent, onEvent: onEvent)
        guard reply.isSuccess else { throw FalError.httpStatus(call, reply, what: "status request failed", redactor: redactor) }
        guard let json = JSONValue.parse(reply.body), let status = json["status"]?.string else {
            throw FalError.unexpected(call, reply, "the status response has no status", redactor: redactor)
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
            return .completed(
                FalCompletion(
                    logs: logs, inferenceTime: json["metrics"]?["inference_time"]?.double,
                    error: error, errorType: json["error_type"]?.string))
        default:
            throw FalError.unexpected(
                call, reply, "unknown request status \"\(redactor.text(status, limit: 40))\"",
                redactor: redactor)
        }
    }

    /// Polls a request until it completes, reporting queue positions, the start and new log lines
    /// as events. Intervals follow ``FalConfiguration/poll``.
    /// - Parameters:
    ///   - handle: the request.
    ///   - pollImmediately: ask at once (true), or wait one interval first (just after a submit).
    ///   - onEvent: receives queue positions, the start, log lines, retries and the completion.
    /// - Returns: the completion, which carries `error` when the request failed (this method
    ///   does not throw for that; ``generate(_:onEvent:)`` and ``resume(_:onEvent:)`` do).
    /// - Throws: ``FalError`` (`.timedOut` after `poll.maxWait`, and as ``status(_:onEvent:)``);
    ///   `CancellationError`.
    public func waitForCompletion(
        _ handle: FalRequestHandle, pollImmediately: Bool = true,
        onEvent: @escaping @Sendable (FalEvent) -> Void = { _ in }
    ) async throws -> FalCompletion {
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
                    logger.debug(
                        "queued", metadata: ["request": "\(handle.requestID)", "position": "\(position.map(String.init) ?? "?")"])
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
                logger.debug(
                    "completed",
                    metadata: [
                        "request": "\(handle.requestID)",
                        "failed": "\(completion.error != nil)",
                    ])
                onEvent(.completed(requestID: handle.requestID, inferenceTime: completion.inferenceTime))
                return completion
            }
            if let maxWait = policy.maxWait, clock.now - start + interval > maxWait {
                throw FalError(
                    .timedOut, method: "GET", url: redactor.url(handle.statusURL),
                    reason: "request \(handle.requestID) did not complete within \(Int(maxWait.seconds)) s;"
                        + " it may still run on fal: resume or cancel it by its id",
                    requestID: handle.requestID)
            }
            try await configuration.sleep(interval)
            interval = policy.next(after: interval)
        }
    }

    /// Fetches the output of a completed request.
    /// - Parameters:
    ///   - handle: the request.
    ///   - onEvent: receives retries.
    /// - Returns: the model's output.
    /// - Throws: ``FalError``: `.generationFailed` for any non-2xx answer (with fal's `detail`
    ///   and `error_type`), `.validationFailed` for a 422, `.unexpectedResponse` when the output
    ///   has no video, and the transport kinds.
    public func result(
        _ handle: FalRequestHandle,
        onEvent: @escaping @Sendable (FalEvent) -> Void = { _ in }
    ) async throws -> InfiniTalkResponse {
        let (call, reply) = try await fetchResult(handle, onEvent: onEvent)
        do {
            return try JSONDecoder().decode(InfiniTalkResponse.self, from: Data(reply.body))
        } catch {
            throw FalError.unexpected(
                call, reply, "the result of request \(handle.requestID) has no video",
                redactor: redactor)
        }
    }

    /// Fetches the output of a completed request of any endpoint, as the JSON bytes fal sent.
    /// - Throws: as ``result(_:onEvent:)``, except that any body is accepted.
    public func resultBody(
        _ handle: FalRequestHandle,
        onEvent: @escaping @Sendable (FalEvent) -> Void = { _ in }
    ) async throws -> [UInt8] {
        try await fetchResult(handle, onEvent: onEvent).reply.body
    }

    private func fetchResult(
        _ handle: FalRequestHandle, onEvent: @escaping @Sendable (FalEvent) -> Void
    ) async throws -> (call: HTTPCall, reply: HTTPReply) {
        let call = HTTPCall(
            method: .GET, url: handle.responseURL, role: "response_url", operation: "result",
            authorized: true, timeout: configuration.requestTimeout, requestID: handle.requestID)
        let reply = try await send(call, kind: .result, onEvent: onEvent)
        guard reply.isSuccess else {
            throw FalError.resultFailed(call, reply, requestID: handle.requestID, redactor: redactor)
        }
        return (call, reply)
    }

    /// Fetches the result of a request known to have failed, once, for its explanation.
    func resultFailure(_ handle: FalRequestHandle) async throws -> FalError? {
        let call = HTTPCall(
            method: .GET, url: handle.responseURL, role: "response_url", operation: "result",
            authorized: true, timeout: configuration.requestTimeout, requestID: handle.requestID)
        do {
            let reply = try await send(call, kind: .failedResult, onEvent: { _ in })
            return reply.isSuccess ? nil : FalError.resultFailed(call, reply, requestID: handle.requestID, redactor: redactor)
        } catch let error as FalError where error.kind == .transport || error.kind == .httpStatus {
            return nil
        }
    }

    private struct CancelReply: Decodable { let status: String }

    /// Asks fal to cancel a request: a queued one is removed, a running one is told to stop.
    /// - Parameters:
    ///   - handle: the request.
    ///   - onEvent: receives retries.
    /// - Returns: what fal reported (`ALREADY_COMPLETED` and `NOT_FOUND` are answers, not errors).
    /// - Throws: ``FalError``: `.insecureURL`, `.httpStatus`, `.transport`.
    @discardableResult
    public func cancel(
        _ handle: FalRequestHandle,
        onEvent: @escaping @Sendable (FalEvent) -> Void = { _ in }
    ) async throws -> FalCancelOutcome {
        let call = HTTPCall(
            method: .PUT, url: handle.cancelURL, role: "cancel_url", operation: "cancel",
            authorized: true, timeout: configuration.requestTimeout, requestID: handle.requestID)
        let reply = try await send(call, kind: .idempotent, onEvent: onEvent)
        if let parsed = try? JSONDecoder().decode(CancelReply.self, from: Data(reply.body)),
            let outcome = FalCancelOutcome(rawValue: parsed.status)
        {
            logger.info("cancel", metadata: ["request": "\(handle.requestID)", "outcome": "\(outcome.rawValue)"])
            return outcome
        }
        if reply.isSuccess { return .ok }
        if reply.status == 404 { return .notFound }
        throw FalError.httpStatus(call, reply, what: "cancel failed", redactor: redactor)
    }

    /// Checks a request against the endpoint's rules (``InfiniTalkRequest/problems``) before
    /// anything is sent; the client does this before every submit.
    /// - Parameter request: the model input.
    /// - Throws: ``FalError`` (`.invalidRequest`) listing every violation in
    ///   ``FalError/fieldErrors`` (at `body.<field>`, as a 422 would).
    public static func validate(_ request: InfiniTalkRequest) throws {
        let problems = request.problems
        guard problems.isEmpty else {
            let fields = problems.map {
                FalError.FieldError(location: ["body", $0.field], message: $0.reason, type: "value_error")
            }
            throw FalError(
                .invalidRequest,
                reason: "invalid \(InfiniTalk.endpoint) input: " + fields.map(\.description).joined(separator: "; "),
                fieldErrors: fields)
        }
    }

    private static func logs(_ value: JSONValue?) -> [FalLogEntry] {
        guard let items = value?.array else { return [] }
        return items.map { item in
            FalLogEntry(
                message: item["message"]?.string ?? item.text, level: item["level"]?.string,
                source: item["source"]?.string, timestamp: item["timestamp"]?.string)
        }
    }
}
