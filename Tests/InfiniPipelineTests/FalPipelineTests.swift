import FakeFal
import Foundation
import Testing
@testable import InfiniPipeline
#if canImport(Glibc)
import Glibc
#endif

/// The `infinistitch` binary end to end against the fake fal server on 127.0.0.1.
@Suite("infinistitch against the fake fal server", .serialized)
struct FalPipelineTests {
    static let key = "fake-key-id-0123456789:fake-key-secret-abcdefghijklmnop"

    struct Run {
        let dir: TempDir
        let server: FakeFalServer
        let url: URL

        func arguments(_ extra: [String] = [], workDir: String = "work", output: String = "out.mp4") -> [String] {
            [Fixture.path("speech.mp3"), "--image", Fixture.path("portrait.jpg"), "-o", dir.path(output),
             "--work-dir", dir.path(workDir), "--queue-url", url.absoluteString, "--rest-url", url.absoluteString] + extra
        }

        var environment: [String: String] {
            ["FAL_KEY": FalPipelineTests.key, "XDG_CACHE_HOME": dir.path("cache"), "HOME": dir.url.path,
             "PATH": "/usr/bin:/bin"]
        }

        func run(_ extra: [String] = [], workDir: String = "work", output: String = "out.mp4",
                 environment: [String: String]? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
            let r = try runProcess(infinistitchBinary, arguments(extra, workDir: workDir, output: output),
                                   environment: environment ?? self.environment)
            return (r.status, String(decoding: r.stdout, as: UTF8.self), String(decoding: r.stderr, as: UTF8.self))
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

    static func withServer(_ options: FakeFalServer.Options = FakeFalServer.Options(),
                           _ body: (Run) async throws -> Void) async throws {
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

    @Test func happyPath() async throws {
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
        }
    }

    @Test func retriesAndResubmitsAfterFaults() async throws {
        try await Self.withServer { run in
            run.server.inject([.rateLimited(retryAfter: "0"), .ingressError(503)], on: .submit)
            run.server.script([.failing()])
            let result = try run.run(["--json"])
            #expect(result.status == 0, "\(result.stderr)")
            // 2 segments + 1 resubmission of the failed generation were accepted.
            #expect(run.server.requestIDs.count == 3)
            let events = result.stdout.split(separator: "\n").map { String($0) }
            #expect(events.first?.contains("\"event\":\"plan\"") == true || events.contains { $0.contains("\"event\":\"plan\"") })
            #expect(events.last?.contains("\"event\":\"summary\"") == true)
            #expect(events.contains { $0.contains("\"state\":\"retrying\"") })
            try Self.expectKeyNeverLeaks(run, [result.stdout, result.stderr])
        }
    }

    @Test func killedRunResumesWithoutPayingTwice() async throws {
        try await Self.withServer(FakeFalServer.Options(processingTime: .seconds(3))) { run in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: infinistitchBinary)
            process.arguments = run.arguments()
            process.environment = run.environment
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let plan = try SegmentPlanner.plan(audioFile: Fixture.path("speech.mp3"))
            for _ in 0..<600 where run.server.requestIDs.count < plan.segments.count { try await Task.sleep(for: .milliseconds(20)) }
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

    @Test func ctrlCCancelsQueuedRequests() async throws {
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
            let manifest = try #require(try ManifestStore.load(from: URL(fileURLWithPath: run.dir.path("work/manifest.json"))))
            #expect(manifest.segments.allSatisfy { $0.request == nil })
            #expect(!FileManager.default.fileExists(atPath: run.dir.path("out.mp4")))
        }
    }

    @Test func badInputSendsNothing() async throws {
        try await Self.withServer { run in
            var env = run.environment
            env["FAL_KEY"] = nil
            let noKey = try run.run(environment: env)
            #expect(noKey.status == 2)
            #expect(noKey.stderr.contains("FAL_KEY"))
            let dry = try run.run(["--dry-run"], environment: env)
            #expect(dry.status == 0, "\(dry.stderr)")
            #expect(dry.stdout.contains("num_frames"))
            let badImage = try runProcess(infinistitchBinary, [Fixture.path("speech.mp3"), "--image", Fixture.path("not-an-image.png"),
                                                              "--queue-url", run.url.absoluteString, "--rest-url", run.url.absoluteString,
                                                              "-o", run.dir.path("x.mp4")], environment: run.environment)
            #expect(badImage.status == 2)
            let badAudio = try runProcess(infinistitchBinary, [Fixture.path("not-audio.mp3"), "--image", Fixture.path("portrait.jpg"),
                                                              "--queue-url", run.url.absoluteString, "--rest-url", run.url.absoluteString,
                                                              "-o", run.dir.path("x.mp4")], environment: run.environment)
            #expect(badAudio.status == 2)
            #expect(String(decoding: badAudio.stderr, as: UTF8.self).contains("not-audio.mp3"))
            let insecure = try run.run(["--queue-url", "http://example.com"])
            #expect(insecure.status == 2)
            #expect(run.server.requests.isEmpty)
            #expect(!FileManager.default.fileExists(atPath: run.dir.path("out.mp4")))
            #expect(!FileManager.default.fileExists(atPath: run.dir.path("x.mp4")))
        }
    }
}
