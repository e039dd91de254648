import Foundation
import Testing

@testable import InfiniPipeline

extension Serial {
    /// One acceptance rule for audio, strict where it matters: a file cut off inside a packet is
    /// refused by the planner and the stitcher alike; a header that only disagrees with what
    /// decodes is a warning, and the decoded length is the truth.
    @Suite("Audio acceptance")
    struct AudioAcceptanceTests {
        /// Decoded sample frames per channel as the ffmpeg tool counts them.
        static func ffmpegSamples(_ path: String) throws -> Int {
            let ffmpeg = try #require(ffmpegTool)
            let result = try runProcess(ffmpeg, ["-v", "error", "-i", path, "-f", "f32le", "-ac", "1", "-"])
            try #require(result.status == 0, "the ffmpeg tool cannot decode \(path)")
            return result.stdout.count / 4
        }

        @Test(
            .enabled(if: ffmpegTool != nil, "compares with the ffmpeg tool, which is not installed"),
            arguments: [
                "enc-lame-8k.mp3", "enc-lame-vbr-noxing.mp3", "enc-opusenc.opus", "enc-opus-preskip.opus",
                "enc-oggenc.ogg", "enc-flac-96k.flac", "enc-sox-float.wav", "enc-sox-24bit.wav", "enc-piped.wav",
            ])
        func filesFromOtherEncodersDecodeLikeTheFFmpegTool(_ name: String) throws {
            let analysis = try AudioAnalysis.analyze(path: Fixture.path(name))
            #expect(analysis.samples > 0)
            #expect(analysis.samples == (try Self.ffmpegSamples(Fixture.path(name))), "\(name)")
        }

        @Test func aPipedWAVIsReadToItsEnd() throws {
            // 2.5 s at 8 kHz, although the header's sizes say 0xFFFFFFFF.
            let analysis = try AudioAnalysis.analyze(path: Fixture.path("enc-piped.wav"))
            #expect(analysis.samples == 20_000)
            #expect(analysis.warnings.isEmpty)
        }

        @Test(arguments: ["enc-opus-preskip.opus", "enc-lame-vbr-noxing.mp3"])
        func aHeaderThatDisagreesIsAWarning(_ name: String) throws {
            let analysis = try AudioAnalysis.analyze(path: Fixture.path(name))
            #expect(analysis.warnings.count == 1)
            #expect(analysis.warnings.first?.contains("using the decoded length") == true)
            #expect(try SegmentPlanner.plan(analysis).totalFrames > 0)
        }

        @Test func theLargePreSkipIsApplied() throws {
            let normal = try AudioAnalysis.analyze(path: Fixture.path("enc-opusenc.opus"))
            let skipped = try AudioAnalysis.analyze(path: Fixture.path("enc-opus-preskip.opus"))
            #expect(normal.samples - skipped.samples == 24_000 - 312)
        }

        /// `speech.mp3` cut to 10 kB: its last packet ends in the middle.
        static func cutMP3(_ dir: TempDir) throws -> String {
            let path = dir.path("cut.mp3")
            try Data(try Fixture.bytes("speech.mp3").prefix(10_000)).write(to: URL(fileURLWithPath: path))
            return path
        }

        /// Why the planner and the stitcher refuse `cut`, a cut-off copy of the fixture `whole`
        /// (the stitcher is given the whole file's plan); the output is never written.
        static func refusals(cut: String, whole: String, in dir: TempDir) throws -> (plan: String, stitch: String) {
            var reasons = ["", ""]
            #expect {
                try AudioAnalysis.analyze(path: cut)
            } throws: { error in
                reasons[0] = (error as? MediaError)?.reason ?? ""
                return (error as? MediaError)?.isInputProblem == true && (error as? MediaError)?.file == cut
            }
            let plan = try SegmentPlanner.plan(
                AudioAnalysis.analyze(path: Fixture.path(whole)),
                options: PlanningOptions(maxFrames: 41))
            let clips = plan.segments.map { _ in Fixture.path("clip-a.mp4") }
            #expect {
                try Stitcher.stitch(plan: plan, clips: clips, audio: cut, output: dir.path("out.mp4"))
            } throws: { error in
                reasons[1] = (error as? MediaError)?.reason ?? ""
                return (error as? MediaError)?.file == cut
            }
            #expect(!FileManager.default.fileExists(atPath: dir.path("out.mp4")))
            return (reasons[0], reasons[1])
        }

        @Test func aFileCutInsideAPacketIsRefusedByPlanAndStitchAlike() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let reasons = try Self.refusals(cut: try Self.cutMP3(dir), whole: "speech.mp3", in: dir)
            #expect(reasons.plan.contains("cut off"))
            #expect(reasons.stitch == reasons.plan)
        }

        @Test func theCommittedTruncatedMP3IsStillRefused() throws {
            #expect(throws: MediaError.self) { try AudioAnalysis.analyze(path: Fixture.path("truncated.mp3")) }
        }

        @Test func audioShorterThanTheVideoIsRefusedByTheStitcher() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            // A plan for 8 s of speech, stitched with 2.5 s of audio.
            let plan = try SegmentPlanner.plan(
                AudioAnalysis.analyze(path: Fixture.path("speech.mp3")),
                options: PlanningOptions(maxFrames: 41))
            let clips = plan.segments.map { _ in Fixture.path("clip-a.mp4") }
            #expect {
                try Stitcher.stitch(plan: plan, clips: clips, audio: Fixture.path("enc-oggenc.ogg"), output: dir.path("out.mp4"))
            } throws: { error in
                (error as? MediaError)?.reason.contains("is this the file the plan was made for?") == true
            }
        }

        /// An IMA ADPCM WAV whose block size is 0: FFmpeg reads the header, the decoder refuses it.
        static func adpcmWithoutBlockSize(_ dir: TempDir) throws -> String {
            var d = Data("RIFF".utf8)
            func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
            func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
            u32(36 + 4000)
            d.append(contentsOf: Array("WAVEfmt ".utf8))
            u32(16); u16(0x11); u16(1); u32(8000); u32(4000); u16(0); u16(4)
            d.append(contentsOf: Array("data".utf8))
            u32(4000)
            d.append(Data(repeating: 0x11, count: 4000))
            let path = dir.path("adpcm.wav")
            try d.write(to: URL(fileURLWithPath: path))
            return path
        }

        @Test func aDecoderThatCannotOpenIsBadInput() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let path = try Self.adpcmWithoutBlockSize(dir)
            #expect {
                try AudioAnalysis.analyze(path: path)
            } throws: { error in
                guard let error = error as? MediaError else { return false }
                return error.isInputProblem && error.file == path
            }
            let cli = try runProcess(infinistitchBinary, ["plan", path])
            #expect(cli.status == 2)
            let stderr = String(decoding: cli.stderr, as: UTF8.self)
            #expect(stderr.hasPrefix("infinistitch: \(path): "))
            #expect(stderr.split(separator: "\n").count == 1)
        }

        @Test func devicesAndPipesAreNotReadAsInput() throws {
            for path in ["/dev/zero", "/dev/null"] {
                #expect(throws: MediaError.self) { try AudioAnalysis.analyze(path: path) }
                #expect(throws: MediaError.self) { try Hashing.sha256(file: path) }
            }
        }

        @Test(.timeLimit(.minutes(1)))
        func blockingWorkStopsWhenItsTaskIsCancelled() async throws {
            let task = Task {
                // Cancelled before the work starts: the first check stops it.
                withUnsafeCurrentTask { $0?.cancel() }
                return try await runBlocking { try AudioAnalysis.analyze(path: Fixture.path("speech-long.mp3")) }
            }
            await #expect(throws: CancellationError.self) { try await task.value }
        }
    }
}
