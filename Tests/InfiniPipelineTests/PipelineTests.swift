import FakeFal
import Foundation
import Testing

@testable import InfiniPipeline

/// A backend for pipeline tests: renders real clips with the preview renderer, counts every
/// call, and fails, stalls or breaks on demand.
final class ScriptedBackend: ClipBackend, @unchecked Sendable {
    let preview: PreviewBackend
    private let lock = NSLock()
    private(set) var submits: [Int: Int] = [:]
    private(set) var waits: [String] = []
    private(set) var cancels: [String] = []
    /// Segment → how many of its waits fail with a GenerationFailure.
    var failGenerations: [Int: Int] = [:]
    /// Segments whose first wait throws a transport-like error (the run stops).
    var breakWaits: Set<Int> = []
    /// When true, waits report "queued" and sleep until cancelled.
    var stall = false
    /// Segments whose first download throws a transport-like error (the run stops).
    var breakDownloads: Set<Int> = []
    /// Segment → how many of its clips are rendered from `oddImage` instead of the request's
    /// portrait: a clip of another size, which passes the download check and which the
    /// stitcher rejects.
    var oddSizeClips: [Int: Int] = [:]
    /// A PNG of another size than the fitted portrait, for `oddSizeClips`.
    var oddImage = ""

    init(directory: URL) {
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        preview = PreviewBackend(directory: directory)
    }

    /// The identity it reports (a provider's model id, in tests of another provider's clips).
    var identityName = "scripted"
    var identity: String { identityName }
    var totalSubmits: Int { lock.withLock { submits.values.reduce(0, +) } }

    func stageImage(png: [UInt8], fileName: String) async throws -> String {
        try await preview.stageImage(png: png, fileName: fileName)
    }
    func stageAudio(file: URL) async throws -> String { file.path }

    func submit(_ request: ClipRequest) async throws -> SubmittedRequest {
        lock.withLock { submits[request.segment.index, default: 0] += 1 }
        return try await preview.submit(request)
    }

    func waitForResult(
        _ submitted: SubmittedRequest, request: ClipRequest,
        progress: @escaping @Sendable (BackendProgress) -> Void
    ) async throws -> String {
        let index = request.segment.index
        let (fail, broken, stalled): (Bool, Bool, Bool) = lock.withLock {
            waits.append(submitted.requestId)
            let f = (failGenerations[index] ?? 0) > 0
            if f { failGenerations[index]! -= 1 }
            let b = breakWaits.remove(index) != nil
            return (f, b, stall)
        }
        if broken { throw URLError(.networkConnectionLost) }
        if fail { throw GenerationFailure("the model failed (scripted)") }
        if stalled {
            progress(.queued(position: 3))
            while true { try await Task.sleep(for: .milliseconds(20)) }
        }
        let odd: Bool = lock.withLock {
            guard (oddSizeClips[index] ?? 0) > 0 else { return false }
            oddSizeClips[index]! -= 1
            return true
        }
        var request = request
        if odd { request.input.imageURL = oddImage }
        return try await preview.waitForResult(submitted, request: request, progress: progress)
    }

    func download(_ url: String, to destination: URL) async throws {
        // Preview clips are named preview-<segment>-<id>.mp4.
        let name = URL(string: url)?.lastPathComponent ?? ""
        let segment = Int(name.split(separator: "-").dropFirst().first ?? "") ?? -1
        if lock.withLock({ breakDownloads.remove(segment) != nil }) { throw URLError(.networkConnectionLost) }
        try await preview.download(url, to: destination)
    }

    func cancel(_ submitted: SubmittedRequest) async {
        lock.withLock { cancels.append(submitted.requestId) }
    }
}

extension Serial {
    @Suite("Pipeline", .timeLimit(.minutes(3)))
    struct PipelineTests {
        /// The manifest a run left in `options(dir)`'s work dir; fails the test when there is none.
        static func savedManifest(_ dir: TempDir) throws -> Manifest {
            try #require(try ManifestStore.load(from: dir.url.appendingPathComponent("work/manifest.json")))
        }

        static func options(_ dir: TempDir, audio: String = "speech.mp3") -> PipelineOptions {
            var o = PipelineOptions(audio: Fixture.path(audio), image: Fixture.path("portrait.jpg"))
            o.output = dir.path("out.mp4")
            o.workDir = dir.path("work")
            o.backend = .preview
            o.environment = ["XDG_CACHE_HOME": dir.path("cache"), "HOME": dir.url.path]
            o.concurrency = 2
            // Hard cuts (the copy path): what these tests check does not depend on the seams, and
            // the default morph re-encodes every frame (so would the default colour match).
            // previewBackendEndToEnd keeps the default seams; ColorMatchPipelineTests the colour match.
            o.stitch = StitchOptions(transition: .cut)
            o.colorMatch = .off
            return o
        }

        @Test func previewBackendEndToEnd() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            var options = Self.options(dir)
            options.stitch = PipelineOptions(audio: options.audio, image: options.image).stitch
            #expect(options.stitch.transition == .morph)
            let pipeline = Pipeline(options: options)
            let (summary, events) = try await runCollectingEvents(pipeline)
            guard
                case .plan(let plan)? = events.first(where: {
                    if case .plan = $0 { return true }; return false
                })
            else {
                Issue.record("no plan event")
                return
            }
            #expect(summary.frames == plan.totalFrames)
            #expect(summary.segments == plan.segments.count)
            #expect(summary.cost == 0)
            if case .summary(let s)? = events.last {
                #expect(s == summary)
            } else {
                Issue.record("summary is not the last event")
            }
            // The output: exactly T frames at 25 fps, and the original audio in sync.
            let video = try Demuxer(path: dir.path("out.mp4")).bestStream(.video)
            #expect(video.width == 640 && video.height == 640)
            #expect(try VideoReader(path: dir.path("out.mp4")).countFrames() == plan.totalFrames)
            let original = try AudioReader(path: Fixture.path("speech.mp3"), channels: 1).readAll()
            let stitched = try AudioReader(path: dir.path("out.mp4"), channels: 1).readAll()
            #expect(abs(StitchTests.bestLag(original, stitched, range: 2000)) < 88)  // < 2 ms at 44.1 kHz
            // Every segment went through the recorded states, and the manifest says done.
            let manifest = try Self.savedManifest(dir)
            #expect(manifest.segments.allSatisfy { $0.state == .done && $0.clipSHA256 != nil && $0.submits == 1 })
        }

        @Test func crashAfterSubmitResumesWithoutANewSubmit() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            var o = Self.options(dir)
            o.useCache = false
            let first = ScriptedBackend(directory: dir.url.appendingPathComponent("backend"))
            first.breakWaits = [1]
            await #expect(throws: PipelineError.self) { try await Pipeline(options: o, backend: first).run() }
            #expect(first.submits[1] == 1)
            let saved = try Self.savedManifest(dir)
            let recorded = try #require(saved.segments[1].request?.requestId)
            #expect(saved.segments[1].state == .submitted)

            let second = ScriptedBackend(directory: dir.url.appendingPathComponent("backend"))
            let summary = try await Pipeline(options: o, backend: second).run()
            #expect(second.submits[1] == nil, "segment 1 was submitted again")
            #expect(second.waits.contains(recorded))
            #expect(summary.frames == saved.plan.totalFrames)
            // A third run reuses everything: no submit, no wait.
            let third = ScriptedBackend(directory: dir.url.appendingPathComponent("backend"))
            let again = try await Pipeline(options: o, backend: third).run()
            #expect(third.totalSubmits == 0 && third.waits.isEmpty)
            #expect(again.reusedSegments == again.segments)
        }

        @Test func crashBeforeDownloadFetchesTheRecordedResult() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            var o = Self.options(dir)
            o.useCache = false
            let first = ScriptedBackend(directory: dir.url.appendingPathComponent("backend"))
            first.breakDownloads = [0]
            await #expect(throws: PipelineError.self) { try await Pipeline(options: o, backend: first).run() }
            let saved = try Self.savedManifest(dir)
            #expect(saved.segments[0].state == .completed && saved.segments[0].resultURL != nil)

            let second = ScriptedBackend(directory: dir.url.appendingPathComponent("backend"))
            _ = try await Pipeline(options: o, backend: second).run()
            #expect(second.totalSubmits == 0 || second.submits[0] == nil)
            #expect(!second.waits.contains(saved.segments[0].request!.requestId), "the recorded result was not used")

            // A finished clip deleted from the work dir is made again (here: nothing cached, so resubmitted).
            let manifest = try Self.savedManifest(dir)
            try FileManager.default.removeItem(atPath: manifest.segments[1].clipPath!)
            let third = ScriptedBackend(directory: dir.url.appendingPathComponent("backend"))
            let summary = try await Pipeline(options: o, backend: third).run()
            #expect(third.submits[1] == 1 && third.submits[0] == nil)
            #expect(try VideoReader(path: dir.path("out.mp4")).countFrames() == summary.frames)
        }

        @Test func cacheHitAcrossWorkDirsSubmitsNothing() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            var o = Self.options(dir)
            let first = ScriptedBackend(directory: dir.url.appendingPathComponent("b1"))
            _ = try await Pipeline(options: o, backend: first).run()
            #expect(first.totalSubmits > 0)
            o.workDir = dir.path("other-work")
            o.output = dir.path("again.mp4")
            let second = ScriptedBackend(directory: dir.url.appendingPathComponent("b2"))
            let summary = try await Pipeline(options: o, backend: second).run()
            #expect(second.totalSubmits == 0)
            #expect(summary.paidSeconds == 0 && summary.reusedSegments == summary.segments)
            #expect(try VideoReader(path: dir.path("again.mp4")).countFrames() == summary.frames)
            // --no-cache pays again.
            o.workDir = dir.path("third-work")
            o.useCache = false
            let third = ScriptedBackend(directory: dir.url.appendingPathComponent("b3"))
            _ = try await Pipeline(options: o, backend: third).run()
            #expect(third.totalSubmits == first.totalSubmits)
        }

        @Test func failedGenerationIsResubmittedAtMostTwice() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            var o = Self.options(dir)
            o.useCache = false
            let flaky = ScriptedBackend(directory: dir.url.appendingPathComponent("b1"))
            flaky.failGenerations = [0: 2]
            _ = try await Pipeline(options: o, backend: flaky).run()
            #expect(flaky.submits[0] == 3)

            o.workDir = dir.path("work2")
            o.output = dir.path("out2.mp4")
            let broken = ScriptedBackend(directory: dir.url.appendingPathComponent("b2"))
            broken.failGenerations = [1: 3]
            do {
                _ = try await Pipeline(options: o, backend: broken).run()
                Issue.record("the run should fail")
            } catch let error as PipelineError {
                #expect(error.kind == .generationFailed && error.segments == [1])
                #expect(error.description.contains("segment 1") && error.description.contains("3 times"))
            }
            #expect(broken.submits[1] == 3)
            // Finished clips are kept for the resume.
            let manifest = try #require(try ManifestStore.load(from: URL(fileURLWithPath: dir.path("work2/manifest.json"))))
            #expect(manifest.segments[0].state == .done)
            #expect(!FileManager.default.fileExists(atPath: dir.path("out2.mp4")))
            // Running it again resumes: the failed segment gets fresh attempts, the finished one is reused.
            let healed = ScriptedBackend(directory: dir.url.appendingPathComponent("b3"))
            let summary = try await Pipeline(options: o, backend: healed).run()
            #expect(healed.submits[1] == 1 && healed.submits[0] == nil)
            #expect(try VideoReader(path: dir.path("out2.mp4")).countFrames() == summary.frames)
        }

        @Test func cancellingStopsAndCancelsQueuedRequests() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            var o = Self.options(dir)
            o.useCache = false
            let backend = ScriptedBackend(directory: dir.url.appendingPathComponent("b"))
            backend.stall = true
            let task = Task { try await Pipeline(options: o, backend: backend).run() }
            // Wait until both segments are submitted and queued.
            for _ in 0..<500 where backend.totalSubmits < 2 { try await Task.sleep(for: .milliseconds(10)) }
            try await Task.sleep(for: .milliseconds(50))
            task.cancel()
            do {
                _ = try await task.value
                Issue.record("the run should be interrupted")
            } catch let error as PipelineError {
                #expect(error.kind == .interrupted)
            }
            #expect(Set(backend.cancels) == Set(backend.waits))
            #expect(backend.cancels.count == 2)
            let manifest = try Self.savedManifest(dir)
            #expect(manifest.segments.allSatisfy { $0.request == nil && $0.state != .done })
            #expect(!FileManager.default.fileExists(atPath: dir.path("out.mp4")))
        }

        /// The portrait's upload belongs to the run: cancelling the run while it is in flight
        /// stops it, instead of waiting for it to finish (here it would take 30 s).
        @Test func cancellingWhileThePortraitUploadsStopsPromptly() async throws {
            let server = FakeFalServer()
            let url = try await server.start()
            let dir = try TempDir()
            defer { dir.cleanup() }
            var o = Self.options(dir)
            o.useCache = false
            o.backend = .fal
            o.queueURL = url.absoluteString
            o.restURL = url.absoluteString
            o.credentials = try FalCredentials(key: "fake-key-id-0123456789:fake-key-secret-abcdefghijklmnop")
            // The run's first upload is the portrait (a segment stages it before its audio).
            server.inject([.delay(.seconds(30))], on: .upload)
            let run = Task { try await Pipeline(options: o).run() }
            try await waitUntil("the portrait's upload starts") { !server.requests(to: .upload).isEmpty }
            let start = ContinuousClock.now
            run.cancel()
            let outcome = await run.result
            let waited = ContinuousClock.now - start
            await server.stop()
            #expect(throws: PipelineError.self) { try outcome.get() }
            if case .failure(let error as PipelineError) = outcome { #expect(error.kind == .interrupted) }
            #expect(waited < .seconds(10), "the run took \(waited) to stop")
            // Both segments waited for the one upload of the portrait; nothing was submitted.
            #expect(server.requests(to: .initiate).count == 1)
            #expect(server.requests(to: .submit).isEmpty)
        }

        @Test func dryRunAndMaxCost() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            var o = Self.options(dir)
            o.backend = .fal  // no key needed for a dry run
            o.environment = ["XDG_CACHE_HOME": dir.path("cache")]
            o.dryRun = true
            let summary = try await Pipeline(options: o).run()
            #expect(summary.dryRun && summary.estimatedCost > 0 && summary.output == nil)
            #expect(!FileManager.default.fileExists(atPath: dir.path("work")))
            o.dryRun = false
            o.backend = .preview
            o.maxCost = 0.5
            await #expect {
                try await Pipeline(options: o).run()
            } throws: { error in
                // The library names the value; the command line maps it to --max-cost.
                guard let error = error as? PipelineError else { return false }
                return error.kind == .overBudget && error.option == "maxCost" && !error.description.contains("--")
            }
        }
    }
}
