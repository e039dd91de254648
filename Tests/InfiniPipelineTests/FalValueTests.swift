import AsyncHTTPClient
import FakeFal
import Foundation
import Logging
import NIOHTTP1
import Testing

@testable import InfiniPipeline

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
