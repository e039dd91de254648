import Foundation
import Logging
import NIOHTTP1
import Testing

@testable import InfiniPipeline

/// The retry rules without sockets: scripted replies and failures, a sleep that records.
@Suite("fal retry engine", .ownThreads)
struct RetryEngineTests {
    /// Records every wait the engine asks for and returns at once.
    private final class Sleeps: @unchecked Sendable {
        private let lock = NSLock()
        private var recorded: [Duration] = []

        var all: [Duration] { lock.withLock { recorded } }

        var sleep: @Sendable (Duration) async throws -> Void {
            { [self] duration in lock.withLock { recorded.append(duration) } }
        }
    }

    /// What each attempt does, in order: answer, or fail to connect, or fail after sending.
    private enum Step {
        case reply(Int, [(String, String)] = [], body: String = "")
        case refused
        case reset
    }

    /// Plays `steps` one per attempt and counts the attempts.
    private final class Script: @unchecked Sendable {
        private let lock = NSLock()
        private var steps: [Step]
        private(set) var attempts = 0
        let call: HTTPCall

        init(_ steps: [Step], call: HTTPCall) {
            self.steps = steps
            self.call = call
        }

        func next(_ number: Int) throws -> HTTPReply {
            let step: Step = lock.withLock {
                attempts += 1
                #expect(number == attempts, "the engine numbers attempts from 1")
                return steps.isEmpty ? .reply(200) : steps.removeFirst()
            }
            switch step {
            case .reply(let status, let headers, let body):
                return HTTPReply(status: status, headers: HTTPHeaders(headers), body: Array(body.utf8))
            case .refused:
                throw TransportFailure(
                    error: FalError(
                        .transport, method: call.methodName, url: call.url,
                        reason: "could not connect: connection refused"),
                    notSent: true, brief: "could not connect")
            case .reset:
                throw TransportFailure(
                    error: FalError(
                        .transport, method: call.methodName, url: call.url,
                        reason: "the connection failed: connection reset"),
                    notSent: false, brief: "connection reset")
            }
        }
    }

    private static let quiet = Logger(label: "retry-test") { _ in SwiftLogNoOpLogHandler() }

    private static let submitCall = HTTPCall(
        method: .POST, url: "https://queue.fal.run/fal-ai/infinitalk",
        role: "queue submit URL", operation: "submit", authorized: true,
        body: Array("{}".utf8), contentType: "application/json",
        timeout: .seconds(10))
    private static let statusCall = HTTPCall(
        method: .GET, url: "https://queue.fal.run/fal-ai/infinitalk/requests/r1/status",
        role: "status_url", operation: "status", authorized: true,
        timeout: .seconds(10), requestID: "r1")

    /// No jitter, so the delays are exact: 1 s, 2 s, 4 s, … up to 8 s; Retry-After up to 60 s.
    private static let policy = RetryPolicy(
        maxAttempts: 4, initialDelay: .seconds(1), multiplier: 2,
        maxDelay: .seconds(8), jitter: 0, maxTotalTime: .seconds(600),
        maxRetryAfter: .seconds(60))

    private func run(
        _ steps: [Step], call: HTTPCall = RetryEngineTests.statusCall, kind: RetryKind = .idempotent,
        policy: RetryPolicy = RetryEngineTests.policy
    ) async throws -> (HTTPReply, Script, [Duration], [FalEvent]) {
        let sleeps = Sleeps()
        let events = Events()
        let engine = RetryEngine(
            policy: policy, sleep: sleeps.sleep, logger: RetryEngineTests.quiet,
            redactor: Redactor(credentials: nil))
        let script = Script(steps, call: call)
        let reply = try await engine.run(call, kind: kind, onEvent: events.add) { try script.next($0) }
        return (reply, script, sleeps.all, events.all)
    }

    private final class Events: @unchecked Sendable {
        private let lock = NSLock()
        private var recorded: [FalEvent] = []
        var all: [FalEvent] { lock.withLock { recorded } }
        var add: @Sendable (FalEvent) -> Void { { [self] event in lock.withLock { recorded.append(event) } } }
    }

    /// Runs and expects a FalError.
    private func failure(
        _ steps: [Step], call: HTTPCall = RetryEngineTests.statusCall, kind: RetryKind = .idempotent,
        policy: RetryPolicy = RetryEngineTests.policy
    ) async -> (FalError?, attempts: Int) {
        let sleeps = Sleeps()
        let engine = RetryEngine(
            policy: policy, sleep: sleeps.sleep, logger: RetryEngineTests.quiet,
            redactor: Redactor(credentials: nil))
        let script = Script(steps, call: call)
        do {
            let reply = try await engine.run(call, kind: kind) { try script.next($0) }
            Issue.record("expected a FalError, got HTTP \(reply.status)")
        } catch let error as FalError {
            return (error, script.attempts)
        } catch {
            Issue.record("expected a FalError, got \(error)")
        }
        return (nil, script.attempts)
    }

    @Test func retriesA503ThenSucceeds() async throws {
        let (reply, script, sleeps, events) = try await run([.reply(503), .reply(503), .reply(200)])
        #expect(reply.status == 200 && reply.note == nil)
        #expect(script.attempts == 3)
        #expect(sleeps == [.seconds(1), .seconds(2)])
        #expect(
            events == [
                .retrying(operation: "status", attempt: 2, delay: .seconds(1), reason: "HTTP 503"),
                .retrying(operation: "status", attempt: 3, delay: .seconds(2), reason: "HTTP 503"),
            ])
    }

    @Test func retryAfterIsHonouredAndCapped() async throws {
        // Longer than the computed 1 s: waited as asked.
        let (reply, _, sleeps, _) = try await run([.reply(429, [("Retry-After", "7")]), .reply(200)])
        #expect(reply.status == 200)
        #expect(sleeps == [.seconds(7)])
        // Shorter than the computed delay: the computed delay stands.
        let (_, _, shorter, _) = try await run([.reply(503), .reply(503, [("Retry-After", "1")]), .reply(200)])
        #expect(shorter == [.seconds(1), .seconds(2)])
        // Longer than maxRetryAfter (60 s): no wait at all; the last answer comes back with why.
        let (capped, script, none, _) = try await run([.reply(503, [("Retry-After", "3600")])])
        #expect(capped.status == 503 && script.attempts == 1 && none.isEmpty)
        #expect(capped.note == "the server asked to retry after 3600 s, more than the 60 s we wait")
    }

    @Test func userTimeout504IsNotRetried() async throws {
        let (reply, script, sleeps, _) = try await run(
            [.reply(504, [("X-Fal-Request-Timeout-Type", "user")])],
            kind: .result)
        #expect(reply.status == 504 && reply.note == nil)
        #expect(script.attempts == 1 && sleeps.isEmpty)
        // Any other 504 is.
        let (other, retried, _, _) = try await run([.reply(504), .reply(200)], kind: .result)
        #expect(other.status == 200 && retried.attempts == 2)
        // So is nothing that says X-Fal-Retryable: false.
        let (refused, once, _, _) = try await run([.reply(503, [("X-Fal-Retryable", "false")])])
        #expect(refused.status == 503 && once.attempts == 1)
    }

    @Test func submit500WithRequestIDMayHaveBeenAccepted() async throws {
        let (error, attempts) = await failure(
            [.reply(500, [("x-fal-request-id", "abc-123")], body: #"{"detail":"boom"}"#)],
            call: Self.submitCall, kind: .submit)
        let unknown = try #require(error)
        #expect(unknown.kind == .submitOutcomeUnknown && unknown.mayHaveBeenAccepted)
        #expect(unknown.requestID == "abc-123" && unknown.statusCode == 500 && unknown.detail == "boom")
        #expect(unknown.description.contains("(x-fal-request-id abc-123)"))
        #expect(attempts == 1, "a submit that may have been queued is never sent again")
        // The same 503 with a request id came from behind the ingress: not retried either.
        let (behind, behindAttempts) = await failure(
            [.reply(503, [("x-fal-request-id", "abc-124")])],
            call: Self.submitCall, kind: .submit)
        #expect(behind?.kind == .submitOutcomeUnknown && behindAttempts == 1)
        // A 503 from the ingress (no request id) is retried.
        let (reply, script, _, _) = try await run([.reply(503), .reply(200)], call: Self.submitCall, kind: .submit)
        #expect(reply.status == 200 && script.attempts == 2)
    }

    @Test func submitConnectFailureIsRetried() async throws {
        let (reply, script, sleeps, events) = try await run(
            [.refused, .refused, .reply(200)], call: Self.submitCall,
            kind: .submit)
        #expect(reply.status == 200 && script.attempts == 3)
        #expect(sleeps == [.seconds(1), .seconds(2)])
        #expect(events.count == 2)
        // A connection that failed after the request was sent is never retried for a submit…
        let (sent, attempts) = await failure([.reset, .reply(200)], call: Self.submitCall, kind: .submit)
        #expect(sent?.kind == .submitOutcomeUnknown && sent?.mayHaveBeenAccepted == true && attempts == 1)
        #expect(sent?.description.contains("after the request was sent") == true)
        // …but is for a call that may be repeated.
        let (status, statusScript, _, _) = try await run([.reset, .reply(200)])
        #expect(status.status == 200 && statusScript.attempts == 2)
    }

    @Test func exhaustedAttemptsNameTheAttempts() async throws {
        // Transport failures: the last one is thrown, saying how many attempts were made.
        let (error, attempts) = await failure(
            [.refused, .refused, .refused, .refused, .refused],
            call: Self.submitCall, kind: .submit)
        let transport = try #require(error)
        #expect(transport.kind == .transport && attempts == 4)
        #expect(
            transport.reason == "could not connect: connection refused; the request was not submitted (gave up after 4 attempts)")
        // Answers: the last one comes back with the same note, for the caller's error.
        let (reply, script, sleeps, _) = try await run([.reply(502), .reply(502), .reply(502), .reply(502), .reply(200)])
        #expect(reply.status == 502 && script.attempts == 4)
        #expect(reply.note == "gave up after 4 attempts" && reply.noteSuffix == " (gave up after 4 attempts)")
        #expect(sleeps == [.seconds(1), .seconds(2), .seconds(4)])
        // One attempt only: "1 attempt".
        let (single, _) = await failure([.refused], policy: .none)
        #expect(single?.reason.hasSuffix("(gave up after 1 attempt)") == true)
    }

    @Test func resultErrorsWithAnErrorTypeAreTheModelsAnswer() async throws {
        // A 500 with fal's error_type is the generation's failure, not a hiccup…
        let body = #"{"detail":"Runner disconnected","error_type":"runner_disconnected"}"#
        let (reply, script, _, _) = try await run([.reply(500, body: body)], kind: .result)
        #expect(reply.status == 500 && script.attempts == 1)
        // …unless fal says it may be retried.
        let (retried, again, _, _) = try await run(
            [.reply(500, [("X-Fal-Retryable", "true")], body: body), .reply(200)],
            kind: .result)
        #expect(retried.status == 200 && again.attempts == 2)
        // A failed request's result is retried only for 429.
        let (failed, once, _, _) = try await run([.reply(503)], kind: .failedResult)
        #expect(failed.status == 503 && once.attempts == 1)
    }

    @Test func cancellationStopsTheRetries() async throws {
        let engine = RetryEngine(
            policy: Self.policy, sleep: { _ in throw CancellationError() },
            logger: RetryEngineTests.quiet, redactor: Redactor(credentials: nil))
        let script = Script([.reply(503), .reply(200)], call: Self.statusCall)
        await #expect(throws: CancellationError.self) {
            _ = try await engine.run(Self.statusCall, kind: .idempotent) { try script.next($0) }
        }
        #expect(script.attempts == 1)
    }

    @Test func retriesLogAtNoticeAndGivingUpAtWarning() async throws {
        let lines = LogLines()
        let engine = RetryEngine(
            policy: RetryPolicy(maxAttempts: 2, initialDelay: .seconds(1), jitter: 0),
            sleep: Sleeps().sleep, logger: Logger(label: "retry-test") { _ in LogLines.Handler(lines: lines) },
            redactor: Redactor(credentials: nil))
        let script = Script([.reply(503), .reply(503)], call: Self.statusCall)
        let reply = try await engine.run(Self.statusCall, kind: .idempotent) { try script.next($0) }
        #expect(reply.status == 503)
        #expect(lines.all == ["notice retrying", "warning giving up"])
    }

    /// Collects `level message` per log record.
    private final class LogLines: @unchecked Sendable {
        private let lock = NSLock()
        private var recorded: [String] = []
        var all: [String] { lock.withLock { recorded } }
        func add(_ line: String) { lock.withLock { recorded.append(line) } }

        struct Handler: LogHandler {
            let lines: LogLines
            var metadata: Logger.Metadata = [:]
            var logLevel: Logger.Level = .trace
            subscript(metadataKey key: String) -> Logger.Metadata.Value? {
                get { metadata[key] }
                set { metadata[key] = newValue }
            }
            func log(event: LogEvent) { lines.add("\(event.level) \(event.message)") }
        }
    }
}
