import FakeWaveSpeed
import Foundation
import Testing

@testable import InfiniPipeline

extension Serial {
    /// Multi-speaker runs on the WaveSpeed provider against the fake WaveSpeed server, on the
    /// two-voice conversation fixture: exact frames and sync, each task showing its speaker's
    /// portrait and hearing only its voice, every paid second planned, no submit twice, and the
    /// work dir and the cache paying for nothing on the second run.
    @Suite("WaveSpeed multi-speaker runs", .timeLimit(.minutes(4)))
    struct WaveSpeedMultiSpeakerTests {
        static let key = WaveSpeedPipelineTests.key

        static func options(_ dir: TempDir, server: URL) -> PipelineOptions {
            var o = PipelineOptions(
                audio: Fixture.path("conversation-mix.opus"), speakers: MultiSpeakerPipelineTests.speakers,
                source: .diarization(path: Fixture.path("conversation.rttm")))
            o.output = dir.path("out.mp4")
            o.workDir = dir.path("work")
            o.environment = ["XDG_CACHE_HOME": dir.path("cache"), "HOME": dir.url.path]
            o.provider = .wavespeed
            o.providerURL = server.absoluteString
            o.waveSpeedCredentials = try? WaveSpeedCredentials(key: key)
            o.concurrency = 4
            return o
        }

        /// The bytes the fake server stored behind one of its download URLs.
        static func stored(_ fake: FakeWaveSpeedServer, _ url: String?) throws -> [UInt8] {
            let name = URL(string: url ?? "")?.lastPathComponent ?? ""
            return try #require(fake.storedFiles.first { $0.fileName == name }?.bytes, "nothing stored as \(name)")
        }

        @Test func aConversationRunsFrameExactWithEachSpeakersPortraitAndVoice() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let fake = WaveSpeedPipelineTests.server()
            let base = try await fake.start()
            defer { Task { await fake.stop() } }
            let options = Self.options(dir, server: base)
            let (summary, events) = try await runCollectingEvents(Pipeline(options: options))
            let plan = try #require(
                events.lazy.compactMap { event -> Plan? in if case .plan(let p) = event { return p } else { return nil } }.first)
            // The plan: WaveSpeed's, with the 5-s minimum shot (B's closing 2.4-s turn stays in A's shot).
            #expect(plan.provider == "wavespeed" && plan.shotChanges.map(\.to) == ["B", "A"], "\(plan.segments)")
            #expect(plan.segments.allSatisfy { $0.frameCount >= 125 && $0.numFrames == $0.frameCount })

            // Frame-exact, the original audio in sync.
            #expect(try VideoReader(path: dir.path("out.mp4")).countFrames() == plan.totalFrames)
            let audio = try AudioAnalysis.analyze(path: dir.path("out.mp4"))
            #expect(abs(audio.duration - plan.audio.duration) < 0.05, "audio \(audio.duration) s, plan \(plan.audio.duration) s")

            // Each task submitted once and billed as planned; its clip is as long as its audio.
            #expect(fake.requests(to: .submit).count == plan.segments.count)
            #expect(fake.billedSeconds.reduce(0, +) * 25 == plan.paidFrames, "\(fake.billedSeconds)")
            #expect(fake.tasks.compactMap(\.frames).sorted() == plan.segments.map(\.frameCount).sorted())
            #expect(abs(summary.cost - plan.estimatedCost) < 1e-6 && summary.cost > 0)

            // Each task showed its speaker's portrait and heard only its speaker's voice, with no tail.
            let truth = try MultiSpeakerPipelineTests.Truth.load()
            var checkedOther = 0
            for task in fake.tasks {
                let audioName = URL(string: task.input["audio"] ?? "")?.lastPathComponent ?? ""
                let index = try #require(Int(audioName.dropFirst("segment-".count).prefix(4)), "audio \(audioName)")
                let segment = plan.segments[index]
                let speaker = try #require(segment.speaker)
                let image = try Self.stored(fake, task.input["image"])
                #expect(try MultiSpeakerPipelineTests.isGray(image) == (speaker == "B"), "segment \(index) of \(speaker)")
                let wav = try Self.stored(fake, task.input["audio"])
                let path = dir.path("sent-\(index).wav")
                try Data(wav).write(to: URL(fileURLWithPath: path))
                let sent = try AudioAnalysis.analyze(path: path)
                #expect(abs(sent.duration - Double(segment.frameCount) / 25) < 0.002, "segment \(index): \(sent.duration) s")
                let (start, end) = (segment.startTime, Double(segment.endFrame) / 25)
                let other = speaker == "A" ? "B" : "A"
                for r in truth.alone(other)
                where r.lowerBound >= start && r.upperBound <= end && r.upperBound - r.lowerBound > 0.3 {
                    let level = try MultiSpeakerPipelineTests.rms(
                        wav, from: r.lowerBound - start + 0.02, to: r.upperBound - start - 0.02, in: dir)
                    #expect(level.rms < 1e-4, "segment \(index) (\(speaker)) carries \(other) at \(r)")
                    checkedOther += 1
                }
            }
            #expect(checkedOther > 0)
            #expect(!events.map { "\($0)" }.joined().contains(Self.key))

            // Again in the same work dir, then in another (the cache): nothing more is sent or paid.
            try FileManager.default.removeItem(atPath: dir.path("out.mp4"))
            let second = try await Pipeline(options: options).run()
            var elsewhere = options
            elsewhere.workDir = dir.path("work2")
            try FileManager.default.removeItem(atPath: dir.path("out.mp4"))
            let third = try await Pipeline(options: elsewhere).run()
            #expect(second.cost == 0 && third.cost == 0)
            #expect(second.reusedSegments == second.segments && third.reusedSegments == third.segments)
            #expect(fake.requests(to: .submit).count == plan.segments.count)
            #expect(try VideoReader(path: dir.path("out.mp4")).countFrames() == plan.totalFrames)
            // Two portraits uploaded once each.
            #expect(fake.storedFiles.filter { $0.contentType == "image/png" }.count == 2)
        }
    }
}
