import AsyncHTTPClient
import FakeFal
import Foundation
import Logging
import NIOHTTP1
import Testing

@testable import InfiniPipeline

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
            // On a loaded machine a first attempt can fail to connect (nothing sent, retried at
            // once) before the one the 429 answers: the retry after the 429 waits what it asked.
            let retries = h.events.events.compactMap { event -> Duration? in
                if case .retrying("submit", _, let delay, _) = event { return delay }
                return nil
            }
            #expect(retries.contains(.seconds(2)), "\(retries)")
            #expect(retries.allSatisfy { $0 == .seconds(2) || $0 <= .milliseconds(10) }, "\(retries)")
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
