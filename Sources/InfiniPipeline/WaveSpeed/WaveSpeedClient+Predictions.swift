// Predictions: submit a task, ask for its result, wait until it ends.

import Foundation
import NIOHTTP1

extension WaveSpeedClient {
    /// Submits a task (`POST /api/v3/{model}` with the input as its JSON body).
    ///
    /// A submit is billed once accepted, so it is retried only when it certainly was not: it
    /// could not connect, or was refused with 429 or a 5xx carrying WaveSpeed's error envelope.
    /// Record the returned id before anything else.
    /// - Parameters:
    ///   - input: the model input.
    ///   - onEvent: receives retries and ``WaveSpeedEvent/submitted(id:status:)``.
    /// - Returns: the task, `created` (or further) with its id.
    /// - Throws: ``WaveSpeedError``: `.invalidRequest` before anything is sent;
    ///   `.submitOutcomeUnknown` (``WaveSpeedError/mayHaveBeenAccepted``) when the answer never
    ///   arrived after the body was sent, was a 5xx without the envelope, or had no task id;
    ///   `.apiError`, `.httpStatus` for a refusal (not accepted); `.transport` when it could not
    ///   connect after the retries (not sent).
    public func submit(
        _ input: WaveSpeedInput, onEvent: @escaping @Sendable (WaveSpeedEvent) -> Void = { _ in }
    ) async throws -> WaveSpeedPrediction {
        let missing = [("image", input.image), ("audio", input.audio)].filter { $0.1.isEmpty }.map(\.0)
        guard missing.isEmpty else {
            throw WaveSpeedError(
                .invalidRequest, reason: "the \(configuration.modelID) input has no \(missing.joined(separator: " and ")) URL")
        }
        let call = apiCall(
            .POST, "/api/v3/\(configuration.modelID)", operation: "submit",
            body: [UInt8](try WaveSpeedClient.json.encode(input)))
        let reply = try await send(call, kind: .refusableSubmit(isRefusal: { Envelope($0.body) != nil }), onEvent: onEvent)
        // What comes back is an answer: a success, or a refusal that was not retried (or no longer).
        let data = try self.data(call, reply, what: "the submit was refused (no task was created)")
        guard let id = data["id"]?.string, WaveSpeedClient.isValidTaskID(id) else {
            throw WaveSpeedError(
                .submitOutcomeUnknown, method: call.methodName, url: redactor.url(call.url),
                reason: "the submit's answer has no usable task id; the task may have been created"
                    + " (and billed), so it was not submitted again",
                statusCode: reply.status, mayHaveBeenAccepted: true)
        }
        let status = data["status"]?.string.map { WaveSpeedTaskStatus($0) } ?? .created
        logger.debug("submitted", metadata: ["task": "\(id)", "model": "\(configuration.modelID)"])
        onEvent(.submitted(id: id, status: status))
        return WaveSpeedPrediction(id: id, status: status)
    }

    /// Asks for a task's state once (`GET /api/v3/predictions/{id}/result`), retrying the GET on
    /// transport failures, 429 and 5xx.
    /// - Parameters:
    ///   - id: the task id.
    ///   - onEvent: receives retries.
    /// - Returns: where the task stands, its outputs when `completed`, its error when `failed`.
    /// - Throws: ``WaveSpeedError``: `.invalidURL` for a malformed id, `.httpStatus`, `.apiError`,
    ///   `.unexpectedResponse`, `.transport`.
    public func result(
        id: String, onEvent: @escaping @Sendable (WaveSpeedEvent) -> Void = { _ in }
    ) async throws -> WaveSpeedPrediction {
        guard WaveSpeedClient.isValidTaskID(id) else {
            throw WaveSpeedError(
                .invalidURL, reason: "\"\(redactor.text(id, limit: 80))\" is not a WaveSpeed task id", taskID: nil)
        }
        let call = apiCall(.GET, "/api/v3/predictions/\(id)/result", operation: "result", taskID: id)
        let reply = try await send(call, kind: .idempotent, taskID: id, onEvent: onEvent)
        let data = try self.data(call, reply, what: "the result of task \(id) could not be read", taskID: id)
        guard let status = data["status"]?.string, !status.isEmpty else {
            throw unexpected(call, reply, "the result of task \(id) has no status", id)
        }
        let outputs = (data["outputs"]?.array ?? []).compactMap(\.string)
        let error: String?
        switch data["error"] {
        case nil, .null?: error = nil
        case .string(let s)? where s.isEmpty: error = nil
        case let value?: error = redactor.text(value.string ?? value.text)
        }
        return WaveSpeedPrediction(id: id, status: WaveSpeedTaskStatus(status), outputs: outputs, error: error)
    }

    /// Polls a task until it ends: about once a second at first, then less often
    /// (``WaveSpeedConfiguration/poll``), reporting its state and the elapsed time after each
    /// poll. Each poll is retried as in ``result(id:onEvent:)``. A status the client does not
    /// know is taken as still running, as WaveSpeed's client does.
    ///
    /// Cancelling the task stops the waiting only: the task keeps running on WaveSpeed and can
    /// be waited for again by its id.
    /// - Parameters:
    ///   - id: the task id.
    ///   - progress: receives ``WaveSpeedEvent/progress(id:status:elapsed:)`` after each poll
    ///     that finds it `created` or `processing`, retries, and
    ///     ``WaveSpeedEvent/completed(id:elapsed:)``.
    /// - Returns: the completed task; its ``WaveSpeedPrediction/videoURL`` is the video.
    /// - Throws: ``WaveSpeedError``: `.taskFailed` when it ended `failed` (with
    ///   ``WaveSpeedError/isTransient`` for an upstream 5xx or 429), `cancelled`, `timeout` or
    ///   `deleted`; `.unexpectedResponse` when it completed without an output; `.timedOut` after
    ///   `poll.maxWait`; and as ``result(id:onEvent:)``; `CancellationError`.
    public func waitForResult(
        id: String, progress: @escaping @Sendable (WaveSpeedEvent) -> Void = { _ in }
    ) async throws -> WaveSpeedPrediction {
        let policy = configuration.poll
        let clock = ContinuousClock()
        let start = clock.now
        var interval = policy.initialInterval
        let resultURL = redactor.url("\(base)/api/v3/predictions/\(id)/result")
        while true {
            try Task.checkCancellation()
            let prediction = try await result(id: id, onEvent: progress)
            let elapsed = clock.now - start
            switch prediction.status {
            case .completed:
                guard let video = prediction.videoURL, !video.isEmpty else {
                    throw WaveSpeedError(
                        .unexpectedResponse, method: "GET", url: resultURL,
                        reason: "task \(id) completed without an output", taskID: id)
                }
                logger.debug("completed", metadata: ["task": "\(id)", "elapsed_s": "\(Int(elapsed.seconds))"])
                progress(.completed(id: id, elapsed: elapsed))
                return prediction
            case .failed, .cancelled, .timeout, .deleted:
                let message = prediction.error ?? "no error given"
                let transient = prediction.status == .failed && WaveSpeedClient.isTransientFailure(message)
                logger.debug("ended", metadata: ["task": "\(id)", "status": "\(prediction.status)"])
                throw WaveSpeedError(
                    .taskFailed, method: "GET", url: resultURL,
                    reason: "task \(id) \(prediction.status): \(message)"
                        + (transient ? " (a transient upstream error: it may be submitted again)" : ""),
                    detail: prediction.error, taskID: id, taskStatus: prediction.status.rawValue,
                    isTransient: transient)
            default:
                logger.debug("polled", metadata: ["task": "\(id)", "status": "\(prediction.status)"])
                progress(.progress(id: id, status: prediction.status, elapsed: elapsed))
            }
            if let maxWait = policy.maxWait, clock.now - start + interval > maxWait {
                throw WaveSpeedError(
                    .timedOut, method: "GET", url: resultURL,
                    reason: "task \(id) did not end within \(Int(maxWait.seconds)) s; it may still run on"
                        + " WaveSpeed: wait for it again by its id",
                    taskID: id)
            }
            try await configuration.sleep(interval)
            interval = policy.next(after: interval)
        }
    }

    /// Whether a failed task's error is a transient upstream one, worth submitting again: it
    /// names an upstream HTTP 5xx or 429 (WaveSpeed's official client's rule: the text holds
    /// `HTTP 5` or `HTTP 429`). Every other failure (a refused input, a content policy) would
    /// fail again.
    /// - Parameter message: the task's `error`.
    public static func isTransientFailure(_ message: String) -> Bool {
        message.contains("HTTP 5") || message.contains("HTTP 429")
    }

    /// WaveSpeed task ids are hex strings; we accept any run of letters, digits, `-` and `_`.
    static func isValidTaskID(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 200
            && id.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }
}
