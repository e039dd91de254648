import Foundation
import Testing

@testable import InfiniPipeline

extension Serial {
    /// The output's audio is decided and proven before any money is spent, and every rate and
    /// layout FFmpeg decodes gives an output.
    @Suite("Output audio")
    struct OutputAudioTests {
        /// A WAV of a 440 Hz tone (`channels` copies) at any rate, written here.
        static func toneWAV(rate: Int, channels: Int = 1, seconds: Double = 1.0, in dir: TempDir) throws -> String {
            let frames = Int(Double(rate) * seconds)
            var samples = [Float](repeating: 0, count: frames * channels)
            for i in 0..<frames {
                let v = Float(0.3 * sin(2 * Double.pi * 440 * Double(i) / Double(rate)))
                for c in 0..<channels { samples[i * channels + c] = v }
            }
            let path = dir.path("tone-\(rate)-\(channels).wav")
            try WAV.file(samples, sampleRate: rate, channels: channels).write(to: URL(fileURLWithPath: path))
            return path
        }

        /// A plan for the whole of `audio` with one trimmed segment (at most 41 frames, so the
        /// fixture clip clip-a.mp4 can serve it).
        static func onePlan(for audio: String) throws -> Plan {
            let analysis = try AudioAnalysis.analyze(path: audio)
            let plan = try SegmentPlanner.plan(analysis)
            try #require(plan.segments.count == 1 && plan.totalFrames <= 41)
            return plan
        }

        @Test(arguments: [
            ("speech.mp3", OutputAudio.Strategy.copy, "mp3", 44_100),
            ("speech.m4a", .copy, "aac", 48_000),
            ("enc-lame-8k.mp3", .encode, "aac", 8_000),  // MPEG-2.5: MP4 takes MP3 from 16 kHz only
            ("enc-flac-96k.flac", .encode, "aac", 48_000),
            ("enc-opusenc.opus", .encode, "aac", 48_000),
            ("enc-sox-24bit.wav", .encode, "aac", 8_000),
            ("speech.wav", .encode, "aac", 22_050),
        ])
        func decidesTheStrategy(_ name: String, _ strategy: OutputAudio.Strategy, _ codec: String, _ rate: Int) throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let decision = try OutputAudio.decide(audio: Fixture.path(name), scratchDirectory: dir.url.path)
            #expect(decision.strategy == strategy)
            #expect(decision.codec == codec)
            #expect(decision.sampleRate == rate)
            #expect(decision.summary.hasPrefix(strategy == .copy ? "copy \(codec)" : "encode to AAC, \(rate) Hz"))
            // The proof leaves nothing behind.
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).isEmpty)
        }

        @Test func anMP3TheMuxerRefusesIsEncodedAndSaysWhy() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let decision = try OutputAudio.decide(audio: Fixture.path("enc-lame-8k.mp3"), scratchDirectory: dir.url.path)
            #expect(decision.reason?.contains("does not take this mp3 stream") == true)
        }

        @Test(arguments: [192_000, 705_600, 1234, 7_000, 11_025, 44_100])
        func anyRateMakesAnOutput(_ rate: Int) throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let audio = try Self.toneWAV(rate: rate, in: dir)
            let decision = try OutputAudio.decide(audio: audio, scratchDirectory: dir.url.path)
            #expect(decision.strategy == .encode)
            #expect(AudioEncoderSettings.aacRates.contains(decision.sampleRate))
            #expect(decision.sampleRate >= min(rate, 48_000))
            let plan = try Self.onePlan(for: audio)
            let out = dir.path("out.mp4")
            let result = try Stitcher.stitch(plan: plan, clips: [Fixture.path("clip-a.mp4")], audio: audio, output: out)
            #expect(result.audio == decision)
            let stream = try Demuxer(path: out).bestStream(.audio)
            #expect(stream.codecName == "aac")
            #expect(stream.sampleRate == decision.sampleRate)
            // The whole second of audio is there, at its new rate.
            let decoded = try AudioReader(path: out).readAll().count
            #expect(abs(Double(decoded) / Double(decision.sampleRate) - 1.0) < 0.03)
        }

        @Test(arguments: [3, 6, 8, 12])
        func anyChannelCountMakesAnOutput(_ channels: Int) throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let audio = try Self.toneWAV(rate: 48_000, channels: channels, seconds: 0.5, in: dir)
            let decision = try OutputAudio.decide(audio: audio, scratchDirectory: dir.url.path)
            #expect(decision.channels >= 1 && decision.channels <= 8)
            if channels <= 8 {
                #expect(decision.channels == channels || decision.channels == 2)
            } else {
                #expect(decision.channels <= 8)
            }
            let out = dir.path("out.mp4")
            _ = try Stitcher.stitch(
                plan: Self.onePlan(for: audio), clips: [Fixture.path("clip-a.mp4")], audio: audio, output: out)
            #expect(try Demuxer(path: out).bestStream(.audio).channels == decision.channels)
        }

        @Test func aDirectoryThatCannotBeWrittenIsNamed() throws {
            #expect {
                try OutputAudio.decide(audio: Fixture.path("speech.mp3"), scratchDirectory: "/nonexistent-infinistitch-dir")
            } throws: { error in
                guard let error = error as? MediaError else { return false }
                return error.kind == .writeFailed && error.file == "/nonexistent-infinistitch-dir"
            }
        }

        @Test func lowRateMP3RunsEndToEndOnThePreviewBackend() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let pipeline = Pipeline(options: PipelineTests.options(dir, audio: "enc-lame-8k.mp3"))
            let (summary, all) = try await runCollectingEvents(pipeline)
            #expect(summary.outputAudio?.strategy == .encode)
            let audio = try Demuxer(path: dir.path("out.mp4")).bestStream(.audio)
            #expect(audio.codecName == "aac" && audio.sampleRate == 8_000)
            // The decision was reported before anything was generated.
            let decided = all.firstIndex {
                if case .outputAudio = $0 { return true }; return false
            }
            let generated = all.firstIndex {
                if case .segment = $0 { return true }; return false
            }
            #expect(decided != nil && generated != nil && decided! < generated!)
        }

        @Test func planAndDryRunSayTheStrategy() throws {
            let plan = try runProcess(infinistitchBinary, ["plan", Fixture.path("enc-lame-8k.mp3")])
            #expect(plan.status == 0)
            #expect(String(decoding: plan.stdout, as: UTF8.self).contains("output audio: encode to AAC, 8000 Hz, 1 ch"))
            let json = try runProcess(infinistitchBinary, ["plan", Fixture.path("enc-lame-8k.mp3"), "--json"])
            let object = try #require(try JSONSerialization.jsonObject(with: json.stdout) as? [String: Any])
            let outputAudio = try #require(object["outputAudio"] as? [String: Any])
            #expect(outputAudio["strategy"] as? String == "encode" && outputAudio["sampleRate"] as? Int == 8_000)
            let dir = try TempDir()
            defer { dir.cleanup() }
            // stitch reads the same JSON (it ignores the extra key).
            try json.stdout.write(to: URL(fileURLWithPath: dir.path("plan.json")))
            #expect(try Plan.from(json: json.stdout).totalFrames > 0)
            let dry = try runProcess(
                infinistitchBinary,
                [
                    Fixture.path("speech.mp3"), "--image", Fixture.path("portrait.jpg"),
                    "--dry-run", "--backend", "preview", "-o", dir.path("o.mp4"),
                ],
                environment: ["HOME": dir.url.path, "PATH": "/usr/bin:/bin"])
            #expect(dry.status == 0)
            #expect(String(decoding: dry.stderr, as: UTF8.self).contains("output audio: copy mp3, 44100 Hz, 2 ch"))
            #expect(!FileManager.default.fileExists(atPath: dir.path("o.mp4")))
        }
    }
}
