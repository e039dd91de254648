// Which failed calls the fal client repeats, after how long, and when it stops: a value that
// takes the exchange as a closure, so its rules can be tested without a network.

import Foundation
import Logging
import NIOHTTP1

/// How a call may be retried.
enum RetryKind: Sendable {
    /// Safe to repeat: retry transport errors and the retryable statuses.
    case idempotent
    /// A submit: retry only what certainly did not reach the queue.
    case submit
    /// A result fetch: as idempotent, but a 5xx that carries fal's `error_type` is the
    /// model's answer, not a hiccup (unless `X-Fal-Retryable: true`).
    case result
    /// The result of a request known to have failed: retry only transport errors and 429.
    case failedResult
    /// A submit to an API whose answers say when it refused one (WaveSpeed's envelope): as
    /// `.submit`, but a 5xx is retried only when `isRefusal` recognises the API's own refusal in
    /// it, and any other 5xx may have been accepted.
    case refusableSubmit(isRefusal: @Sendable (HTTPReply) -> Bool)

    /// Whether the call is a submit of either kind (billed once accepted).
    var isSubmit: Bool {
        switch self {
        case .submit, .refusableSubmit: return true
        default: return false
        }
    }
}

/// The fal client's retry rules for API calls (the result download has its own, see
/// ``DownloadRetryPolicy``).
///
/// - Retried: transport failures, and 408, 409, 429, 500, 502, 503, 504 — never a response with
///   `X-Fal-Retryable: false` or a 504 with `X-Fal-Request-Timeout-Type: user` (the request's own
///   time limit), and per ``RetryKind`` fewer.
/// - Waits: ``RetryPolicy/delay(retry:retryAfter:)``, stretched to a `Retry-After`; a
///   `Retry-After` longer than ``RetryPolicy/maxRetryAfter`` ends the retries.
/// - Stops after ``RetryPolicy/maxAttempts`` attempts, or when the next wait would end after
///   ``RetryPolicy/maxTotalTime``; the last response is returned with a note saying why (for
///   the caller's error), the last transport failure is thrown with it.
/// - Submits are billed once accepted, so a submit is retried only when it certainly did not
///   reach the queue: it could not connect, or got 429, or 502/503/504 from the ingress (without
///   `x-fal-request-id`), or (``RetryKind/refusableSubmit(isRefusal:)``) a 5xx the API marks as
///   its refusal. A connection that failed after sending, or any other 5xx, throws
///   ``FalError/Kind/submitOutcomeUnknown``.
struct RetryEngine: Sendable {
    /// Attempts, delays and time limits.
    var policy: RetryPolicy
    /// How to wait between attempts (tests record instead of waiting).
    var sleep: @Sendable (Duration) async throws -> Void
    /// Retries are logged at `.notice`, giving up at `.warning`.
    var logger: Logger
    /// Keeps the key out of texts made from responses.
    var redactor: Redactor

    /// Runs `attempt` (given the attempt's number, from 1) until it returns a response that is
    /// not retried, retrying per `kind` and ``policy``.
    /// - Parameters:
    ///   - call: what is sent, for events, logs and errors.
    ///   - kind: which failures may be retried.
    ///   - onEvent: receives ``FalEvent/retrying(operation:attempt:delay:reason:)`` before each wait.
    ///   - attempt: one exchange; throws ``TransportFailure`` for a network failure.
    /// - Returns: the last response: 2xx, or the final non-2xx for the caller to explain (with
    ///   ``HTTPReply/note`` saying why retrying stopped, when it did).
    /// - Throws: the last transport failure's ``FalError`` when retrying stopped, naming the
    ///   attempts; ``FalError/Kind/submitOutcomeUnknown`` per the submit rule above; what
    ///   `attempt` throws otherwise; `CancellationError`.
    func run(
        _ call: HTTPCall, kind: RetryKind, onEvent: @escaping @Sendable (FalEvent) -> Void = { _ in },
        attempt: (_ number: Int) async throws -> HTTPReply
    ) async throws -> HTTPReply {
        let clock = ContinuousClock()
        let start = clock.now
        var number = 1
        while true {
            try Task.checkCancellation()
            let reason: String
            let retryAfter: Duration?
            /// What to return or throw when retrying stops, given why.
            let giveUp: (_ why: String) throws -> HTTPReply
            do {
                let reply = try await attempt(number)
                guard let verdict = verdict(reply, kind: kind) else { return try checkedFinal(reply, call: call, kind: kind) }
                reason = verdict.reason
                retryAfter = verdict.retryAfter
                giveUp = { why in
                    var final = reply
                    final.note = why
                    return try checkedFinal(final, call: call, kind: kind)
                }
            } catch let failure as TransportFailure {
                if Task.isCancelled { throw CancellationError() }
                if kind.isSubmit && !failure.notSent {
                    // The request left this machine: the queue may have it. Never resubmit.
                    throw FalError.submitOutcomeUnknown(after: failure)
                }
                let error =
                    kind.isSubmit
                    ? failure.error.with(reason: failure.error.reason + "; the request was not submitted")
                    : failure.error
                reason = failure.error.reason
                retryAfter = nil
                giveUp = { why in throw error.with(reason: "\(error.reason) (\(why))") }
            }
            func stop(_ why: String) throws -> HTTPReply {
                logger.warning("giving up", metadata: ["operation": "\(call.operation)", "why": "\(why)"])
                return try giveUp(why)
            }
            if number >= policy.maxAttempts {
                return try stop("gave up after \(number) attempt\(number == 1 ? "" : "s")")
            }
            if let retryAfter, retryAfter > policy.maxRetryAfter {
                return try stop(
                    "the server asked to retry after \(Int(retryAfter.seconds)) s, more than the \(Int(policy.maxRetryAfter.seconds)) s we wait"
                )
            }
            let delay = policy.delay(retry: number, retryAfter: retryAfter)
            if clock.now - start + delay > policy.maxTotalTime {
                return try stop("gave up after \(number) attempts in \(String(format: "%.1f", (clock.now - start).seconds)) s")
            }
            logger.notice(
                "retrying",
                metadata: [
                    "operation": "\(call.operation)", "attempt": "\(number + 1)",
                    "delay_s": "\(String(format: "%.3f", delay.seconds))",
                    "reason": "\(reason)",
                ])
            onEvent(.retrying(operation: call.operation, attempt: number + 1, delay: delay, reason: reason))
            try await sleep(delay)
            number += 1
        }
    }

    /// The last response of a call; for a submit, a 5xx that may have reached the queue throws
    /// ``FalError/Kind/submitOutcomeUnknown`` instead.
    private func checkedFinal(_ reply: HTTPReply, call: HTTPCall, kind: RetryKind) throws -> HTTPReply {
        switch kind {
        case .submit where reply.status >= 500 && !RetryEngine.isFromIngress(reply):
            throw FalError.submitOutcomeUnknown(call, reply, redactor: redactor)
        case .refusableSubmit(let isRefusal) where reply.status >= 500 && !isRefusal(reply):
            throw FalError.submitOutcomeUnknown(call, reply, redactor: redactor)
        default:
            return reply
        }
    }

    /// A 502, 503 or 504 without `x-fal-request-id`: the ingress answered, the queue never saw
    /// the request.
    static func isFromIngress(_ reply: HTTPReply) -> Bool {
        [502, 503, 504].contains(reply.status) && reply.headers.first(name: "x-fal-request-id") == nil
    }

    /// Whether a response is worth retrying for a call of `kind`, and after how long at least.
    func verdict(_ reply: HTTPReply, kind: RetryKind) -> (reason: String, retryAfter: Duration?)? {
        let status = reply.status
        let headers = reply.headers
        let retryAfter = RetryEngine.retryAfter(headers)
        let reason = "HTTP \(status)"
        if headers.first(name: "x-fal-retryable")?.lowercased() == "false" { return nil }
        if status == 504, headers.first(name: "x-fal-request-timeout-type")?.lowercased() == "user" { return nil }
        switch kind {
        case .submit:
            if status == 429 { return (reason, retryAfter) }
            if RetryEngine.isFromIngress(reply) {
                return (reason + " from the ingress (no x-fal-request-id)", retryAfter)
            }
            return nil
        case .refusableSubmit(let isRefusal):
            if status == 429 { return (reason, retryAfter) }
            if status >= 500 && isRefusal(reply) { return (reason + " (refused, not accepted)", retryAfter) }
            return nil
        case .failedResult:
            return status == 429 ? (reason, retryAfter) : nil
        case .result:
            guard [408, 409, 429, 500, 502, 503, 504].contains(status) else { return nil }
            if status >= 500, headers.first(name: "x-fal-retryable")?.lowercased() != "true" {
                let body = FalErrorBody(
                    bytes: reply.body, headerErrorType: headers.first(name: "x-fal-error-type"),
                    redactor: redactor)
                if body.errorType != nil { return nil }
            }
            return (reason, retryAfter)
        case .idempotent:
            return [408, 409, 429, 500, 502, 503, 504].contains(status) ? (reason, retryAfter) : nil
        }
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
}
