import AsyncHTTPClient
import FakeFal
import Foundation
import Logging
import NIOHTTP1
import Testing

@testable import InfiniPipeline

// MARK: - Harness

/// A key that looks real; nothing may ever print it, or either half of it.
private let testKeyID = "fakeid-0123456789"
private let testKeySecret = "sekrit-abcdef-9876543210"
private let testKey = "\(testKeyID):\(testKeySecret)"

private func containsSecret(_ text: String) -> Bool {
    text.contains(testKeySecret) || text.contains(testKeyID)
}

/// Collects every log record as one line.
private final class LogCapture: @unchecked Sendable {
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

private struct CapturingHandler: LogHandler {
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

/// Records every wait the client asks for, and waits at most 20 ms of it.
private final class SleepRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [Duration] = []

    var sleeps: [Duration] {
        lock.lock()
        defer { lock.unlock() }
        return recorded
    }

    var sleep: @Sendable (Duration) async throws -> Void {
        { [self] duration in
            lock.withLock { recorded.append(duration) }
            try await Task.sleep(for: min(duration, .milliseconds(20)))
        }
    }
}

/// Collects events.
private final class EventLog: @unchecked Sendable {
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

private struct Harness {
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
private func fastConfiguration(base: String, sleeper: SleepRecorder) -> FalConfiguration {
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

private func withFal(
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
private func falError(_ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async -> FalError? {
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

// MARK: - Values

@Suite("fal client: values", .ownThreads)
struct FalValueTests {
    @Test func credentialsNeverShowTheKey() throws {
        let credentials = try FalCredentials(key: testKey)
        var dumped = ""
        dump(credentials, to: &dumped)
        for text in [
            credentials.description, credentials.debugDescription, "\(credentials)",
            String(reflecting: credentials), dumped,
        ] {
            #expect(!containsSecret(text), "\(text)")
        }
        #expect(credentials.headerValue == "Key \(testKey)")
        #expect(
            credentials.redact("echo \(testKey) and \(testKeySecret) and \(testKeyID)")
                == "echo <redacted> and <redacted> and <redacted>")
    }

    @Test func credentialsFromEnvironment() throws {
        #expect(try FalCredentials.fromEnvironment([:]) == nil)
        #expect(try FalCredentials.fromEnvironment(["FAL_KEY": "abc:def"])?.headerValue == "Key abc:def")
        #expect(try FalCredentials.fromEnvironment(["FAL_KEY_ID": "id1", "FAL_KEY_SECRET": "s2"])?.headerValue == "Key id1:s2")
        #expect(
            try FalCredentials.fromEnvironment(["FAL_KEY": "k", "FAL_KEY_ID": "a", "FAL_KEY_SECRET": "b"])?.headerValue == "Key k"
        )
        #expect(throws: FalError.self) { try FalCredentials.fromEnvironment(["FAL_KEY_ID": "only-half"]) }
        #expect(throws: FalError.self) { try FalCredentials(key: "  ") }
        #expect(throws: FalError.self) { try FalCredentials(key: "abc\r\nX-Evil: 1") }
    }

    @Test func configurationFromEnvironment() throws {
        let defaults = try FalConfiguration.fromEnvironment([:])
        #expect(defaults.queueBaseURL == "https://queue.fal.run")
        #expect(defaults.restBaseURL == "https://rest.fal.ai")
        #expect(defaults.modelID == "fal-ai/infinitalk")
        #expect(defaults.maxRequestsInFlight == 4)
        #expect(defaults.maxDownloadBytes == 2 << 30)
        let local = try FalConfiguration.fromEnvironment([
            "INFINISTITCH_QUEUE_URL": "http://127.0.0.1:8080/", "INFINISTITCH_REST_URL": "https://rest.example.org/api",
        ])
        #expect(local.queueBaseURL == "http://127.0.0.1:8080")
        #expect(local.restBaseURL == "https://rest.example.org/api")
        let insecure = try #require(throws: FalError.self) {
            try FalConfiguration.fromEnvironment(["INFINISTITCH_QUEUE_URL": "http://queue.example.org"])
        }
        #expect(insecure.kind == .insecureURL)
        #expect(insecure.description.contains("INFINISTITCH_QUEUE_URL"))
        #expect(throws: FalError.self) { try FalConfiguration.fromEnvironment(["INFINISTITCH_REST_URL": "ftp://x"]) }

        // The download budget: 10 minutes by default, seconds from the environment.
        #expect(defaults.download.budget == .seconds(600))
        #expect(
            try FalConfiguration.fromEnvironment(["INFINISTITCH_DOWNLOAD_BUDGET": "2.5"]).download.budget == .milliseconds(2500))
        for bad in ["0", "-3", "soon", "nan", "inf"] {
            let error = try #require(throws: FalError.self) {
                try FalConfiguration.fromEnvironment(["INFINISTITCH_DOWNLOAD_BUDGET": bad])
            }
            #expect(error.kind == .invalidConfiguration)
            #expect(PipelineError.from(error).kind == .missingCredentials)  // a run stops before any request
            #expect(error.description.contains("INFINISTITCH_DOWNLOAD_BUDGET"), "\(error)")
        }
    }

    @Test func downloadBackoffAndContentRange() throws {
        let policy = DownloadRetryPolicy(
            budget: .seconds(60), initialDelay: .milliseconds(500), multiplier: 2,
            maxDelay: .seconds(4), jitter: 0.25)
        for retry in 1...8 {
            let base = min(0.5 * pow(2, Double(retry - 1)), 4.0)
            let d = policy.delay(retry: retry, retryAfter: nil).seconds
            #expect(d >= base * 0.75 - 1e-9 && d <= min(base * 1.25, 4.0) + 1e-9, "retry \(retry): \(d)")
        }
        #expect(policy.delay(retry: 1, retryAfter: .seconds(9)) == .seconds(9))

        typealias Range = FalClient.ContentRange
        #expect(Range("bytes 100-199/1000") == Range(first: 100, last: 199, total: 1000))
        #expect(Range("Bytes 0-0/1") == Range(first: 0, last: 0, total: 1))
        #expect(Range("bytes 5-9/*") == Range(first: 5, last: 9, total: nil))
        for bad in [nil, "", "bytes */1000", "bytes 9-5/100", "bytes 0-99/50", "bytes 0-99", "items 0-9/10", "bytes -1-9/10"] {
            #expect(Range(bad) == nil, "\(String(describing: bad))")
        }
        #expect(Range.unsatisfiedTotal("bytes */1000") == 1000)
        #expect(Range.unsatisfiedTotal("bytes 0-9/1000") == nil)
    }

    @Test func loopbackRule() throws {
        for host in ["127.0.0.1", "127.1.2.3", "localhost", "LOCALHOST".lowercased(), "::1", "api.localhost"] {
            #expect(URLRules.isLoopback(host), "\(host)")
        }
        for host in ["127.0.0.1.evil.com", "128.0.0.1", "10.0.0.1", "example.com", "localhost.evil.com", "1270.0.0.1", "::2"] {
            #expect(!URLRules.isLoopback(host), "\(host)")
        }
        let redactor = Redactor(credentials: nil)
        try URLRules.check("http://127.0.0.1:1234/x", role: "t", redactor: redactor)
        try URLRules.check("http://[::1]:1234/x", role: "t", redactor: redactor)
        try URLRules.check("https://queue.fal.run/fal-ai/x", role: "t", redactor: redactor)
        for (url, kind) in [
            ("http://queue.fal.run/x", FalError.Kind.insecureURL),
            ("http://127.0.0.1@evil.com/x", .invalidURL),
            ("file:///etc/passwd", .invalidURL), ("http+unix://%2Ftmp%2Fs/x", .invalidURL),
            ("/relative", .invalidURL), ("https://", .invalidURL),
        ] {
            let error = try #require(throws: FalError.self) { try URLRules.check(url, role: "t", redactor: redactor) }
            #expect(error.kind == kind, "\(url): \(error)")
        }
        #expect(redactor.url("https://u:p@h.example/a?token=abc&logs=1") == "https://<redacted>@h.example/a?token=…&logs=1")
    }

    @Test func requestValidation() throws {
        let ok = InfiniTalkRequest(
            imageURL: "https://x.example/p.png", audioURL: "data:audio/wav;base64,AAAA",
            prompt: "A person talking.", numFrames: 41)
        try FalClient.validate(ok)
        for frames in [41, 45, 145, 721] {
            var r = ok
            r.numFrames = frames
            #expect(r.problems.isEmpty, "\(frames)")
        }
        for frames in [0, 37, 40, 42, 43, 44, 722, 725] {
            var r = ok
            r.numFrames = frames
            #expect(r.problems.map(\.field) == ["num_frames"], "\(frames)")
        }
        var bad = ok
        bad.prompt = "  "
        bad.imageURL = "ftp://x/p.png"
        bad.audioURL = "speech.wav"
        let error = try #require(throws: FalError.self) { try FalClient.validate(bad) }
        #expect(error.kind == .invalidRequest)
        #expect(error.fieldErrors.map(\.location) == [["body", "prompt"], ["body", "image_url"], ["body", "audio_url"]])
        #expect(bad.problems.map(\.field) == ["prompt", "image_url", "audio_url"])
        #expect(PipelineError.from(error).kind == .invalidInput)
        // A malformed http(s) URL is named by the model's own check, as the client's URL rules word it.
        var noHost = ok
        noHost.imageURL = "https://"
        #expect(noHost.problems == [InfiniTalkRequest.Problem(field: "image_url", reason: "the input URL has no host")])
    }

    @Test func requestAndResponseCoding() throws {
        let request = InfiniTalkRequest(
            imageURL: "https://a/p.png", audioURL: "https://a/s.mp3", prompt: "Hi",
            numFrames: 145, resolution: .p720, seed: 7, acceleration: .high)
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(request)) as! [String: Any]
        #expect(Set(json.keys) == ["image_url", "audio_url", "prompt", "num_frames", "resolution", "seed", "acceleration"])
        #expect(json["resolution"] as? String == "720p")
        #expect(json["acceleration"] as? String == "high")
        #expect(json["num_frames"] as? Int == 145)
        #expect(try JSONDecoder().decode(InfiniTalkRequest.self, from: JSONEncoder().encode(request)) == request)
        let minimal = try JSONDecoder().decode(
            InfiniTalkRequest.self,
            from: Data(#"{"image_url":"https://a","audio_url":"https://b","prompt":"p"}"#.utf8))
        #expect(minimal.numFrames == 145 && minimal.resolution == .p480 && minimal.seed == 42 && minimal.acceleration == .regular)

        let output =
            #"{"video":{"file_size":515275,"file_name":"74af.mp4","content_type":"application/octet-stream","url":"https://v3.fal.media/files/x/74af.mp4"},"seed":42}"#
        let response = try JSONDecoder().decode(InfiniTalkResponse.self, from: Data(output.utf8))
        #expect(
            response.video
                == FalFile(
                    url: "https://v3.fal.media/files/x/74af.mp4",
                    contentType: "application/octet-stream", fileName: "74af.mp4", fileSize: 515275))
        #expect(response.seed == 42)
    }

    @Test func endpointIDsAndRebuiltHandles() throws {
        #expect(try FalEndpointID("fal-ai/infinitalk").appID == "fal-ai/infinitalk")
        #expect(try FalEndpointID("fal-ai/flux/dev").appID == "fal-ai/flux")
        #expect(try FalEndpointID("workflows/me/flow/sub").appID == "workflows/me/flow")
        #expect(try FalEndpointID("123-foo").rawValue == "123/foo")
        for bad in ["infinitalk", "", "workflows/me", "fal-ai/../x", "fal ai/x", "fal-ai/x?y"] {
            #expect(throws: FalError.self, "\(bad)") { try FalEndpointID(bad) }
        }
        let handle = try FalRequestHandle(
            requestID: "80e732af-660e-45cd", endpointID: FalEndpointID("fal-ai/flux/dev"),
            queueBaseURL: "https://queue.fal.run/")
        #expect(handle.responseURL == "https://queue.fal.run/fal-ai/flux/requests/80e732af-660e-45cd")
        #expect(handle.statusURL == handle.responseURL + "/status")
        #expect(handle.cancelURL == handle.responseURL + "/cancel")
        #expect(throws: FalError.self) {
            try FalRequestHandle(requestID: "../x", endpointID: FalEndpointID("fal-ai/x"))
        }
        // A handle survives a manifest round trip.
        let decoded = try JSONDecoder().decode(FalRequestHandle.self, from: JSONEncoder().encode(handle))
        #expect(decoded == handle)
    }

    @Test func retryAfterAndBackoff() throws {
        #expect(RetryEngine.retryAfter(HTTPHeaders([("Retry-After", "3")])) == .seconds(3))
        let now = Date(timeIntervalSince1970: 1_000_000)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let dated = HTTPHeaders([("Retry-After", formatter.string(from: now.addingTimeInterval(5)))])
        #expect(RetryEngine.retryAfter(dated, now: now) == .seconds(5))
        #expect(RetryEngine.retryAfter(HTTPHeaders([("Retry-After", "soon")])) == nil)

        let policy = RetryPolicy(
            maxAttempts: 10, initialDelay: .milliseconds(100), multiplier: 2,
            maxDelay: .seconds(1), jitter: 0.25)
        for retry in 1...8 {
            let base = min(0.1 * pow(2, Double(retry - 1)), 1.0)
            let d = policy.delay(retry: retry, retryAfter: nil).seconds
            #expect(d >= base * 0.75 - 1e-9 && d <= min(base * 1.25, 1.0) + 1e-9, "retry \(retry): \(d)")
        }
        #expect(policy.delay(retry: 1, retryAfter: .seconds(4)) == .seconds(4))
    }

    @Test func limiterBoundsConcurrency() async throws {
        let limiter = RequestLimiter(limit: 2)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<6 {
                group.addTask {
                    try await limiter.withPermit { try await Task.sleep(for: .milliseconds(10)) }
                }
            }
            try await group.waitForAll()
        }
        #expect(await limiter.peakInFlight == 2)
        #expect(await limiter.inFlight == 0)

        // A waiter that is cancelled stops waiting and leaves the permits intact.
        try await limiter.acquire()
        try await limiter.acquire()
        let waiter = Task { try await limiter.acquire() }
        try await waitUntil("a waiter") { await limiter.waiting > 0 }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        #expect(await limiter.waiting == 0)
        await limiter.release()
        await limiter.release()
        #expect(await limiter.inFlight == 0)
    }
}

// MARK: - Against the fake server

@Suite("fal client against the fake server", .timeLimit(.minutes(3)), .ownThreads)
struct FalClientTests {
    @Test func fullGenerationWithStorageUpload() async throws {
        try await withFal { h in
            let request = try await h.uploadedRequest(numFrames: 45)
            #expect(request.imageURL.hasPrefix(h.base + "/fake-storage/files/"))
            let generation = try await h.client.generate(request, onEvent: h.events.callback)
            #expect(generation.response.seed == 42)
            let destination = h.dir.path("clip.mp4")
            let downloaded = try await h.client.download(
                generation.response.video, to: destination,
                onEvent: h.events.callback)
            #expect(downloaded.codecName == "h264")
            #expect(downloaded.declaredFrameCount == 45)
            #expect(downloaded.width == 64 && downloaded.height == 64)
            #expect(downloaded.bytes == Int64(try Data(contentsOf: URL(fileURLWithPath: destination)).count))
            // The fake decoded the uploaded speech and put it in the clip.
            #expect(try Demuxer(path: destination).bestStream(.audio).codecName == "aac")
            // Frames carry their index.
            let reader = try VideoReader(path: destination)
            var indices: [Int] = []
            while let frame = try reader.nextFrame() {
                indices.append(FakeClip.frameIndex(rgb: frame.planes[0], width: frame.width, height: frame.height))
            }
            #expect(indices == Array(0..<45))
            // Only the download and the finished clip are left in the folder.
            #expect(try FileManager.default.contentsOfDirectory(atPath: h.dir.url.path) == ["clip.mp4"])

            // Events: two uploads, the submit, the start, logs, the completion, the download.
            let events = h.events.events
            #expect(events.filter { if case .uploaded = $0 { true } else { false } }.count == 2)
            #expect(events.contains(.submitted(generation.handle)))
            #expect(events.contains(.started(requestID: generation.handle.requestID)))
            #expect(events.contains { if case .log(_, let entry) = $0 { entry.message.hasPrefix("Generating") } else { false } })
            #expect(events.contains { if case .completed = $0 { true } else { false } })
            #expect(events.contains(.downloaded(path: destination, bytes: downloaded.bytes)))

            // The key went to the API routes, and never to the storage PUT or the video.
            for route in [FakeFalServer.Route.initiate, .submit, .status, .result] {
                let seen = h.server.requests(to: route)
                #expect(!seen.isEmpty, "\(route)")
                #expect(seen.allSatisfy { $0.header("authorization") == "Key \(testKey)" }, "\(route)")
            }
            for route in [FakeFalServer.Route.upload, .video] {
                let seen = h.server.requests(to: route)
                #expect(!seen.isEmpty, "\(route)")
                for request in seen {
                    #expect(request.header("authorization") == nil, "\(route)")
                    #expect(!request.headers.contains { containsSecret($0.value) }, "\(route)")
                }
            }
            #expect(h.server.requests(to: .submit).count == 1)
            #expect(h.server.requests(to: .status).allSatisfy { $0.query == "logs=1" })
            let stored = h.server.storedFiles
            #expect(stored.map(\.contentType) == ["image/png", "audio/wav"])
            #expect(stored[1].bytes == (try Fixture.bytes("speech.wav")))
            #expect(await h.client.limiter.inFlight == 0)
        }
    }

    @Test func pollingBacksOffAndReportsQueuePositions() async throws {
        try await withFal { h in
            h.server.script([.slowQueue(polls: 3)])
            let generation = try await h.client.generate(h.plainRequest(), onEvent: h.events.callback)
            let positions = h.events.events.compactMap { event -> Int? in
                if case .queued(_, let position) = event { return position }
                return nil
            }
            #expect(positions == [2, 1, 0])
            let sleeps = h.sleeper.sleeps
            #expect(sleeps.first == .milliseconds(2))
            for (a, b) in zip(sleeps, sleeps.dropFirst()) {
                #expect(b >= a && b <= .milliseconds(10), "\(sleeps)")
            }
            #expect(sleeps.last == .milliseconds(10) || sleeps.count < 6)
            #expect(sleeps.count == h.server.requests(to: .status).count)
            #expect(generation.response.video.url.hasPrefix(h.base))
        }
    }

    @Test func rateLimitedSubmitHonoursRetryAfter() async throws {
        try await withFal { h in
            h.server.inject([.rateLimited(retryAfter: "2")], on: .submit)
            _ = try await h.client.generate(h.plainRequest(), onEvent: h.events.callback)
            #expect(h.server.requests(to: .submit).count == 2)
            #expect(h.server.requestIDs.count == 1)
            let retries = h.events.events.compactMap { event -> Duration? in
                if case .retrying("submit", 2, let delay, _) = event { return delay }
                return nil
            }
            #expect(retries == [.seconds(2)])
            #expect(h.sleeper.sleeps.contains(.seconds(2)))
        }
    }

    @Test func retryAfterAsHTTPDate() async throws {
        try await withFal { h in
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
            // 8 s ahead (the sleeper records instead of sleeping; the test policy allows 10 s): a loaded
            // machine cannot eat the margin between formatting the date and parsing it.
            h.server.inject([.rateLimited(retryAfter: formatter.string(from: Date().addingTimeInterval(8)))], on: .status)
            _ = try await h.client.generate(h.plainRequest())
            let long = h.sleeper.sleeps.filter { $0 > .seconds(1) }
            #expect(long.count == 1)
            #expect(long.allSatisfy { $0 > .seconds(1) && $0 <= .seconds(8) }, "\(long)")
        }
    }

    @Test func retryAfterBeyondTheLimitGivesUp() async throws {
        try await withFal { h in
            h.server.inject([.rateLimited(retryAfter: "3600")], on: .submit)
            let error = await falError { _ = try await h.client.generate(h.plainRequest()) }
            #expect(error?.kind == .httpStatus)
            #expect(error?.statusCode == 429)
            #expect(error?.mayHaveBeenAccepted == false)
            #expect(error?.description.contains("3600 s") == true, "\(String(describing: error))")
            #expect(h.sleeper.sleeps.isEmpty)
            #expect(h.server.requests(to: .submit).count == 1)
        }
    }

    @Test func submitIsNotRetriedAfterTheRequestWasSent() async throws {
        try await withFal { h in
            h.server.inject([.dropConnection], on: .submit)
            let error = await falError { _ = try await h.client.generate(h.plainRequest()) }
            #expect(error?.kind == .submitOutcomeUnknown)
            #expect(error?.mayHaveBeenAccepted == true)
            #expect(error?.description.contains("may have been accepted") == true, "\(String(describing: error))")
            #expect(error?.description.contains("POST \(h.base)/fal-ai/infinitalk") == true)
            #expect(h.server.requests(to: .submit).count == 1)
            #expect(await h.client.limiter.inFlight == 0)
        }
    }

    @Test func submitWith500AndRequestIDIsNotRetried() async throws {
        try await withFal { h in
            h.server.inject([.serverError(500, detail: "boom", errorType: "internal_error")], on: .submit)
            let error = await falError { _ = try await h.client.generate(h.plainRequest()) }
            #expect(error?.kind == .submitOutcomeUnknown)
            #expect(error?.requestID != nil)
            #expect(error?.statusCode == 500)
            #expect(error?.detail == "boom")
            #expect(h.server.requests(to: .submit).count == 1)
        }
    }

    @Test func submitIsRetriedAfterIngressErrors() async throws {
        try await withFal { h in
            h.server.inject([.ingressError(503), .ingressError(502), .ingressError(504)], on: .submit)
            let generation = try await h.client.generate(h.plainRequest(), onEvent: h.events.callback)
            #expect(h.server.requests(to: .submit).count == 4)
            #expect(h.server.requestIDs == [generation.handle.requestID])
            let reasons = h.events.events.compactMap { event -> String? in
                if case .retrying("submit", _, _, let reason) = event { return reason }
                return nil
            }
            #expect(reasons.count == 3)
            #expect(reasons.allSatisfy { $0.contains("no x-fal-request-id") })
        }
    }

    @Test func ingressErrorsExhaustedSayNotSubmitted() async throws {
        try await withFal { h in
            h.server.inject(Array(repeating: .ingressError(503), count: 4), on: .submit)
            let error = await falError { _ = try await h.client.generate(h.plainRequest()) }
            #expect(error?.kind == .httpStatus)
            #expect(error?.mayHaveBeenAccepted == false)
            #expect(error?.description.contains("gave up after 4 attempts") == true, "\(String(describing: error))")
            #expect(error?.description.contains("not queued") == true)
            #expect(error?.description.contains("Service Temporarily Unavailable nginx") == true, "\(String(describing: error))")
            #expect(error?.description.contains("<html") == false)
            #expect(h.server.requests(to: .submit).count == 4)
        }
    }

    @Test func refusedConnectionIsRetriedThenReported() async throws {
        // A port that was just free: nothing listens there.
        let probe = FakeFalServer()
        let closed = try await probe.start().absoluteString
        await probe.stop()
        let sleeper = SleepRecorder()
        let client = try FalClient(
            credentials: FalCredentials(key: testKey),
            configuration: fastConfiguration(base: closed, sleeper: sleeper))
        let events = EventLog()
        let request = InfiniTalkRequest(
            imageURL: "https://a.example/p.png", audioURL: "https://a.example/s.wav",
            prompt: "p", numFrames: 41)
        let error = await falError { _ = try await client.submit(request, onEvent: events.callback) }
        try await client.shutdown()
        #expect(error?.kind == .transport)
        #expect(error?.mayHaveBeenAccepted == false)
        #expect(error?.description.contains("could not connect") == true, "\(String(describing: error))")
        #expect(error?.description.contains("not submitted") == true)
        #expect(events.events.count == 3)  // 4 attempts, 3 retries
    }

    @Test func pollsAndResultsAreRetried() async throws {
        try await withFal { h in
            h.server.inject(
                [
                    .serverError(500, detail: "hiccup", errorType: "internal_error"), .dropConnection,
                    .status(408),
                ], on: .status)
            h.server.inject([.status(502), .rateLimited(retryAfter: "0")], on: .result)
            h.server.inject([.dropConnection, .status(503)], on: .video)
            let generation = try await h.client.generate(h.plainRequest(), onEvent: h.events.callback)
            let clip = try await h.client.download(generation.response.video, to: h.dir.path("c.mp4"))
            #expect(clip.declaredFrameCount == 41)
            #expect(h.server.requests(to: .result).count == 3)
            #expect(h.server.requests(to: .video).count == 3)
            #expect(h.server.requests(to: .submit).count == 1)
        }
    }

    @Test func userTimeout504IsNotRetried() async throws {
        try await withFal { h in
            h.server.inject(
                [
                    .status(
                        504, body: #"{"detail":"Request timed out","error_type":"request_timeout"}"#,
                        headers: ["X-Fal-Request-Timeout-Type": "user", "x-fal-request-id": "abc"])
                ],
                on: .result)
            let error = await falError { _ = try await h.client.generate(h.plainRequest()) }
            #expect(error?.kind == .generationFailed)
            #expect(error?.errorType == "request_timeout")
            #expect(h.server.requests(to: .result).count == 1)
        }
    }

    @Test func totalRetryTimeIsBounded() async throws {
        try await withFal(configure: {
            $0.retry = RetryPolicy(
                maxAttempts: 50, initialDelay: .milliseconds(10), multiplier: 1, maxDelay: .milliseconds(10),
                jitter: 0, maxTotalTime: .milliseconds(200))
        }) { h in
            h.server.inject(Array(repeating: .ingressError(503), count: 50), on: .submit)
            let started = ContinuousClock.now
            let error = await falError { _ = try await h.client.generate(h.plainRequest()) }
            // Generous: the point is that it stops long before 50 attempts, also on a loaded machine.
            #expect(ContinuousClock.now - started < .seconds(60))
            #expect(error?.kind == .httpStatus)
            #expect(error?.description.contains("gave up after") == true)
            #expect(error?.description.contains(" s)") == true, "\(String(describing: error))")
            let attempts = h.server.requests(to: .submit).count
            #expect(attempts >= 1 && attempts < 50, "\(attempts)")
        }
    }

    @Test func failedGenerationIsTyped() async throws {
        try await withFal { h in
            h.server.script([.failing(error: "Runner disconnected", errorType: "runner_disconnected")])
            let error = await falError { _ = try await h.client.generate(h.plainRequest(), onEvent: h.events.callback) }
            #expect(error?.kind == .generationFailed)
            #expect(error?.detail == "Runner disconnected")
            #expect(error?.errorType == "runner_disconnected")
            #expect(error?.statusCode == 500)
            #expect(error?.requestID == h.server.requestIDs.first)
            #expect(
                error?.description.contains("generation failed: Runner disconnected (error_type runner_disconnected") == true,
                "\(String(describing: error))")
            // Not resubmitted: the caller decides.
            #expect(h.server.requests(to: .submit).count == 1)
            #expect(h.server.requests(to: .result).count == 1)
            #expect(await h.client.limiter.inFlight == 0)
        }
    }

    @Test func validationErrorsAreShownFieldByField() async throws {
        try await withFal { h in
            h.server.inject(
                [
                    .validationError([
                        .init(loc: ["body", "num_frames"], msg: "must be 4n+1"),
                        .init(loc: ["body", "prompt"], msg: "field required"),
                    ])
                ], on: .submit)
            let error = await falError { _ = try await h.client.submit(h.plainRequest()) }
            #expect(error?.kind == .validationFailed)
            #expect(error?.fieldErrors.map(\.description) == ["body.num_frames: must be 4n+1", "body.prompt: field required"])
            #expect(
                error?.description.hasSuffix("422): body.num_frames: must be 4n+1; body.prompt: field required") == true,
                "\(String(describing: error))")
            #expect(error.map { PipelineError.from($0).kind } == .invalidInput)
            #expect(h.server.requests(to: .submit).count == 1)
        }
    }

    @Test func invalidInputIsNeverSent() async throws {
        try await withFal { h in
            var request = h.plainRequest()
            request.numFrames = 100
            let error = await falError { _ = try await h.client.generate(request) }
            #expect(error?.kind == .invalidRequest)
            #expect(h.server.requests.isEmpty)
        }
    }

    @Test func keyNeverAppearsInErrorsOrLogs() async throws {
        try await withFal { h in
            h.server.inject([.echoAuthorization(401)], on: .status)
            let error = await falError { _ = try await h.client.generate(h.plainRequest()) }
            #expect(error?.kind == .httpStatus)
            #expect(error?.statusCode == 401)
            #expect(error?.detail?.contains("<redacted>") == true, "\(String(describing: error?.detail))")
            var dumped = ""
            dump(h.client, to: &dumped)
            dump(error, to: &dumped)
            #expect(!containsSecret(dumped))
            #expect(!h.logs.all.isEmpty)
        }
        // A wrong key gets a clear 401.
        try await withFal(FakeFalServer.Options(expectedKey: "another-key")) { h in
            let error = await falError { _ = try await h.client.submit(h.plainRequest()) }
            #expect(error?.statusCode == 401)
        }
    }

    @Test func plainHTTPToOtherHostsIsRefusedBeforeSending() async throws {
        // Configured bases.
        var configuration = FalConfiguration()
        configuration.queueBaseURL = "http://queue.example.org"
        #expect(throws: FalError.self) { try FalClient(credentials: FalCredentials(key: testKey), configuration: configuration) }

        try await withFal { h in
            // URLs a server hands back: a status URL on another host over http.
            let foreign = FalRequestHandle(
                requestID: "abc", endpointID: try FalEndpointID("fal-ai/infinitalk"),
                statusURL: "http://192.0.2.10/fal-ai/infinitalk/requests/abc/status",
                responseURL: "http://192.0.2.10/fal-ai/infinitalk/requests/abc",
                cancelURL: "http://192.0.2.10/fal-ai/infinitalk/requests/abc/cancel")
            for call in [
                { _ = try await h.client.status(foreign) }, { _ = try await h.client.result(foreign) },
                { _ = try await h.client.cancel(foreign) },
            ] as [() async throws -> Void] {
                let error = await falError(call)
                #expect(error?.kind == .insecureURL)
                #expect(error?.description.contains("192.0.2.10") == true)
            }
            // Nothing was tried on the network (no retry sleeps).
            #expect(h.sleeper.sleeps.isEmpty)

            // An upload_url over http to another host: the bytes are not sent.
            h.server.inject(
                [
                    .status(
                        200, body: #"{"upload_url":"http://192.0.2.10/put","file_url":"https://cdn.example/f"}"#,
                        headers: ["Content-Type": "application/json"])
                ], on: .initiate)
            let upload = await falError { _ = try await h.client.upload([1, 2, 3], contentType: "audio/wav", fileName: "a.wav") }
            #expect(upload?.kind == .insecureURL)

            // A video URL over http to another host, or another scheme.
            for url in ["http://192.0.2.10/v.mp4", "file:///etc/passwd"] {
                let download = await falError { _ = try await h.client.download(FalFile(url: url), to: h.dir.path("v.mp4")) }
                #expect(download?.kind == .insecureURL || download?.kind == .invalidURL)
            }
            #expect(h.server.requests.map(\.route) == [.initiate])
        }
    }

    @Test func resumeByRequestIDWithoutResubmitting() async throws {
        try await withFal { h in
            let handle = try await h.client.submit(h.plainRequest())
            // A later run knows only the id.
            let rebuilt = try h.client.handle(forRequestID: handle.requestID)
            #expect(rebuilt == handle)
            let response = try await h.client.resume(rebuilt, onEvent: h.events.callback)
            #expect(response.video.url.contains(handle.requestID))
            #expect(h.server.requests(to: .submit).count == 1)
            #expect(h.server.requests(to: .result).count == 1)
            #expect(!h.server.requests(to: .status).isEmpty)
            #expect(!h.events.events.contains { if case .submitted = $0 { true } else { false } })
        }
    }

    @Test func cancelQueuedRequest() async throws {
        try await withFal { h in
            h.server.script([.slowQueue(polls: 1000)])
            let handle = try await h.client.submit(h.plainRequest())
            #expect(try await h.client.status(handle) == .inQueue(position: 999))
            #expect(try await h.client.cancel(handle) == .cancellationRequested)
            #expect(try await h.client.cancel(handle) == .alreadyCompleted)
            let gone = try FalRequestHandle(
                requestID: "no-such-request", endpointID: FalEndpointID("fal-ai/infinitalk"),
                queueBaseURL: h.base)
            #expect(try await h.client.cancel(gone) == .notFound)
            #expect(h.server.cancelledRequestIDs == [handle.requestID])
            let error = await falError { _ = try await h.client.resume(handle) }
            #expect(error?.kind == .generationFailed)
            #expect(error?.errorType == "client_cancelled")
            #expect(h.server.requests(to: .cancel).allSatisfy { $0.header("authorization") == "Key \(testKey)" })
        }
    }

    @Test func cancellingTheTaskStopsPollingOnly() async throws {
        try await withFal { h in
            h.server.script([.slowQueue(polls: 100_000)])
            let events = h.events
            let task = Task { try await h.client.generate(h.plainRequest(), onEvent: events.callback) }
            try await waitUntil("two status polls") { h.server.requests(to: .status).count >= 2 }
            task.cancel()
            await #expect(throws: CancellationError.self) { _ = try await task.value }
            #expect(await h.client.limiter.inFlight == 0)
            #expect(h.server.cancelledRequestIDs.isEmpty)  // still resumable on fal
            #expect(events.events.contains { if case .submitted = $0 { true } else { false } })
        }
    }

    @Test func injectedHTTPClientIsLeftRunning() async throws {
        try await withFal { h in
            let http = HTTPClient(
                eventLoopGroup: HTTPClient.defaultEventLoopGroup,
                configuration: FalClient.httpClientConfiguration(for: h.client.configuration))
            do {
                let logs = LogCapture()
                let client = try FalClient(
                    credentials: FalCredentials(key: testKey), configuration: h.client.configuration,
                    httpClient: http, logger: logs.logger)
                let generation = try await client.generate(h.plainRequest())
                // The backend owns the FalClient, the FalClient does not own the HTTPClient.
                await FalBackend(client: client, ownsClient: true).close()
                try await client.shutdown()
                // The HTTPClient still works: another client follows the same request through it.
                let again = try FalClient(
                    credentials: FalCredentials(key: testKey), configuration: h.client.configuration,
                    httpClient: http)
                guard case .completed(let completion) = try await again.status(generation.handle) else {
                    Issue.record("the request is not completed")
                    return
                }
                #expect(completion.error == nil)
                #expect(!logs.all.isEmpty)
                for line in logs.all { #expect(!containsSecret(line), "log line leaks the key: \(line)") }
            } catch {
                try? await http.shutdown()
                throw error
            }
            // Throws if a FalClient had shut it down already.
            try await http.shutdown()
        }
    }

    @Test func backendShutsDownOnlyAClientItOwns() async throws {
        try await withFal { h in
            let credentials = try FalCredentials(key: testKey)
            let borrowed = try FalClient(credentials: credentials, configuration: h.client.configuration)
            await FalBackend(client: borrowed).close()
            // Still usable, and still its owner's to shut down.
            _ = try await borrowed.submit(h.plainRequest())
            try await borrowed.shutdown()
            let owned = try FalClient(credentials: credentials, configuration: h.client.configuration)
            await FalBackend(client: owned, ownsClient: true).close()
            await #expect(throws: (any Error).self, "closing the backend shut its client down") {
                try await owned.shutdown()
            }
        }
    }

    /// A client the app (or a throwing path) drops without `shutdown()` shuts its own
    /// `HTTPClient` down: a debug build of AsyncHTTPClient traps on an `HTTPClient` released
    /// while running, so this test would end the test process.
    @Test func droppingAClientWithoutShuttingItDownIsHarmless() async throws {
        try await withFal { h in
            let credentials = try FalCredentials(key: testKey)
            for _ in 0..<3 {
                let client = try FalClient(credentials: credentials, configuration: h.client.configuration)
                _ = try await client.submit(h.plainRequest())
            }
            h.server.inject([.ingressError(422)], on: .submit)
            do {
                let failing = try FalClient(credentials: credentials, configuration: h.client.configuration)
                _ = try await failing.submit(h.plainRequest())
                Issue.record("the submit should have failed")
            } catch let error as FalError {
                #expect(error.statusCode == 422)
            }
            _ = try FalClient(credentials: credentials, configuration: h.client.configuration)
            // The server still answers a client that is shut down properly.
            _ = try await h.client.submit(h.plainRequest())
            #expect(h.server.requests(to: .submit).count == 5)
        }
    }

    @Test func routineTrafficLogsAtDebug() async throws {
        try await withFal { h in
            let generation = try await h.client.generate(try await h.uploadedRequest())
            _ = try await h.client.download(generation.response.video, to: h.dir.path("clip.mp4"))
            let lines = h.logs.all
            #expect(lines.contains { $0.hasPrefix("debug http ") })
            #expect(lines.contains { $0.hasPrefix("debug submitted ") })
            #expect(
                lines.allSatisfy { $0.hasPrefix("debug ") || $0.hasPrefix("trace ") },
                "\(lines.filter { !$0.hasPrefix("debug ") })")
        }
    }

    @Test func downloadSizeCapByContentLength() async throws {
        try await withFal(configure: { $0.maxDownloadBytes = 1000 }) { h in
            let generation = try await h.client.generate(h.plainRequest())
            let destination = h.dir.path("big.mp4")
            let error = await falError { _ = try await h.client.download(generation.response.video, to: destination) }
            #expect(error?.kind == .downloadTooLarge)
            #expect(error?.description.contains("over the 1000-byte download limit") == true, "\(String(describing: error))")
            #expect(try FileManager.default.contentsOfDirectory(atPath: h.dir.url.path).isEmpty)
            #expect(h.server.requests(to: .video).count == 1)
        }
    }

    @Test func downloadSizeCapWhileStreaming() async throws {
        try await withFal(configure: { $0.maxDownloadBytes = 2000 }) { h in
            h.server.script([FakeFalServer.GenerationScript(chunkedVideo: true)])
            let generation = try await h.client.generate(h.plainRequest(numFrames: 121))
            #expect((h.server.clip(forRequestID: generation.handle.requestID)?.count ?? 0) > 2000)
            var file = generation.response.video
            file.fileSize = nil
            let error = await falError { _ = try await h.client.download(file, to: h.dir.path("big.mp4")) }
            #expect(error?.kind == .downloadTooLarge)
            #expect(error?.description.contains("exceeds the 2000-byte download limit") == true, "\(String(describing: error))")
            #expect(try FileManager.default.contentsOfDirectory(atPath: h.dir.url.path).isEmpty)
        }
    }

    @Test func chunkedDownloadWithinTheCap() async throws {
        try await withFal { h in
            h.server.script([FakeFalServer.GenerationScript(chunkedVideo: true)])
            let generation = try await h.client.generate(h.plainRequest())
            let clip = try await h.client.download(generation.response.video, to: h.dir.path("c.mp4"))
            #expect(clip.bytes == Int64(h.server.clip(forRequestID: generation.handle.requestID)?.count ?? -1))
        }
    }

    @Test func nonMP4DownloadIsRefused() async throws {
        try await withFal { h in
            h.server.script([.notMP4])
            let generation = try await h.client.generate(h.plainRequest())
            let destination = h.dir.path("clip.mp4")
            let error = await falError { _ = try await h.client.download(generation.response.video, to: destination) }
            #expect(error?.kind == .invalidVideo)
            #expect(!FileManager.default.fileExists(atPath: destination))
            #expect(try FileManager.default.contentsOfDirectory(atPath: h.dir.url.path).isEmpty)
        }
    }

    @Test func clipWithMissingFrames() async throws {
        try await withFal { h in
            h.server.script([.missingFrames(4)])
            let generation = try await h.client.generate(h.plainRequest(numFrames: 45))
            let clip = try await h.client.download(generation.response.video, to: h.dir.path("short.mp4"))
            #expect(clip.declaredFrameCount == 41)
            #expect(try VideoReader(path: clip.path).countFrames() == 41)
        }
    }

    @Test func inlineDataURIs() async throws {
        try await withFal(configure: { $0.uploadMode = .inline }) { h in
            let request = try await h.uploadedRequest()
            #expect(request.imageURL.hasPrefix("data:image/png;base64,"))
            #expect(request.audioURL.hasPrefix("data:audio/wav;base64,"))
            let audio = String(request.audioURL.dropFirst("data:audio/wav;base64,".count))
            #expect(Data(base64Encoded: audio) == (try Data(contentsOf: URL(fileURLWithPath: Fixture.path("speech.wav")))))
            let generation = try await h.client.generate(request)
            let clip = try await h.client.download(generation.response.video, to: h.dir.path("inline.mp4"))
            #expect(try Demuxer(path: clip.path).bestStream(.audio).codecName == "aac")
            #expect(h.server.requests(to: .initiate).isEmpty && h.server.requests(to: .upload).isEmpty)

            // Over fal's 10 MiB data URI limit: refused with a clear error, nothing sent.
            let big = [UInt8](repeating: 7, count: 8 * 1024 * 1024)
            let error = await falError { _ = try await h.client.upload(big, contentType: "audio/wav", fileName: "long.wav") }
            #expect(error?.kind == .inlineTooLarge)
            #expect(error?.description.contains("long.wav") == true)
            #expect(error?.description.contains("10 MiB") == true)
        }
        // Just under the limit is fine.
        let prefix = "data:audio/wav;base64,".utf8.count
        let fits = (FalClient.maxInlineURILength - prefix) / 4 * 3
        #expect(
            try FalClient.dataURI([UInt8](repeating: 1, count: fits), contentType: "audio/wav").utf8.count
                <= FalClient.maxInlineURILength)
        #expect(throws: FalError.self) { try FalClient.dataURI([UInt8](repeating: 1, count: fits + 3), contentType: "audio/wav") }
    }

    @Test func requestsInFlightAreLimitedAcrossTheRun() async throws {
        try await withFal(
            FakeFalServer.Options(processingTime: .milliseconds(40), expectedKey: testKey),
            configure: { $0.maxRequestsInFlight = 2 }
        ) { h in
            let client = h.client
            let request = h.plainRequest()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<5 {
                    group.addTask { _ = try await client.generate(request) }
                }
                try await group.waitForAll()
            }
            #expect(await client.limiter.peakInFlight == 2)
            #expect(h.server.peakConcurrentRequests <= 2)
            #expect(h.server.requests(to: .submit).count == 5)
        }
    }
}

// MARK: - Downloads

private func fileBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// Generates one clip on the fake and returns its file (with `file_size`) and its bytes.
private func finishedClip(_ h: Harness, numFrames: Int = 161) async throws -> (file: FalFile, bytes: [UInt8]) {
    let generation = try await h.client.generate(h.plainRequest(numFrames: numFrames))
    let bytes = try #require(h.server.clip(forRequestID: generation.handle.requestID))
    return (generation.response.video, bytes)
}

private func downloadRetries(_ events: [FalEvent]) -> [DownloadRetry] {
    events.compactMap { if case .downloadRetrying(let retry) = $0 { retry } else { nil } }
}

@Suite("fal client: downloads that fail and resume", .timeLimit(.minutes(3)), .ownThreads)
struct FalDownloadTests {
    @Test func truncatedBodyResumesWithRange() async throws {
        try await withFal { h in
            let (file, clip) = try await finishedClip(h)
            #expect(clip.count > 6000)
            h.server.inject([.truncatedBody(afterBytes: 3000), .truncatedBody(afterBytes: 2000)], on: .video)
            let destination = h.dir.path("clip.mp4")
            let downloaded = try await h.client.download(file, to: destination, onEvent: h.events.callback)
            #expect(try fileBytes(destination) == clip)
            #expect(downloaded.bytes == Int64(clip.count))

            // Three requests: the whole file, then the rest from byte 3000, then from byte 5000,
            // each with the file's ETag as If-Range.
            let requests = h.server.requests(to: .video)
            #expect(requests.map { $0.header("range") } == [nil, "bytes=3000-", "bytes=5000-"])
            let etag = "\"\(file.url.split(separator: "/").last!.dropLast(4))-\(clip.count)\""
            #expect(requests.map { $0.header("if-range") } == [nil, etag, etag])
            #expect(requests.allSatisfy { $0.header("authorization") == nil })

            let retries = downloadRetries(h.events.events)
            #expect(retries.map(\.attempt) == [2, 3])
            #expect(retries.map(\.bytesReceived) == [3000, 5000])
            #expect(retries.allSatisfy { $0.totalBytes == Int64(clip.count) && $0.url.hasSuffix(".mp4") })
            #expect(retries.allSatisfy { !$0.reason.isEmpty && !$0.reason.contains("\n") }, "\(retries)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: h.dir.url.path) == ["clip.mp4"])
        }
    }

    @Test func connectionResetMidBodyResumes() async throws {
        try await withFal { h in
            let (file, clip) = try await finishedClip(h)
            h.server.inject([.resetMidBody(afterBytes: 4000)], on: .video)
            let destination = h.dir.path("clip.mp4")
            try await h.client.download(file, to: destination, onEvent: h.events.callback)
            #expect(try fileBytes(destination) == clip)
            let requests = h.server.requests(to: .video)
            #expect(requests.count == 2)
            let retry = try #require(downloadRetries(h.events.events).first)
            // A reset may lose bytes in flight; whatever arrived is kept and asked for no more.
            #expect(retry.bytesReceived > 0 && retry.bytesReceived <= 4000, "\(retry)")
            #expect(requests[1].header("range") == "bytes=\(retry.bytesReceived)-")
            #expect(retry.reason == "connection reset" || retry.reason.contains("closed"), "\(retry.reason)")
        }
    }

    @Test func serverWithoutRangeSupportStartsOver() async throws {
        try await withFal(FakeFalServer.Options(expectedKey: testKey, videoRanges: false)) { h in
            let (file, clip) = try await finishedClip(h)
            h.server.inject([.truncatedBody(afterBytes: 3000), .resetMidBody(afterBytes: 1500)], on: .video)
            let destination = h.dir.path("clip.mp4")
            let downloaded = try await h.client.download(file, to: destination, onEvent: h.events.callback)
            #expect(try fileBytes(destination) == clip)
            #expect(downloaded.bytes == Int64(clip.count))
            // The client asked for the rest; the server sent all of it with 200 each time.
            let requests = h.server.requests(to: .video)
            #expect(requests.count == 3)
            #expect(requests[1].header("range") == "bytes=3000-")
            #expect(requests[1].header("if-range") == nil)  // no ETag from this server
            #expect(downloadRetries(h.events.events).count == 2)
        }
    }

    @Test func mismatchedPartStartsOver() async throws {
        try await withFal { h in
            let (file, clip) = try await finishedClip(h)
            // After a cut at 3000, a 206 for bytes 0-9: not what was asked; the client keeps
            // nothing of it and fetches the whole file again.
            h.server.inject(
                [
                    .truncatedBody(afterBytes: 3000),
                    .status(206, body: "0123456789", headers: ["Content-Range": "bytes 0-9/\(clip.count)"]),
                ],
                on: .video)
            let destination = h.dir.path("clip.mp4")
            try await h.client.download(file, to: destination, onEvent: h.events.callback)
            #expect(try fileBytes(destination) == clip)
            #expect(h.server.requests(to: .video).map { $0.header("range") } == [nil, "bytes=3000-", nil])
            #expect(downloadRetries(h.events.events).map(\.bytesReceived) == [3000, 0])
        }
    }

    @Test func unavailableAndDroppedAreRetried() async throws {
        try await withFal { h in
            let (file, clip) = try await finishedClip(h)
            h.server.inject([.ingressError(503), .dropConnection, .rateLimited(retryAfter: "0"), .status(500)], on: .video)
            try await h.client.download(file, to: h.dir.path("c.mp4"), onEvent: h.events.callback)
            #expect(try fileBytes(h.dir.path("c.mp4")) == clip)
            let retries = downloadRetries(h.events.events)
            #expect(retries.map(\.attempt) == [2, 3, 4, 5])
            #expect(retries[0].reason == "HTTP 503")
            #expect(retries.allSatisfy { $0.bytesReceived == 0 })
            // The generic retry event is not sent for downloads.
            #expect(!h.events.events.contains { if case .retrying("download", _, _, _) = $0 { true } else { false } })
        }
    }

    @Test(arguments: [404, 410, 401, 403, 400])
    func answersThatWillNotChangeAreNotRetried(status: Int) async throws {
        try await withFal { h in
            let (file, _) = try await finishedClip(h)
            h.server.inject([.status(status, body: #"{"detail":"nope"}"#)], on: .video)
            let destination = h.dir.path("c.mp4")
            let sleeps = h.sleeper.sleeps.count
            let error = await falError { try await h.client.download(file, to: destination) }
            #expect(error?.kind == .httpStatus)
            #expect(error?.statusCode == status)
            #expect(error?.description.contains("/fake-videos/") == true, "\(String(describing: error))")
            #expect(h.server.requests(to: .video).count == 1)
            #expect(h.sleeper.sleeps.count == sleeps)
            #expect(try FileManager.default.contentsOfDirectory(atPath: h.dir.url.path).isEmpty)
        }
    }

    @Test func budgetEndsTheRetriesWithAClearError() async throws {
        try await withFal(configure: {
            $0.download = DownloadRetryPolicy(
                budget: .seconds(4), initialDelay: .milliseconds(10), multiplier: 2,
                maxDelay: .milliseconds(50), jitter: 0)
        }) { h in
            let (file, _) = try await finishedClip(h)
            // The file stays unavailable for longer than the budget.
            h.server.inject(Array(repeating: .ingressError(503), count: 1000), on: .video)
            let destination = h.dir.path("c.mp4")
            let started = ContinuousClock.now
            let error = await falError { try await h.client.download(file, to: destination, onEvent: h.events.callback) }
            #expect(ContinuousClock.now - started < .seconds(30))
            #expect(error?.kind == .downloadIncomplete)
            #expect(error?.statusCode == 503)
            let text = error?.description ?? ""
            #expect(text.hasPrefix("GET \(h.base)/fake-videos/"), "\(text)")
            #expect(text.contains("gave up downloading after"), "\(text)")
            #expect(text.contains("the download budget is 4 s"), "\(text)")
            #expect(text.contains("HTTP 503"), "\(text)")
            let attempts = h.server.requests(to: .video).count
            // Retried for the budget (at least once, even when a loaded machine makes each
            // attempt slow), not for ever.
            #expect(attempts >= 2 && attempts < 1000, "\(attempts): \(text)")
            #expect(downloadRetries(h.events.events).count == attempts - 1)
            #expect(try FileManager.default.contentsOfDirectory(atPath: h.dir.url.path).isEmpty)
        }
    }

    @Test func progressResetsTheBackoff() async throws {
        try await withFal(configure: {
            $0.download = DownloadRetryPolicy(
                budget: .seconds(20), initialDelay: .milliseconds(1), multiplier: 2,
                maxDelay: .seconds(1), jitter: 0)
        }) { h in
            let (file, clip) = try await finishedClip(h)
            h.server.inject(
                [
                    .ingressError(503), .ingressError(503), .ingressError(503),
                    .truncatedBody(afterBytes: 1000), .ingressError(503),
                ], on: .video)
            try await h.client.download(file, to: h.dir.path("c.mp4"), onEvent: h.events.callback)
            #expect(try fileBytes(h.dir.path("c.mp4")) == clip)
            // 1, 2, 4 ms while nothing arrives; after bytes arrived, 1 ms again, then 2.
            #expect(
                downloadRetries(h.events.events).map(\.delay) == [
                    .milliseconds(1), .milliseconds(2), .milliseconds(4), .milliseconds(1), .milliseconds(2),
                ])
        }
    }

    @Test(arguments: [UInt64(1), 2, 3, 4])
    func seededFaultsAtAHighRate(seed: UInt64) async throws {
        let faults = FakeFalServer.VideoFaults(rate: 0.6, seed: seed)
        try await withFal(FakeFalServer.Options(expectedKey: testKey, videoFaults: faults)) { h in
            let (file, clip) = try await finishedClip(h)
            try await h.client.download(file, to: h.dir.path("c.mp4"), onEvent: h.events.callback)
            #expect(try fileBytes(h.dir.path("c.mp4")) == clip)
            // Each played fault cost exactly one retry, and every retry after bytes had arrived
            // asked for the rest only.
            let played = h.server.videoFaultLog
            let retries = downloadRetries(h.events.events)
            #expect(retries.count == played.count, "\(played)")
            let requests = h.server.requests(to: .video)
            #expect(requests.count == played.count + 1)
            for (retry, request) in zip(retries, requests.dropFirst()) {
                #expect(request.header("range") == (retry.bytesReceived > 0 ? "bytes=\(retry.bytesReceived)-" : nil))
            }
        }
    }
}
