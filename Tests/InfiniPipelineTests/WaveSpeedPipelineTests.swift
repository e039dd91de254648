import FakeWaveSpeed
import Foundation
import Testing

@testable import InfiniPipeline
@testable import InfiniStitchCLI

extension Serial {
    /// Whole runs on the WaveSpeed provider against the fake WaveSpeed server: exact frames and
    /// sync whatever length the clips come back, every paid second in the plan, no submit sent
    /// twice, and a submit whose answer never came stops the run instead of being sent again.
    @Suite("WaveSpeed runs", .timeLimit(.minutes(4)))
    struct WaveSpeedPipelineTests {
        static let key = "ws-test-key-0123456789abcdef"

        static func options(_ dir: TempDir, server: URL) -> PipelineOptions {
            var o = PipelineTests.options(dir, audio: "speech-long.mp3")
            o.provider = .wavespeed
            o.providerURL = server.absoluteString
            o.waveSpeedCredentials = try? WaveSpeedCredentials(key: key)
            o.concurrency = 4
            o.useCache = false
            return o
        }

        static func server() -> FakeWaveSpeedServer {
            // Rendered clips (their length follows the uploaded audio), 64x64 with the audio.
            FakeWaveSpeedServer(options: FakeWaveSpeedServer.Options(createdPolls: 1, expectedKey: key))
        }

        static func frameCount(_ path: String) throws -> Int {
            try ClipInspection.inspect(path: path).frameCount
        }

        @Test func aRunMakesExactFramesAndPaysOnlyThePlannedSeconds() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let fake = Self.server()
            let base = try await fake.start()
            defer { Task { await fake.stop() } }
            let (summary, events) = try await runCollectingEvents(Pipeline(options: Self.options(dir, server: base)))
            let plan = try #require(
                events.lazy.compactMap { event -> Plan? in if case .plan(let p) = event { return p } else { return nil } }.first)
            #expect(plan.provider == "wavespeed" && plan.segments.count == 4)
            #expect(try Self.frameCount(dir.path("out.mp4")) == plan.totalFrames)
            let audio = try AudioAnalysis.analyze(path: dir.path("out.mp4"))
            #expect(abs(audio.duration - plan.audio.duration) < 0.05, "audio \(audio.duration) s, plan \(plan.audio.duration) s")
            // Every task submitted once; every billed second is one the plan paid for, and the
            // audio sent carries no tail (it would lengthen, and bill, every clip).
            #expect(fake.requests(to: .submit).count == plan.segments.count)
            #expect(fake.billedSeconds.reduce(0, +) * 25 == plan.paidFrames, "\(fake.billedSeconds)")
            #expect(fake.tasks.compactMap(\.frames).sorted() == plan.segments.map(\.frameCount).sorted())
            #expect(summary.cost > 0 && abs(summary.cost - plan.estimatedCost) < 1e-6)
            // The key went to the API only, and appears in no event.
            #expect(!events.map { "\($0)" }.joined().contains(Self.key))
        }

        @Test func eventsNameWaveSpeedsStatesAndEachRequestsTime() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let fake = FakeWaveSpeedServer(
                options: FakeWaveSpeedServer.Options(createdPolls: 2, processingPolls: 3, expectedKey: Self.key))
            let base = try await fake.start()
            defer { Task { await fake.stop() } }
            let (_, events) = try await runCollectingEvents(Pipeline(options: Self.options(dir, server: base)))
            let segmentEvents = events.compactMap { event -> SegmentEvent? in
                if case .segment(let s) = event { return s } else { return nil }
            }
            let plan = try PipelineTests.savedManifest(dir).plan
            for index in plan.segments.indices {
                let states = segmentEvents.filter { $0.index == index }.compactMap { event in
                    event.providerState.map { (phase: event.phase.name, state: $0) }
                }
                // Waiting while created, running while processing, each with the time it has run.
                #expect(states.contains { $0.phase == "queued" && $0.state.name == "created" }, "\(index): \(states)")
                #expect(states.contains { $0.phase == "running" && $0.state.name == "processing" }, "\(index): \(states)")
                #expect(states.allSatisfy { ($0.phase == "queued") == ($0.state.name == "created") }, "\(index): \(states)")
                let seconds = states.compactMap(\.state.elapsedSeconds)
                #expect(seconds.count == states.count && seconds == seconds.sorted() && seconds.last! > 0.5, "\(seconds)")
            }
            // In the NDJSON events and the command line's lines.
            let processing = try #require(segmentEvents.last { $0.providerState?.name == "processing" })
            let line = PipelineEvent.segment(processing).jsonLine()
            #expect(line.contains("\"providerState\":\"processing\"") && line.contains("\"requestElapsedSeconds\":"), "\(line)")
            #expect(ProgressReporter.line(processing, preview: false).contains("running (processing for 0:0"))
        }

        @Test func clipsLongerOrShorterThanTheirAudioMoveNoFrame() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let fake = Self.server()
            let base = try await fake.start()
            defer { Task { await fake.stop() } }
            // One clip comes back 3 frames long, one 2 short: trimmed and held, nothing moves.
            fake.script([.init(frameOffset: 3), .init(frameOffset: -2), .normal, .normal])
            var options = Self.options(dir, server: base)
            options.stitch = StitchOptions(reencode: true, transition: .cut)
            let (summary, events) = try await runCollectingEvents(Pipeline(options: options))
            #expect(summary.trimmedClips?.count == 1 && summary.paddedClips?.count == 1, "\(summary)")
            let manifest = try PipelineTests.savedManifest(dir)
            #expect(try Self.frameCount(dir.path("out.mp4")) == manifest.plan.totalFrames)
            #expect(fake.requests(to: .submit).count == 4)
            let warnings = events.compactMap { event -> String? in
                if case .warning(let w) = event { return w } else { return nil }
            }
            #expect(warnings.contains { $0.contains("2 short") }, "\(warnings)")
            #expect(warnings.contains { $0.contains("3 more than requested") }, "\(warnings)")
        }

        @Test func aSubmitWithoutAnAnswerIsNeverSentAgainUnlessAsked() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let fake = Self.server()
            let base = try await fake.start()
            defer { Task { await fake.stop() } }
            // The first submit is accepted (the task exists) but its answer is lost.
            fake.inject([.acceptThenDrop], on: .submit)
            let options = Self.options(dir, server: base)
            var stop: PipelineError?
            do {
                _ = try await Pipeline(options: options).run()
            } catch let error as PipelineError {
                stop = error
            }
            let error = try #require(stop)
            #expect(error.kind == .generationFailed && error.segments.count == 1 && error.option == "resubmitUnknown")
            #expect(ErrorReport.line(for: error).contains("--resubmit-unknown") && ErrorReport.exitCode(for: error) == 1)
            #expect(!error.description.contains("\n"))
            let unknown = error.segments[0]
            var manifest = try PipelineTests.savedManifest(dir)
            #expect(manifest.segments[unknown].state == .unknown)
            #expect(manifest.segments.filter { $0.index != unknown }.allSatisfy { $0.state == .done })
            #expect(fake.requests(to: .submit).count == 4)
            #expect(!FileManager.default.fileExists(atPath: dir.path("out.mp4")))

            // Running again sends nothing: the segment is still unknown.
            await #expect(throws: PipelineError.self) { _ = try await Pipeline(options: options).run() }
            #expect(fake.requests(to: .submit).count == 4)

            // Asked to, it is sent once more, and the run finishes.
            var again = options
            again.resubmitUnknown = true
            _ = try await Pipeline(options: again).run()
            #expect(fake.requests(to: .submit).count == 5)
            manifest = try PipelineTests.savedManifest(dir)
            #expect(manifest.segments.allSatisfy { $0.state == .done })
            #expect(try Self.frameCount(dir.path("out.mp4")) == manifest.plan.totalFrames)
        }

        @Test func aTransientUpstreamFailureIsSubmittedAgainAndAFinalOneStops() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let fake = Self.server()
            let base = try await fake.start()
            defer { Task { await fake.stop() } }
            fake.script([.upstreamFailure])
            _ = try await Pipeline(options: Self.options(dir, server: base)).run()
            #expect(fake.requests(to: .submit).count == 5)

            let other = try TempDir()
            defer { other.cleanup() }
            fake.script([.contentRejected])
            var options = Self.options(other, server: base)
            options.concurrency = 1
            await #expect {
                _ = try await Pipeline(options: options).run()
            } throws: { error in
                guard let error = error as? PipelineError else { return false }
                return error.kind == .generationFailed && error.description.contains("content policy")
            }
        }
    }
}
