import FakeFal
import FakeWaveSpeed
import Foundation
import Logging
import Testing

@testable import InfiniPipeline

// MARK: - Harness

/// A key that looks real; nothing may ever print it, and it goes to the API's host only.
private let wsKey = "ws-live-7f3a9c0d2b8e4f61a5c3e9d7b1f0a2c4"

/// Collects events.
private final class WSEvents: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [WaveSpeedEvent] = []
    private var retries: [DownloadRetry] = []

    var all: [WaveSpeedEvent] { lock.withLock { recorded } }
    var downloadRetries: [DownloadRetry] { lock.withLock { retries } }

    var callback: @Sendable (WaveSpeedEvent) -> Void { { [self] event in lock.withLock { recorded.append(event) } } }
    var onRetry: @Sendable (DownloadRetry) -> Void { { [self] retry in lock.withLock { retries.append(retry) } } }

    var retryCount: Int {
        all.filter { if case .retrying = $0 { return true } else { return false } }.count
    }
}

private struct WSHarness {
    let server: FakeWaveSpeedServer
    let base: String
    let client: WaveSpeedClient
    let logs: LogCapture
    let sleeps: SleepRecorder
    let events = WSEvents()
    let dir: TempDir

    /// Uploads the portrait and `audio`, and submits a task for them.
    func submitted(audio: String = "speech.wav") async throws -> WaveSpeedPrediction {
        let input = try await uploadedInput(audio: audio)
        return try await client.submit(input, onEvent: events.callback)
    }

    func uploadedInput(audio: String = "speech.wav") async throws -> WaveSpeedInput {
        let image = try await client.upload(file: Fixture.path("portrait.png"), onEvent: events.callback)
        let sound = try await client.upload(file: Fixture.path(audio), onEvent: events.callback)
        return WaveSpeedInput(image: image, audio: sound, prompt: "A person talking.", resolution: .p480, seed: 42)
    }

    /// An input whose URLs the fake does not resolve: no uploads needed.
    var plainInput: WaveSpeedInput {
        WaveSpeedInput(image: "\(base)/fake-ws-storage/files/x/portrait.png", audio: "\(base)/fake-ws-storage/files/x/a.wav")
    }

    /// Upload, submit, wait, download: the video's path.
    func generate(audio: String = "speech.wav") async throws -> WaveSpeedClient.DownloadedVideo {
        let task = try await submitted(audio: audio)
        let done = try await client.waitForResult(id: task.id, progress: events.callback)
        return try await client.download(try #require(done.videoURL), to: dir.path("clip.mp4"), onRetry: events.onRetry)
    }
}

/// Fast test settings: millisecond retries, polls every few ms.
private func wsConfiguration(base: String, sleeps: SleepRecorder) -> WaveSpeedConfiguration {
    WaveSpeedConfiguration(
        baseURL: base,
        retry: RetryPolicy(
            maxAttempts: 4, initialDelay: .milliseconds(1), multiplier: 2, maxDelay: .milliseconds(8), jitter: 0.25,
            // Generous: on a loaded machine one attempt can take seconds, and a retry must not
            // be refused for lack of time.
            maxTotalTime: .seconds(90), maxRetryAfter: .seconds(30)),
        download: DownloadRetryPolicy(
            budget: .seconds(20), initialDelay: .milliseconds(1), multiplier: 2, maxDelay: .milliseconds(8), jitter: 0.25),
        poll: PollPolicy(initialInterval: .seconds(1), multiplier: 1.1, maxInterval: .seconds(10), maxWait: .seconds(3600)),
        connectTimeout: .seconds(2), readTimeout: .seconds(10), requestTimeout: .seconds(20),
        sleep: sleeps.sleep)
}

/// The fake's options for tests that need no rendering: every video is a committed fixture clip.
private func fixedClipOptions() throws -> FakeWaveSpeedServer.Options {
    FakeWaveSpeedServer.Options(expectedKey: wsKey, fixedClip: try Fixture.bytes("clip-a.mp4"))
}

private func withWaveSpeed(
    _ options: FakeWaveSpeedServer.Options? = nil,
    configure: (inout WaveSpeedConfiguration) -> Void = { _ in },
    _ body: (WSHarness) async throws -> Void
) async throws {
    let server = FakeWaveSpeedServer(options: try options ?? fixedClipOptions())
    let base = try await server.start().absoluteString
    let sleeps = SleepRecorder(cap: .milliseconds(5))
    let logs = LogCapture()
    var configuration = wsConfiguration(base: base, sleeps: sleeps)
    configure(&configuration)
    let client: WaveSpeedClient
    do {
        client = try WaveSpeedClient(
            credentials: try WaveSpeedCredentials(key: wsKey), configuration: configuration, logger: logs.logger)
    } catch {
        await server.stop()
        throw error
    }
    let dir = try TempDir()
    let harness = WSHarness(server: server, base: base, client: client, logs: logs, sleeps: sleeps, dir: dir)
    do {
        try await body(harness)
    } catch {
        try? await client.close()
        await server.stop()
        dir.cleanup()
        throw error
    }
    try await client.close()
    await server.stop()
    // The key: in no log line, and sent only to the API's routes.
    for line in logs.all { #expect(!line.contains(wsKey), "log line leaks the key: \(line)") }
    for request in server.requests {
        let apiRoute = [.uploadTicket, .submit, .result].contains(request.route)
        #expect(
            request.header("authorization") == (apiRoute ? "Bearer \(wsKey)" : nil),
            "\(request.method) \(request.path): Authorization \(request.header("authorization") == nil ? "missing" : "sent")")
    }
    dir.cleanup()
}

/// Runs `body` expecting a WaveSpeedError, checks it is one line without the key, returns it.
private func wsError(
    _ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation
) async -> WaveSpeedError? {
    do {
        try await body()
        Issue.record("expected a WaveSpeedError, got success", sourceLocation: sourceLocation)
        return nil
    } catch let error as WaveSpeedError {
        #expect(!error.description.contains(wsKey), "error leaks the key: \(error)", sourceLocation: sourceLocation)
        #expect(!String(reflecting: error).contains(wsKey), sourceLocation: sourceLocation)
        #expect(!error.description.contains("\n"), "error is not one line: \(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected a WaveSpeedError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

// MARK: - Values

@Suite("WaveSpeed client: values", .ownThreads)
struct WaveSpeedValueTests {
    @Test func credentialsNeverShowTheKey() throws {
        let credentials = try WaveSpeedCredentials(key: wsKey)
        var dumped = ""
        dump(credentials, to: &dumped)
        for text in ["\(credentials)", String(reflecting: credentials), dumped] {
            #expect(!text.contains(wsKey))
        }
        #expect(credentials.headerValue == "Bearer \(wsKey)")
        #expect(credentials.redact("echo \(wsKey) back") == "echo <redacted> back")
        #expect(throws: WaveSpeedError.self) { try WaveSpeedCredentials(key: "  ") }
        #expect(throws: WaveSpeedError.self) { try WaveSpeedCredentials(key: "abc\ndef") }
        var caught: WaveSpeedError?
        do { _ = try WaveSpeedCredentials(key: "") } catch let error as WaveSpeedError { caught = error }
        let error = try #require(caught)
        #expect(error.kind == .missingCredentials)
        #expect(error.fault == .credentials)
        #expect(error.option == "credentials")
    }

    @Test func credentialsAndConfigurationFromEnvironment() throws {
        #expect(try WaveSpeedCredentials.fromEnvironment([:]) == nil)
        #expect(try WaveSpeedCredentials.fromEnvironment(["WAVESPEED_API_KEY": ""]) == nil)
        #expect(try WaveSpeedCredentials.fromEnvironment(["WAVESPEED_API_KEY": wsKey]) != nil)

        #expect(try WaveSpeedConfiguration.fromEnvironment([:]).baseURL == "https://api.wavespeed.ai")
        let loopback = try WaveSpeedConfiguration.fromEnvironment(["INFINISTITCH_WAVESPEED_URL": "http://127.0.0.1:8080/"])
        #expect(loopback.baseURL == "http://127.0.0.1:8080")
        #expect(
            try WaveSpeedConfiguration.fromEnvironment(["INFINISTITCH_WAVESPEED_URL": "https://ws.example"]).baseURL
                == "https://ws.example")
        for bad in ["http://api.wavespeed.ai", "http://10.0.0.1:80", "ftp://127.0.0.1", "https://x.example/?k=1"] {
            do {
                _ = try WaveSpeedConfiguration.fromEnvironment(["INFINISTITCH_WAVESPEED_URL": bad])
                Issue.record("\(bad) accepted")
            } catch let error as WaveSpeedError {
                #expect([.insecureURL, .invalidURL].contains(error.kind), "\(bad): \(error)")
                #expect(error.fault == .credentials)
            }
        }
        #expect(throws: WaveSpeedError.self) {
            try WaveSpeedClient(
                credentials: try WaveSpeedCredentials(key: wsKey),
                configuration: WaveSpeedConfiguration(baseURL: "http://wavespeed.example"))
        }
        #expect(throws: WaveSpeedError.self) {
            try WaveSpeedClient(
                credentials: try WaveSpeedCredentials(key: wsKey), configuration: WaveSpeedConfiguration(modelID: "../x"))
        }
    }

    @Test func transientFailuresFollowTheOfficialRule() {
        #expect(WaveSpeedClient.isTransientFailure("upstream returned HTTP 503: busy"))
        #expect(WaveSpeedClient.isTransientFailure("HTTP 429 Too Many Requests"))
        #expect(WaveSpeedClient.isTransientFailure("HTTP 500"))
        #expect(!WaveSpeedClient.isTransientFailure("input image rejected by the content policy"))
        #expect(!WaveSpeedClient.isTransientFailure("HTTP 400 bad request"))
    }

    @Test func inputEncodesWaveSpeedsFields() throws {
        let input = WaveSpeedInput(
            image: "https://x/a.png", audio: "https://x/a.wav", prompt: "hi", resolution: .p720, seed: -1,
            maskImage: "https://x/m.png")
        let json = try #require(
            try JSONSerialization.jsonObject(with: WaveSpeedClient.json.encode(input)) as? [String: Any])
        #expect(json["image"] as? String == "https://x/a.png")
        #expect(json["audio"] as? String == "https://x/a.wav")
        #expect(json["resolution"] as? String == "720p")
        #expect(json["seed"] as? Int == -1)
        #expect(json["mask_image"] as? String == "https://x/m.png")
        let bare = try #require(
            try JSONSerialization.jsonObject(
                with: WaveSpeedClient.json.encode(WaveSpeedInput(image: "i", audio: "a", resolution: nil)))
                as? [String: Any])
        #expect(Set(bare.keys) == ["image", "audio"])
    }
}

// MARK: - Against the fake server

@Suite("WaveSpeed client against the fake server", .timeLimit(.minutes(5)), .ownThreads)
struct WaveSpeedClientTests {
    @Test(.timeLimit(.minutes(2))) func uploadSubmitPollDownload() async throws {
        try await withWaveSpeed { h in
            let video = try await h.generate()
            #expect(video.codecName == "h264")
            #expect(video.bytes == Int64(try Fixture.bytes("clip-a.mp4").count))

            // One ticket and one PUT per file, the ticket naming the file, its size and type.
            let files = h.server.storedFiles
            #expect(files.map(\.fileName) == ["portrait.png", "speech.wav"])
            #expect(files.map(\.contentType) == ["image/png", "audio/wav"])
            #expect(files.allSatisfy { $0.bytes?.count == $0.size })
            #expect(h.server.requests(to: .upload).count == 2)

            // One submit, with WaveSpeed's fields.
            let tasks = h.server.tasks
            #expect(tasks.count == 1)
            #expect(tasks[0].input["resolution"] == "480p")
            #expect(tasks[0].input["seed"] == "42")
            #expect(tasks[0].input["prompt"] == "A person talking.")
            #expect(tasks[0].input["audio"]?.hasSuffix("/speech.wav") == true)
            // speech.wav is 8.04 s: 201 frames, billed 9 s.
            #expect(h.server.billedSeconds == [9])

            // Progress names the provider's states, with the elapsed time; then completed.
            let progress = h.events.all.compactMap { event -> WaveSpeedTaskStatus? in
                if case .progress(_, let status, _) = event { return status }
                return nil
            }
            #expect(progress == [.created])
            #expect(
                h.events.all.contains { if case .completed(let id, _) = $0 { return id == tasks[0].id } else { return false } })
            #expect(
                h.events.all.contains {
                    if case .submitted(let id, .created) = $0 { return id == tasks[0].id } else { return false }
                })
        }
    }

    @Test(.timeLimit(.minutes(2))) func uploadTicketHeadersAreSentExactlyWithoutTheKey() async throws {
        try await withWaveSpeed { h in
            let url = try await h.client.upload(data: Array("RIFF fake".utf8), fileName: "voice.unknownext")
            #expect(url.hasSuffix("/voice.unknownext"))
            let ticket = try #require(h.server.requests(to: .uploadTicket).first)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(ticket.body)) as? [String: Any])
            // Unknown extension: no content_type, as WaveSpeed's client does.
            #expect(json["filename"] as? String == "voice.unknownext")
            #expect(json["size"] as? Int == 9)
            #expect(json["content_type"] == nil)
            let put = try #require(h.server.requests(to: .upload).first)
            let file = try #require(h.server.storedFiles.first)
            for (name, value) in file.requiredHeaders {
                #expect(put.headers.filter { $0.name == name.lowercased() }.map(\.value) == [value], "\(name)")
            }
            #expect(put.header("authorization") == nil)
            #expect(file.bytes == Array("RIFF fake".utf8))
        }
    }

    @Test(.timeLimit(.minutes(2))) func uploadsOverTheLimitAreRefusedBeforeSending() async throws {
        try await withWaveSpeed(configure: { $0.maxUploadBytes = 1000 }) { h in
            let error = await wsError { _ = try await h.client.upload(file: Fixture.path("speech.wav")) }
            #expect(error?.kind == .uploadTooLarge)
            #expect(error?.fault == .input)
            let data = await wsError {
                _ = try await h.client.upload(data: [UInt8](repeating: 0, count: 1001), fileName: "a.wav")
            }
            #expect(data?.kind == .uploadTooLarge)
            #expect(h.server.requests.isEmpty)
        }
    }

    @Test(.timeLimit(.minutes(2))) func rateLimitsAndUnavailableOnEveryCallAreRetried() async throws {
        try await withWaveSpeed { h in
            for route: FakeWaveSpeedServer.Route in [.uploadTicket, .upload, .submit, .result, .video] {
                h.server.inject([.rateLimited(retryAfter: 0), .unavailable], on: route)
            }
            _ = try await h.generate()
            // Every call got through on its third attempt; one task, billed once.
            #expect(h.server.requests(to: .uploadTicket).count == 4)
            #expect(h.server.requests(to: .upload).count == 4)
            #expect(h.server.requests(to: .submit).count == 3)
            #expect(h.server.tasks.count == 1)
            #expect(h.server.billedSeconds.count == 1)
            #expect(h.events.retryCount >= 8)
            #expect(h.events.downloadRetries.map(\.reason) == ["HTTP 429", "HTTP 503"])
        }
    }

    @Test(.timeLimit(.minutes(2))) func resetsOnUploadsPollsAndDownloadsAreRetried() async throws {
        try await withWaveSpeed { h in
            h.server.inject([.dropConnection], on: .uploadTicket)
            h.server.inject([.dropConnection], on: .upload)
            h.server.inject([.dropConnection, .dropConnection], on: .result)
            h.server.inject([.dropConnection], on: .video)
            _ = try await h.generate()
            #expect(h.server.tasks.count == 1)
            #expect(h.server.requests(to: .submit).count == 1)
            #expect(h.events.downloadRetries.count == 1)
        }
    }

    @Test(.timeLimit(.minutes(2))) func truncatedAndResetDownloadsResumeWithRange() async throws {
        try await withWaveSpeed { h in
            h.server.inject([.truncatedBody(afterBytes: 5000), .resetMidBody(afterBytes: 3000)], on: .video)
            let video = try await h.generate()
            #expect(video.bytes == Int64(try Fixture.bytes("clip-a.mp4").count))
            let gets = h.server.requests(to: .video)
            #expect(gets.count == 3)
            #expect(gets[0].header("range") == nil)
            #expect(gets[1].header("range") == "bytes=5000-")
            #expect(gets.allSatisfy { $0.header("authorization") == nil })
            #expect(h.events.downloadRetries.map(\.bytesReceived).first == 5000)
        }
    }

    @Test(.timeLimit(.minutes(2))) func aResetAfterAnAcceptedSubmitIsNeverSentAgain() async throws {
        try await withWaveSpeed { h in
            let input = try await h.uploadedInput()
            h.server.inject([.acceptThenDrop], on: .submit)
            let error = await wsError { _ = try await h.client.submit(input) }
            #expect(error?.kind == .submitOutcomeUnknown)
            #expect(error?.mayHaveBeenAccepted == true)
            #expect(
                error?.description.contains("not submitted again") == true
                    || error?.description.contains("not resubmitted") == true)
            // The task exists (and runs, and is billed); the client sent its submit once.
            #expect(h.server.requests(to: .submit).count == 1)
            #expect(h.server.tasks.count == 1)
        }
    }

    @Test(.timeLimit(.minutes(2))) func aSubmitWhoseAnswerTimesOutIsNeverSentAgain() async throws {
        try await withWaveSpeed(configure: { $0.requestTimeout = .seconds(2) }) { h in
            h.server.inject([.delay(.seconds(4))], on: .submit)
            let error = await wsError { _ = try await h.client.submit(h.plainInput) }
            #expect(error?.kind == .submitOutcomeUnknown)
            #expect(error?.mayHaveBeenAccepted == true)
            // The server answers late: the task exists, and the client did not send it again.
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(30)
            while h.server.tasks.isEmpty && clock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
            #expect(h.server.requests(to: .submit).count == 1)
            #expect(h.server.tasks.count == 1)
        }
    }

    @Test(.timeLimit(.minutes(2))) func aGatewayPageOnASubmitMayHideAnAcceptedTask() async throws {
        try await withWaveSpeed { h in
            h.server.inject([.gatewayError(504)], on: .submit)
            let error = await wsError { _ = try await h.client.submit(h.plainInput) }
            #expect(error?.kind == .submitOutcomeUnknown)
            #expect(error?.mayHaveBeenAccepted == true)
            #expect(error?.statusCode == 504)
            #expect(h.server.requests(to: .submit).count == 1)
        }
    }

    @Test(.timeLimit(.minutes(2))) func refusedSubmitsAreRetriedAndGiveUpAsNotAccepted() async throws {
        try await withWaveSpeed { h in
            h.server.inject([.rateLimited(), .unavailable, .unavailable, .unavailable], on: .submit)
            let error = await wsError { _ = try await h.client.submit(h.plainInput) }
            #expect(error?.kind == .httpStatus)
            #expect(error?.statusCode == 503)
            #expect(error?.apiCode == 503)
            #expect(error?.mayHaveBeenAccepted == false)
            #expect(error?.description.contains("gave up after 4 attempts") == true)
            #expect(h.server.requests(to: .submit).count == 4)
            #expect(h.server.tasks.isEmpty)
        }
    }

    @Test(.timeLimit(.minutes(2))) func envelopeErrorsUnderHTTP200AreErrors() async throws {
        try await withWaveSpeed { h in
            h.server.inject([.envelopeError(code: 400, message: "filename is invalid")], on: .uploadTicket)
            let upload = await wsError { _ = try await h.client.upload(data: [1, 2, 3], fileName: "a.png") }
            #expect(upload?.kind == .apiError)
            #expect(upload?.apiCode == 400)
            #expect(upload?.statusCode == 200)
            #expect(upload?.detail == "filename is invalid")

            h.server.inject([.envelopeError(code: 1001, message: "insufficient balance")], on: .submit)
            let submit = await wsError { _ = try await h.client.submit(h.plainInput) }
            #expect(submit?.kind == .apiError)
            #expect(submit?.mayHaveBeenAccepted == false)
            #expect(submit?.description.contains("insufficient balance") == true)
            #expect(h.server.requests(to: .submit).count == 1)

            let task = try await h.client.submit(h.plainInput)
            h.server.inject([.envelopeError(code: 500, message: "internal")], on: .result)
            let poll = await wsError { _ = try await h.client.waitForResult(id: task.id) }
            #expect(poll?.kind == .apiError)
            #expect(poll?.taskID == task.id)
        }
    }

    @Test(.timeLimit(.minutes(2))) func failedTasksAreTransientOrFinal() async throws {
        try await withWaveSpeed { h in
            h.server.script([
                .upstreamFailure, .contentRejected, FakeWaveSpeedServer.TaskScript(finalStatus: "cancelled"),
            ])
            var errors: [WaveSpeedError] = []
            for _ in 0..<3 {
                let task = try await h.client.submit(h.plainInput)
                if let error = await wsError({ _ = try await h.client.waitForResult(id: task.id) }) { errors.append(error) }
            }
            try #require(errors.count == 3)
            #expect(errors.allSatisfy { $0.kind == .taskFailed && $0.fault == .generation })
            #expect(errors.map(\.isTransient) == [true, false, false])
            #expect(errors.map(\.taskStatus) == ["failed", "failed", "cancelled"])
            #expect(errors[0].detail?.contains("HTTP 503") == true)
            #expect(errors[1].description.contains("content policy"))
            // None was submitted again by the client.
            #expect(h.server.requests(to: .submit).count == 3)
            #expect(h.server.billedSeconds.isEmpty)
        }
    }

    @Test(.timeLimit(.minutes(2))) func theKeyIsNeverInErrorsOrLogs() async throws {
        try await withWaveSpeed { h in
            h.server.inject([.echoAuthorization(401)], on: .uploadTicket)
            let error = await wsError { _ = try await h.client.upload(data: [1], fileName: "a.png") }
            #expect(error?.kind == .httpStatus)
            #expect(error?.fault == .credentials)
            #expect(error?.description.contains("<redacted>") == true)
            h.server.inject([.echoAuthorization(403)], on: .result)
            let poll = await wsError { _ = try await h.client.result(id: "abc123") }
            #expect(poll?.statusCode == 403)
        }
        // A wrong key: 401 from the API, a credentials fault.
        let server = FakeWaveSpeedServer(options: FakeWaveSpeedServer.Options(expectedKey: "another-key"))
        let base = try await server.start().absoluteString
        let client = try WaveSpeedClient(
            credentials: try WaveSpeedCredentials(key: wsKey),
            configuration: wsConfiguration(base: base, sleeps: SleepRecorder(cap: .milliseconds(5))))
        let refused = await wsError { _ = try await client.upload(data: [1], fileName: "a.png") }
        #expect(refused?.statusCode == 401)
        #expect(refused?.fault == .credentials)
        try await client.close()
        await server.stop()
    }

    @Test(.timeLimit(.minutes(2))) func plainHTTPIsRefusedToOtherHosts() async throws {
        try await withWaveSpeed { h in
            // A ticket naming plain http elsewhere: refused before the bytes (or the key) go anywhere.
            h.server.inject([.ticketURL("http://203.0.113.7/upload/x")], on: .uploadTicket)
            let upload = await wsError { _ = try await h.client.upload(data: [1, 2], fileName: "a.png") }
            #expect(upload?.kind == .insecureURL)
            #expect(h.server.requests(to: .upload).isEmpty)

            // A video URL over plain http elsewhere: refused.
            h.server.script([FakeWaveSpeedServer.TaskScript(videoURL: "http://203.0.113.7/v.mp4")])
            let task = try await h.client.submit(h.plainInput)
            let done = try await h.client.waitForResult(id: task.id)
            let download = await wsError { try await h.client.download(done.videoURL!, to: h.dir.path("v.mp4")) }
            #expect(download?.kind == .insecureURL)
            #expect(download?.fault == .credentials)
        }
    }

    @Test(.timeLimit(.minutes(2))) func pollsStartAtOneSecondAndBackOff() async throws {
        try await withWaveSpeed(
            FakeWaveSpeedServer.Options(
                createdPolls: 2, processingPolls: 3, fixedClip: try Fixture.bytes("clip-a.mp4"))
        ) { h in
            let task = try await h.client.submit(h.plainInput)
            _ = try await h.client.waitForResult(id: task.id, progress: h.events.callback)
            let sleeps = h.sleeps.all
            #expect(sleeps.count == 5)
            #expect(sleeps.first == .seconds(1))
            #expect(zip(sleeps, sleeps.dropFirst()).allSatisfy { $0 <= $1 })
            #expect(sleeps[1] > sleeps[0])
            #expect(sleeps.allSatisfy { $0 <= .seconds(10) })
            let progress = h.events.all.compactMap { event -> (WaveSpeedTaskStatus, Duration)? in
                if case .progress(_, let status, let elapsed) = event { return (status, elapsed) }
                return nil
            }
            #expect(progress.map(\.0) == [.created, .created, .processing, .processing, .processing])
            #expect(zip(progress, progress.dropFirst()).allSatisfy { $0.1 <= $1.1 })
        }
    }

    @Test(.timeLimit(.minutes(2))) func waitingGivesUpAfterMaxWaitAndCanBeResumed() async throws {
        try await withWaveSpeed(
            FakeWaveSpeedServer.Options(processingTime: .seconds(600), fixedClip: try Fixture.bytes("clip-a.mp4")),
            configure: { $0.poll.maxWait = .seconds(3) }
        ) { h in
            let task = try await h.client.submit(h.plainInput)
            let error = await wsError { _ = try await h.client.waitForResult(id: task.id) }
            #expect(error?.kind == .timedOut)
            #expect(error?.taskID == task.id)
            // A later one-off poll still finds it.
            #expect(try await h.client.result(id: task.id).status == .processing)
            #expect(h.server.requests(to: .submit).count == 1)
        }
    }

    @Test(.timeLimit(.minutes(2))) func unknownTasksAndMalformedIDs() async throws {
        try await withWaveSpeed { h in
            let missing = await wsError { _ = try await h.client.result(id: "deadbeef") }
            #expect(missing?.kind == .httpStatus)
            #expect(missing?.statusCode == 404)
            #expect(missing?.detail == "Prediction not found")
            let malformed = await wsError { _ = try await h.client.result(id: "../../etc") }
            #expect(malformed?.kind == .invalidURL)
            let empty = await wsError { _ = try await h.client.submit(WaveSpeedInput(image: "", audio: "x")) }
            #expect(empty?.kind == .invalidRequest)
            #expect(h.server.requests(to: .submit).isEmpty)
        }
    }
}

// MARK: - Clips whose length follows the audio

extension Serial {
    @Suite("WaveSpeed clips from the fake server", .timeLimit(.minutes(4)))
    struct WaveSpeedClipTests {
        @Test(.timeLimit(.minutes(2))) func clipLengthFollowsTheAudioAndEverySecondIsBilled() async throws {
            try await withWaveSpeed(FakeWaveSpeedServer.Options(expectedKey: wsKey, clipAudio: false)) { h in
                h.server.script([
                    .normal, FakeWaveSpeedServer.TaskScript(frameOffset: 2), FakeWaveSpeedServer.TaskScript(frameOffset: -2),
                ])
                var frames: [Int] = []
                for index in 0..<3 {
                    let task = try await h.submitted(audio: index == 0 ? "speech.wav" : "silence-1s.wav")
                    let done = try await h.client.waitForResult(id: task.id)
                    let video = try await h.client.download(try #require(done.videoURL), to: h.dir.path("clip\(index).mp4"))
                    frames.append(video.declaredFrameCount)
                }
                // 8.04 s → 201 frames; 1 s → 25 frames, +2 and −2.
                #expect(frames == [201, 27, 23])
                #expect(h.server.tasks.map(\.frames) == [201, 27, 23])
                // ceil(seconds), at least 5: 9, 5, 5.
                #expect(h.server.billedSeconds == [9, 5, 5])
                #expect(h.server.requests(to: .submit).count == 3)
            }
        }
    }
}
