import FakeFal
import Foundation
import Testing

@testable import InfiniPipeline

#if canImport(Glibc)
import Glibc
#endif

extension Serial {
    /// The `infinistitch` binary end to end against the fake fal server on 127.0.0.1.
    @Suite("infinistitch against the fake fal server")
    struct FalPipelineTests {
        static let key = "fake-key-id-0123456789:fake-key-secret-abcdefghijklmnop"

        struct Run {
            let dir: TempDir
            let server: FakeFalServer
            let url: URL

            func arguments(_ extra: [String] = [], workDir: String = "work", output: String = "out.mp4") -> [String] {
                [
                    Fixture.path("speech.mp3"), "--image", Fixture.path("portrait.jpg"), "-o", dir.path(output),
                    "--work-dir", dir.path(workDir), "--queue-url", url.absoluteString, "--rest-url", url.absoluteString,
                ] + extra
            }

            var environment: [String: String] {
                [
                    "FAL_KEY": FalPipelineTests.key, "XDG_CACHE_HOME": dir.path("cache"), "HOME": dir.url.path,
                    "PATH": "/usr/bin:/bin",
                ]
            }

            func run(
                _ extra: [String] = [], workDir: String = "work", output: String = "out.mp4",
                environment: [String: String]? = nil
            ) throws -> (status: Int32, stdout: String, stderr: String) {
                let r = try runProcess(
                    infinistitchBinary, arguments(extra, workDir: workDir, output: output),
                    environment: environment ?? self.environment)
                return (r.status, String(decoding: r.stdout, as: UTF8.self), String(decoding: r.stderr, as: UTF8.self))
            }

            /// Like ``run(_:workDir:output:environment:)``, but the process is killed (and the test
            /// fails) when it has not finished within `limit`.
            func run(_ extra: [String], environment: [String: String], limit: Duration) async throws
                -> (status: Int32, stdout: String, stderr: String)
            {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: infinistitchBinary)
                process.arguments = arguments(extra)
                process.environment = environment
                let out = try TempFile(in: dir, name: "stdout-\(UUID().uuidString.prefix(8))")
                let err = try TempFile(in: dir, name: "stderr-\(UUID().uuidString.prefix(8))")
                process.standardOutput = out.handle
                process.standardError = err.handle
                try process.run()
                let deadline = ContinuousClock.now + limit
                while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
                if process.isRunning {
                    kill(process.processIdentifier, SIGKILL)
                    Issue.record("infinistitch \(extra.joined(separator: " ")) did not finish within \(limit); killed")
                }
                process.waitUntilExit()
                return (process.terminationStatus, try out.text(), try err.text())
            }

            /// Every file under the run's directory, concatenated (to look for the key).
            func allFileText() throws -> String {
                var text = ""
                let e = FileManager.default.enumerator(atPath: dir.url.path)
                while let name = e?.nextObject() as? String {
                    let path = dir.url.appendingPathComponent(name).path
                    if let d = FileManager.default.contents(atPath: path) { text += String(decoding: d, as: UTF8.self) }
                }
                return text
            }
        }

        /// A file for a child's output (no pipe that could fill up while nobody reads it).
        struct TempFile {
            let path: String
            let handle: FileHandle
            init(in dir: TempDir, name: String) throws {
                path = dir.path(name)
                guard FileManager.default.createFile(atPath: path, contents: nil) else {
                    throw CocoaError(.fileWriteUnknown)
                }
                handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            }
            func text() throws -> String {
                try handle.close()
                return String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
            }
        }

        static func withServer(
            _ options: FakeFalServer.Options = FakeFalServer.Options(),
            _ body: (Run) async throws -> Void
        ) async throws {
            let dir = try TempDir()
            let server = FakeFalServer(options: options)
            let url = try await server.start()
            do {
                try await body(Run(dir: dir, server: server, url: url))
            } catch {
                await server.stop()
                dir.cleanup()
                throw error
            }
            await server.stop()
            dir.cleanup()
        }

        static func expectKeyNeverLeaks(_ run: Run, _ outputs: [String]) throws {
            let secret = "fake-key-secret-abcdefghijklmnop"
            for text in outputs { #expect(!text.contains(secret)) }
            #expect(!(try run.allFileText()).contains(secret))
            for r in run.server.requests(to: .upload) + run.server.requests(to: .video) {
                #expect(r.header("authorization") == nil, "\(r.route) carried Authorization")
            }
        }

        @Test(.timeLimit(.minutes(3))) func happyPath() async throws {
            try await Self.withServer { run in
                let result = try run.run()
                #expect(result.status == 0, "\(result.stderr)")
                let plan = try SegmentPlanner.plan(audioFile: Fixture.path("speech.mp3"))
                #expect(try VideoReader(path: run.dir.path("out.mp4")).countFrames() == plan.totalFrames)
                #expect(run.server.requests(to: .submit).count == plan.segments.count)
                // The image is uploaded once per run, each segment's audio once.
                let stored = run.server.storedFiles
                #expect(stored.filter { $0.contentType == "image/png" }.count == 1)
                #expect(stored.filter { $0.contentType == "audio/wav" }.count == plan.segments.count)
                // Requests carry the plan's frame counts and the fitted image size's resolution.
                #expect(run.server.submittedInputs.map(\.numFrames).sorted() == plan.segments.map(\.numFrames).sorted())
                #expect(result.stdout.contains("out.mp4"))
                try Self.expectKeyNeverLeaks(run, [result.stdout, result.stderr])
                // By default: progress and warnings only, no log lines (swift-log's default handler
                // would print timestamped lines into the progress).
                let timestamped = try Regex(#"(?m)^\d{4}-\d{2}-\d{2}T"#)
                #expect(!result.stderr.contains(timestamped) && !result.stderr.contains("debug:"), "\(result.stderr)")
                // --verbose shows the fal client's log, still without the key.
                let verbose = try run.run(["--verbose"], workDir: "work-v", output: "out-v.mp4")
                #expect(verbose.status == 0, "\(verbose.stderr)")
                #expect(verbose.stderr.contains("debug: ") && !verbose.stderr.contains(timestamped))
                try Self.expectKeyNeverLeaks(run, [verbose.stdout, verbose.stderr])
            }
        }

        @Test(.timeLimit(.minutes(3))) func retriesAndResubmitsAfterFaults() async throws {
            try await Self.withServer { run in
                run.server.inject([.rateLimited(retryAfter: "0"), .ingressError(503)], on: .submit)
                run.server.script([.failing()])
                let result = try run.run(["--json"])
                #expect(result.status == 0, "\(result.stderr)")
                // 2 segments + 1 resubmission of the failed generation were accepted.
                #expect(run.server.requestIDs.count == 3)
                let events = result.stdout.split(separator: "\n").map { String($0) }
                #expect(
                    events.first?.contains("\"event\":\"plan\"") == true || events.contains { $0.contains("\"event\":\"plan\"") })
                #expect(events.last?.contains("\"event\":\"summary\"") == true)
                #expect(events.contains { $0.contains("\"state\":\"retrying\"") })
                try Self.expectKeyNeverLeaks(run, [result.stdout, result.stderr])
            }
        }

        @Test(.timeLimit(.minutes(3))) func killedRunResumesWithoutPayingTwice() async throws {
            try await Self.withServer(FakeFalServer.Options(processingTime: .seconds(3))) { run in
                let process = Process()
                process.executableURL = URL(fileURLWithPath: infinistitchBinary)
                process.arguments = run.arguments()
                process.environment = run.environment
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                let plan = try SegmentPlanner.plan(audioFile: Fixture.path("speech.mp3"))
                for _ in 0..<600 where run.server.requestIDs.count < plan.segments.count {
                    try await Task.sleep(for: .milliseconds(20))
                }
                try await Task.sleep(for: .milliseconds(300))  // the manifest is written right after each submit
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                #expect(run.server.requestIDs.count == plan.segments.count)
                #expect(!FileManager.default.fileExists(atPath: run.dir.path("out.mp4")))

                let result = try run.run()
                #expect(result.status == 0, "\(result.stderr)")
                #expect(run.server.requestIDs.count == plan.segments.count, "a request was submitted again")
                #expect(try VideoReader(path: run.dir.path("out.mp4")).countFrames() == plan.totalFrames)

                // The same input in another work dir comes from the clip cache: nothing submitted.
                let again = try run.run(workDir: "work2", output: "again.mp4")
                #expect(again.status == 0, "\(again.stderr)")
                #expect(run.server.requestIDs.count == plan.segments.count)
            }
        }

        @Test(.timeLimit(.minutes(3))) func ctrlCCancelsQueuedRequests() async throws {
            try await Self.withServer(FakeFalServer.Options(queuePolls: 1000)) { run in
                let process = Process()
                process.executableURL = URL(fileURLWithPath: infinistitchBinary)
                process.arguments = run.arguments()
                process.environment = run.environment
                let errPipe = Pipe()
                process.standardOutput = FileHandle.nullDevice
                process.standardError = errPipe
                try process.run()
                for _ in 0..<600 where run.server.requestIDs.count < 2 { try await Task.sleep(for: .milliseconds(20)) }
                // Let both requests be seen waiting in the queue.
                for _ in 0..<300 where run.server.requests(to: .status).count < 2 { try await Task.sleep(for: .milliseconds(20)) }
                kill(process.processIdentifier, SIGINT)
                let stderr = String(decoding: errPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                process.waitUntilExit()
                #expect(process.terminationStatus == 130, "\(stderr)")
                #expect(Set(run.server.cancelledRequestIDs) == Set(run.server.requestIDs))
                let manifest = try #require(
                    try ManifestStore.load(from: URL(fileURLWithPath: run.dir.path("work/manifest.json"))))
                #expect(manifest.segments.allSatisfy { $0.request == nil })
                #expect(!FileManager.default.fileExists(atPath: run.dir.path("out.mp4")))
            }
        }

        @Test(.timeLimit(.minutes(3))) func badInputSendsNothing() async throws {
            try await Self.withServer { run in
                var env = run.environment
                env["FAL_KEY"] = nil
                let noKey = try run.run(environment: env)
                #expect(noKey.status == 2)
                #expect(noKey.stderr.contains("FAL_KEY"))
                let dry = try run.run(["--dry-run"], environment: env)
                #expect(dry.status == 0, "\(dry.stderr)")
                #expect(dry.stdout.contains("num_frames"))
                let badImage = try runProcess(
                    infinistitchBinary,
                    [
                        Fixture.path("speech.mp3"), "--image", Fixture.path("not-an-image.png"),
                        "--queue-url", run.url.absoluteString, "--rest-url", run.url.absoluteString,
                        "-o", run.dir.path("x.mp4"),
                    ], environment: run.environment)
                #expect(badImage.status == 2)
                let badAudio = try runProcess(
                    infinistitchBinary,
                    [
                        Fixture.path("not-audio.mp3"), "--image", Fixture.path("portrait.jpg"),
                        "--queue-url", run.url.absoluteString, "--rest-url", run.url.absoluteString,
                        "-o", run.dir.path("x.mp4"),
                    ], environment: run.environment)
                #expect(badAudio.status == 2)
                #expect(String(decoding: badAudio.stderr, as: UTF8.self).contains("not-audio.mp3"))
                let insecure = try run.run(["--queue-url", "http://example.com"])
                #expect(insecure.status == 2)
                #expect(run.server.requests.isEmpty)
                #expect(!FileManager.default.fileExists(atPath: run.dir.path("out.mp4")))
                #expect(!FileManager.default.fileExists(atPath: run.dir.path("x.mp4")))
            }
        }

        // MARK: - Downloads of paid results

        /// At a 30 % fault rate on video downloads (503, reset mid-body, truncated body with the
        /// full Content-Length, chosen by a seeded generator), every run succeeds, pays for each
        /// segment once, and reports each retry as an NDJSON event. Seeds 1…5; to measure a success
        /// rate, `INFINISTITCH_FAULT_SEEDS=N` runs seeds 1…N, `INFINISTITCH_FAULT_RATE=R` sets
        /// another rate (0…1) and `INFINISTITCH_DOWNLOAD_BUDGET=S` another budget (60 s here).
        // 5 seeds take about 20 s on a loaded machine; the limit leaves room for
        // INFINISTITCH_FAULT_SEEDS in the hundreds (each run is also bounded by its own watchdog).
        @Test(.timeLimit(.minutes(60)))
        func runsSucceedAtThirtyPercentDownloadFaults() async throws {
            let environment = ProcessInfo.processInfo.environment
            let seeds = environment["INFINISTITCH_FAULT_SEEDS"].flatMap { Int($0) } ?? 5
            let rate = environment["INFINISTITCH_FAULT_RATE"].flatMap { Double($0) } ?? 0.3
            let budget = environment["INFINISTITCH_DOWNLOAD_BUDGET"] ?? "60"
            let plan = try SegmentPlanner.plan(audioFile: Fixture.path("speech.mp3"), options: PlanningOptions(maxFrames: 41))
            #expect(plan.segments.count >= 5)
            var succeeded = 0, faults = 0, ranged = 0
            for seed in 1...UInt64(max(1, seeds)) {
                // No audio track in the clips: the stitcher never reads it, and encoding it is most of
                // the fake's work per clip.
                let options = FakeFalServer.Options(
                    clipAudio: false,
                    videoFaults: FakeFalServer.VideoFaults(rate: rate, seed: seed))
                try await Self.withServer(options) { run in
                    var environment = run.environment
                    environment["INFINISTITCH_DOWNLOAD_BUDGET"] = budget
                    let result = try await run.run(
                        ["--max-frames", "41", "--json"], environment: environment,
                        limit: .seconds(Double(budget).map { $0 * 2 + 90 } ?? 210))
                    #expect(result.status == 0, "seed \(seed): \(result.stderr)")
                    guard result.status == 0 else { return }
                    succeeded += 1
                    #expect(try VideoReader(path: run.dir.path("out.mp4")).countFrames() == plan.totalFrames, "seed \(seed)")
                    // Each segment paid for once: no failed download led to a resubmission.
                    #expect(run.server.requestIDs.count == plan.segments.count, "seed \(seed)")
                    // One download_retry event per fault played, with its fields.
                    let played = run.server.videoFaultLog
                    faults += played.count
                    let retries = result.stdout.split(separator: "\n").filter { $0.contains("\"event\":\"download_retry\"") }
                    #expect(retries.count == played.count, "seed \(seed): \(played)")
                    for line in retries {
                        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                        for key in ["index", "attempt", "bytesReceived", "elapsedSeconds", "delaySeconds", "reason", "url"] {
                            #expect(object[key] != nil, "\(key) missing in \(line)")
                        }
                    }
                    ranged += run.server.requests(to: .video).filter { $0.header("range") != nil }.count
                    // The segment lines keep their keys.
                    #expect(result.stdout.contains("\"event\":\"segment\"") && result.stdout.contains("\"state\":\"done\""))
                    try Self.expectKeyNeverLeaks(run, [result.stdout, result.stderr])
                }
            }
            print(
                "download faults at \(Int(rate * 100)) %: \(succeeded) of \(seeds) runs succeeded; \(faults) faults played, \(ranged) requests resumed with Range"
            )
            // The runs did meet faults, and resumed interrupted bodies with Range.
            #expect(faults >= seeds / 2 && ranged > 0, "\(faults) faults, \(ranged) ranged requests")
        }

        /// The progress display says what happened and what comes next.
        @Test(.timeLimit(.minutes(1)))
        func interruptedDownloadIsShownAndResumed() async throws {
            try await Self.withServer { run in
                run.server.inject([.truncatedBody(afterBytes: 5000), .ingressError(503)], on: .video)
                let result = try await run.run(["--concurrency", "1"], environment: run.environment, limit: .seconds(50))
                #expect(result.status == 0, "\(result.stderr)")
                let lines = result.stderr.split(separator: "\n").map(String.init)
                let first = try #require(lines.first { $0.contains("(attempt 2)") }, "\(result.stderr)")
                #expect(first.hasPrefix("segment 0: download interrupted ("), "\(first)")
                #expect(first.contains("), resuming at 5 KB in "), "\(first)")
                let second = try #require(lines.first { $0.contains("(attempt 3)") }, "\(result.stderr)")
                #expect(second.hasPrefix("segment 0: download interrupted (HTTP 503), resuming at 5 KB in "), "\(second)")
                #expect(
                    run.server.requests(to: .video).map { $0.header("range") }.prefix(3) == [nil, "bytes=5000-", "bytes=5000-"])
                #expect(run.server.requestIDs.count == 2)
            }
        }

        /// When the budget runs out, the run stops naming the segment and the URL (never the key),
        /// keeps the finished request, and the next run downloads it without paying again.
        @Test(.timeLimit(.minutes(1)))
        func exhaustedBudgetStopsAndTheNextRunDownloads() async throws {
            try await Self.withServer { run in
                // With a 1 s budget and 0.5 s, 1 s waits (±25 %), a download tries twice.
                run.server.inject([.ingressError(503), .ingressError(503)], on: .video)
                var environment = run.environment
                environment["INFINISTITCH_DOWNLOAD_BUDGET"] = "1"
                let failed = try await run.run(["--concurrency", "1"], environment: environment, limit: .seconds(50))
                #expect(failed.status == 1, "\(failed.stderr)")
                let message = try #require(
                    failed.stderr.split(separator: "\n").first {
                        $0.contains("segment 0") && $0.contains("gave up downloading")
                    }, "\(failed.stderr)")
                #expect(message.contains("GET \(run.url.absoluteString)/fake-videos/"), "\(message)")
                #expect(message.contains("the download budget is 1 s"), "\(message)")
                #expect(run.server.requestIDs.count == 1)
                #expect(!FileManager.default.fileExists(atPath: run.dir.path("out.mp4")))

                let again = try await run.run(["--concurrency", "1"], environment: environment, limit: .seconds(50))
                #expect(again.status == 0, "\(again.stderr)")
                // Segment 0 was not submitted again: its recorded result was downloaded.
                #expect(run.server.requestIDs.count == 2)
                try Self.expectKeyNeverLeaks(run, [failed.stdout, failed.stderr, again.stdout, again.stderr])
            }
        }
    }
}
