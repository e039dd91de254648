import AsyncHTTPClient
import FakeFal
import Foundation
import Logging
import NIOHTTP1
import Testing

@testable import InfiniPipeline

// MARK: - Harness

/// A key that looks real; nothing may ever print it, or either half of it.
let testKeyID = "fakeid-0123456789"
let testKeySecret = "sekrit-abcdef-9876543210"
let testKey = "\(testKeyID):\(testKeySecret)"

func containsSecret(_ text: String) -> Bool {
    text.contains(testKeySecret) || text.contains(testKeyID)
}

/// Collects every log record as one line.
final class LogCapture: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    func append(_ line: String) {
        lock.lock()
        lines.append(line)
        lock.unlock()
    }

    var all: [String] {
        lock.lock()
        defer { lock.unlock() }
        return lines
    }

    var logger: Logger {
        Logger(label: "fal-test") { _ in CapturingHandler(capture: self) }
    }
}

struct CapturingHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        capture.append(
            "\(event.level) \(event.message) \(merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))"
        )
    }
}

/// Records every wait the client asks for, and waits at most `cap` (20 ms) of it.
final class SleepRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [Duration] = []
    private let cap: Duration

    init(cap: Duration = .milliseconds(20)) { self.cap = cap }

    var sleeps: [Duration] {
        lock.lock()
        defer { lock.unlock() }
        return recorded
    }

    /// ``sleeps``.
    var all: [Duration] { sleeps }

    var sleep: @Sendable (Duration) async throws -> Void {
        { [self] duration in
            lock.withLock { recorded.append(duration) }
            try await Task.sleep(for: min(duration, cap))
        }
    }
}

/// Collects events.
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [FalEvent] = []

    var events: [FalEvent] {
        lock.lock()
        defer { lock.unlock() }
        return recorded
    }

    var callback: @Sendable (FalEvent) -> Void {
        { [self] event in
            lock.lock()
            recorded.append(event)
            lock.unlock()
        }
    }
}

struct Harness {
    let server: FakeFalServer
    let base: String
    let client: FalClient
    let logs: LogCapture
    let sleeper: SleepRecorder
    let events = EventLog()
    let dir: TempDir

    /// A request whose inputs the fake can read: uploads the portrait and a short speech clip.
    func uploadedRequest(numFrames: Int = 41) async throws -> InfiniTalkRequest {
        let image = try await client.upload(file: Fixture.path("portrait.png"), onEvent: events.callback)
        let audio = try await client.upload(file: Fixture.path("speech.wav"), onEvent: events.callback)
        return InfiniTalkRequest(imageURL: image, audioURL: audio, prompt: "A person talking.", numFrames: numFrames)
    }

    /// A request with URLs the fake does not resolve (no audio in the clip): no uploads needed.
    func plainRequest(numFrames: Int = 41) -> InfiniTalkRequest {
        InfiniTalkRequest(
            imageURL: "\(base)/fake-storage/files/none/portrait.png",
            audioURL: "\(base)/fake-storage/files/none/speech.wav",
            prompt: "A person talking.", numFrames: numFrames)
    }
}

/// Fast test settings: millisecond retries and polls.
func fastConfiguration(base: String, sleeper: SleepRecorder) -> FalConfiguration {
    FalConfiguration(
        queueBaseURL: base, restBaseURL: base,
        retry: RetryPolicy(
            maxAttempts: 4, initialDelay: .milliseconds(1), multiplier: 2,
            maxDelay: .milliseconds(8), jitter: 0.25, maxTotalTime: .seconds(10),
            maxRetryAfter: .seconds(30)),
        download: DownloadRetryPolicy(
            budget: .seconds(20), initialDelay: .milliseconds(1), multiplier: 2,
            maxDelay: .milliseconds(8), jitter: 0.25),
        poll: PollPolicy(
            initialInterval: .milliseconds(2), multiplier: 1.5,
            maxInterval: .milliseconds(10), maxWait: .seconds(20)),
        connectTimeout: .seconds(2), readTimeout: .seconds(10), requestTimeout: .seconds(20),
        sleep: sleeper.sleep)
}

func withFal(
    _ options: FakeFalServer.Options = FakeFalServer.Options(expectedKey: testKey),
    configure: (inout FalConfiguration) -> Void = { _ in },
    _ body: (Harness) async throws -> Void
) async throws {
    let server = FakeFalServer(options: options)
    let base = try await server.start().absoluteString
    let sleeper = SleepRecorder()
    let logs = LogCapture()
    var configuration = fastConfiguration(base: base, sleeper: sleeper)
    configure(&configuration)
    let client: FalClient
    do {
        client = try FalClient(
            credentials: try FalCredentials(key: testKey), configuration: configuration,
            logger: logs.logger)
    } catch {
        await server.stop()
        throw error
    }
    let dir = try TempDir()
    let harness = Harness(server: server, base: base, client: client, logs: logs, sleeper: sleeper, dir: dir)
    do {
        try await body(harness)
    } catch {
        try? await client.shutdown()
        await server.stop()
        dir.cleanup()
        throw error
    }
    try await client.shutdown()
    await server.stop()
    // Nothing the client logged may contain the key.
    for line in logs.all { #expect(!containsSecret(line), "log line leaks the key: \(line)") }
    dir.cleanup()
}

/// Runs `body` expecting a FalError, and returns it.
func falError(_ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async -> FalError? {
    do {
        try await body()
        Issue.record("expected a FalError, got success", sourceLocation: sourceLocation)
        return nil
    } catch let error as FalError {
        #expect(!containsSecret(error.description), "error leaks the key: \(error)", sourceLocation: sourceLocation)
        #expect(!containsSecret(String(reflecting: error)), sourceLocation: sourceLocation)
        #expect(!error.description.contains("\n"), "error is not one line: \(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected a FalError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
