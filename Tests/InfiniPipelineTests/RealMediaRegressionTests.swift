import Foundation
import Testing

@testable import InfiniPipeline

extension Serial {
    /// Bugs a tester found running `infinistitch` on real media, each pinned by the input that
    /// showed it (made here, or cut from committed fixtures).
    @Suite("Real-media regressions")
    struct RealMediaRegressionTests {
        // MARK: - Audio above 96 kHz (or at odd rates) on the preview backend

        /// Tone bursts with pauses between them (so the planner has places to cut), `seconds` long,
        /// at any rate and channel count, as a 16-bit WAV. Every channel has its own level.
        static func burstsWAV(
            rate: Int, channels: Int = 1, seconds: Double = 4.0, frequency: Double = 440,
            in dir: TempDir
        ) throws -> String {
            let frames = Int(Double(rate) * seconds)
            var samples = [Float](repeating: 0, count: frames * channels)
            for i in 0..<frames {
                let t = Double(i) / Double(rate)
                // 0.9 s of tone, 0.4 s of silence; silent over the last 0.3 s.
                guard t.truncatingRemainder(dividingBy: 1.3) < 0.9, t < seconds - 0.3 else { continue }
                let v = 0.3 * sin(2 * Double.pi * frequency * t)
                for c in 0..<channels { samples[i * channels + c] = Float(v * (1 - 0.05 * Double(c))) }
            }
            let path = dir.path("bursts-\(rate)-\(channels).wav")
            try WAV.file(samples, sampleRate: rate, channels: channels).write(to: URL(fileURLWithPath: path))
            return path
        }

        static func options(_ dir: TempDir, audio: String) -> PipelineOptions {
            var o = PipelineOptions(audio: audio, image: Fixture.path("portrait.jpg"))
            o.output = dir.path("out.mp4")
            o.workDir = dir.path("work")
            o.backend = .preview
            o.environment = ["XDG_CACHE_HOME": dir.path("cache"), "HOME": dir.url.path]
            o.concurrency = 2
            o.maxFrames = 41  // several segments, so every cut goes through the rate change
            return o
        }

        /// 192 kHz (and 705.6 kHz, what FFmpeg decodes DSD128 to) made every preview clip fail:
        /// "cannot open the AAC encoder: Invalid argument", naming no file. So did 1234 Hz.
        /// Twelve channels without positions are more than AAC takes.
        @Test(.timeLimit(.minutes(2)), arguments: [(192_000, 1), (705_600, 1), (1234, 1), (44_100, 12)])
        func previewRunsAtRatesAndChannelsAACDoesNotTake(rate: Int, channels: Int) async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let audio = try Self.burstsWAV(rate: rate, channels: channels, in: dir)
            let pipeline = Pipeline(options: Self.options(dir, audio: audio))
            let (summary, events) = try await runCollectingEvents(pipeline)
            let plan = try #require(events.lazy.compactMap { if case .plan(let p) = $0 { return p } else { return nil } }.first)
            #expect(plan.audio.sampleRate == rate && plan.audio.channels == channels)
            #expect(plan.segments.count >= 2)
            #expect(summary.frames == plan.totalFrames)
            #expect(try VideoReader(path: dir.path("out.mp4")).countFrames() == plan.totalFrames)

            // The segment WAVs: at most 48 kHz, each exactly as long as its frames need at its rate.
            let fileRate = min(rate, 48_000)
            for segment in plan.segments {
                let wav = dir.path("work/audio/" + String(format: "segment-%04d.wav", segment.index))
                let stream = try Demuxer(path: wav).bestStream(.audio)
                #expect(stream.sampleRate == fileRate)
                #expect(stream.channels == channels)
                let frames = try AudioReader(path: wav).read { _ in }
                #expect(
                    frames
                        == SegmentAudio.sampleRange(
                            startFrame: segment.startFrame, numFrames: segment.numFrames,
                            sampleRate: fileRate
                        ).count)
            }
        }

        /// The preview clip's audio: a rate AAC takes (the output's rule), channels mixed down
        /// when AAC cannot take them.
        @Test(arguments: [(1234, 1, 8_000, 1), (192_000, 2, 48_000, 2), (22_050, 12, 22_050, 8), (96_000, 7, 48_000, 7)])
        func previewClipAudioIsAACTheEncoderTakes(rate: Int, channels: Int, expectedRate: Int, expectedChannels: Int) throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let audio = try Self.burstsWAV(rate: rate, channels: channels, seconds: 2.0, in: dir)
            let settings = try PreviewRenderer.clipAudio(for: audio)
            #expect(settings.sampleRate == AudioEncoderSettings.aacRate(forSource: rate))
            #expect(settings.sampleRate == expectedRate)
            #expect(settings.channels == expectedChannels)
            let image = PixelBuffer(width: 64, height: 64, format: .rgb8, fill: 128)
            let segment = Plan.Segment(index: 0, startFrame: 0, frameCount: 41, numFrames: 41, cutLoudnessDb: nil)
            let clip = dir.path("clip.mp4")
            try PreviewRenderer(image: image).render(segment: segment, segmentCount: 1, audioFile: audio, output: clip)
            let stream = try Demuxer(path: clip).bestStream(.audio)
            #expect(stream.codecName == "aac")
            #expect(stream.sampleRate == expectedRate && stream.channels == expectedChannels)
            #expect(try VideoReader(path: clip).countFrames() == 41)
            // The tone is still there after the resampling and the mix-down.
            let decoded = try AudioReader(path: clip, channels: 1).readAll()
            let rms = (decoded.reduce(0) { $0 + Double($1) * Double($1) } / Double(max(decoded.count, 1))).squareRoot()
            #expect(rms > 0.05)
        }

        @Test func aPreviewClipThatCannotBeWrittenNamesTheFile() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let audio = try Self.burstsWAV(rate: 8_000, seconds: 2.0, in: dir)
            let image = PixelBuffer(width: 64, height: 64, format: .rgb8, fill: 128)
            let segment = Plan.Segment(index: 0, startFrame: 0, frameCount: 41, numFrames: 41, cutLoudnessDb: nil)
            let clip = dir.path("no-such-dir/clip.mp4")
            #expect {
                try PreviewRenderer(image: image).render(segment: segment, segmentCount: 1, audioFile: audio, output: clip)
            } throws: { error in
                (error as? MediaError)?.file == clip
            }
            // And audio that is not audio names the audio file.
            let notAudio = Fixture.path("not-audio.mp3")
            #expect {
                try PreviewRenderer(image: image).render(
                    segment: segment, segmentCount: 1, audioFile: notAudio,
                    output: dir.path("clip.mp4"))
            } throws: { error in
                (error as? MediaError)?.file == notAudio
            }
        }

        /// The segment WAVs of a source above 48 kHz are cut on the source's timeline and resampled:
        /// they hold what the same signal made at 48 kHz gives, sample for sample (a one-sample
        /// shift at 3 kHz would differ by 0.08 RMS).
        @Test func segmentAudioAbove48kHzIsCutExactlyAndResampled() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let high = try Self.burstsWAV(rate: 192_000, frequency: 3_000, in: dir)
            let low = try Self.burstsWAV(rate: 48_000, frequency: 3_000, in: dir)
            let highPlan = try SegmentPlanner.plan(AudioAnalysis.analyze(path: high), options: PlanningOptions(maxFrames: 41))
            #expect(highPlan.segments.count >= 2)
            // The same plan, for the same signal at 48 kHz.
            var lowPlan = highPlan
            lowPlan.audio.sampleRate = 48_000
            lowPlan.audio.samples = highPlan.audio.samples / 4
            #expect(try AudioAnalysis.analyze(path: low).samples == lowPlan.audio.samples)

            let highFiles = try SegmentAudio.export(source: high, plan: highPlan, to: dir.url.appendingPathComponent("high"))
            let lowFiles = try SegmentAudio.export(source: low, plan: lowPlan, to: dir.url.appendingPathComponent("low"))
            for segment in highPlan.segments {
                let a = try AudioReader(path: highFiles[segment.index]!.path).readAll()
                let b = try AudioReader(path: lowFiles[segment.index]!.path).readAll()
                #expect(a.count == b.count)
                #expect(
                    a.count
                        == SegmentAudio.sampleRange(
                            startFrame: segment.startFrame, numFrames: segment.numFrames,
                            sampleRate: 48_000
                        ).count)
                // Away from the edges, where the filter meets the cut.
                let inner = 64..<(min(a.count, b.count) - 64)
                let diff = inner.reduce(0.0) { $0 + Double(a[$1] - b[$1]) * Double(a[$1] - b[$1]) }
                let energy = inner.reduce(0.0) { $0 + Double(b[$1]) * Double(b[$1]) }
                #expect(energy > 0)
                #expect((diff / Double(inner.count)).squareRoot() < 0.01, "segment \(segment.index)")
            }
            // A plan the file no longer matches is still refused, in source samples.
            var wrong = highPlan
            wrong.audio.samples += 1
            #expect {
                try SegmentAudio.export(source: high, plan: wrong, to: dir.url.appendingPathComponent("wrong"))
            } throws: { error in
                (error as? MediaError)?.reason.contains("plan it again") == true
            }
        }

        // MARK: - Truncated Ogg

        static let oggFixtures = ["speech.ogg", "enc-oggenc.ogg", "enc-opusenc.opus", "enc-opus-preskip.opus"]

        /// The pages of an Ogg file, walked from the start by their headers: (start, header length
        /// with lacing values, end).
        static func pages(_ bytes: [UInt8]) throws -> [(start: Int, header: Int, end: Int)] {
            var pages: [(Int, Int, Int)] = []
            var p = 0
            while p < bytes.count {
                try #require(Array(bytes[p..<(p + 4)]) == Array("OggS".utf8))
                let segments = Int(bytes[p + 26])
                let body = bytes[(p + 27)..<(p + 27 + segments)].reduce(0) { $0 + Int($1) }
                pages.append((p, 27 + segments, p + 27 + segments + body))
                p += 27 + segments + body
            }
            try #require(p == bytes.count)
            return pages
        }

        /// Byte counts that cut the file inside a page: in the capture pattern, the header, the
        /// lacing values and the body of the last page, and of the one before when audio pages
        /// precede it (so some audio still decodes: pages 0 to 2 hold the headers and first audio).
        static func cutOffsets(_ bytes: [UInt8]) throws -> [Int] {
            let all = try pages(bytes)
            try #require(all.count >= 4)
            var offsets: [Int] = []
            for (index, page) in all.enumerated() where index == all.count - 1 || (index == all.count - 2 && index >= 3) {
                offsets += [
                    page.start + 1, page.start + 3, page.start + 20, page.start + page.header - 1,
                    page.start + page.header + 1, (page.start + page.header + page.end) / 2, page.end - 1,
                ]
            }
            return Array(Set(offsets)).sorted()
        }

        @Test(arguments: oggFixtures)
        func wholeOggFilesAreAccepted(_ name: String) throws {
            let bytes = try Fixture.bytes(name)
            #expect(!Ogg.endsInsidePage(bytes))
            let analysis = try AudioAnalysis.analyze(path: Fixture.path(name))
            #expect(analysis.samples > 0)
            #expect(try AudioReader(data: bytes, name: name).read { _ in } == analysis.samples)
        }

        @Test(arguments: oggFixtures)
        func oggCutInsideAPageIsRefused(_ name: String) throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let bytes = try Fixture.bytes(name)
            let offsets = try Self.cutOffsets(bytes)
            #expect(offsets.count >= 7)
            for offset in offsets {
                let cut = Array(bytes.prefix(offset))
                #expect(Ogg.endsInsidePage(cut), "\(name) cut to \(offset) bytes")
                let path = dir.path("cut-\(offset)-\(name)")
                try Data(cut).write(to: URL(fileURLWithPath: path))
                #expect {
                    try AudioAnalysis.analyze(path: path)
                } throws: { error in
                    guard let error = error as? MediaError else { return false }
                    return error.file == path && error.isInputProblem
                        && error.reason == "the file ends early (truncated or corrupt)"
                }
                #expect(throws: MediaError.self, "\(name) cut to \(offset) bytes, in memory") {
                    try AudioReader(data: cut, name: "cut").read { _ in }
                }
            }
        }

        /// The stitcher decodes an Ogg source to encode it: it refuses the cut file with the
        /// planner's words.
        @Test func aCutOggIsRefusedByPlanAndStitchAlike() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let bytes = try Fixture.bytes("speech.ogg")
            let all = try Self.pages(bytes)
            let cut = dir.path("cut.ogg")
            try Data(bytes.prefix(all[all.count - 1].end - 100)).write(to: URL(fileURLWithPath: cut))
            let reasons = try AudioAcceptanceTests.refusals(cut: cut, whole: "speech.ogg", in: dir)
            #expect(reasons.plan.contains("ends early"))
            #expect(reasons.stitch == reasons.plan)
        }

        /// The Ogg CRC (RFC 3533), bit by bit, to build pages the checker must see through.
        static func oggCRC(_ bytes: [UInt8]) -> UInt32 {
            var crc: UInt32 = 0
            for byte in bytes {
                crc ^= UInt32(byte) << 24
                for _ in 0..<8 { crc = crc & 0x8000_0000 != 0 ? (crc << 1) ^ 0x04C1_1DB7 : crc << 1 }
            }
            return crc
        }

        /// A page of one packet holding `body`, with its CRC.
        static func page(_ body: [UInt8], sequence: UInt32) -> [UInt8] {
            precondition(body.count < 255)
            var p = Array("OggS".utf8) + [0, 0] + [UInt8](repeating: 0, count: 8) + [1, 0, 0, 0]
            withUnsafeBytes(of: sequence.littleEndian) { p += $0 }
            p += [0, 0, 0, 0, 1, UInt8(body.count)] + body
            let crc = oggCRC(p)
            withUnsafeBytes(of: crc.littleEndian) { p.replaceSubrange(22..<26, with: $0) }
            return p
        }

        @Test func aCapturePatternInsidePageDataIsNotAPage() {
            // A whole last page whose data holds "OggS" and a header claiming 200 more bytes.
            let decoy = Array("OggS".utf8) + [0, 0] + [UInt8](repeating: 7, count: 20) + [1, 200]
            let file = Self.page([1, 2, 3], sequence: 0) + Self.page(decoy + [9, 9], sequence: 1)
            #expect(!Ogg.endsInsidePage(file))
            // Cut inside that page: refused.
            #expect(Ogg.endsInsidePage(Array(file.dropLast(1))))
            #expect(Ogg.endsInsidePage(Array(file.dropLast(decoy.count))))
            // Bytes after the last page that are no page (a tag some tool appended) are not a cut.
            #expect(!Ogg.endsInsidePage(file + Array("TAG".utf8) + [UInt8](repeating: 0x20, count: 125)))
            // A cut in the capture pattern of the next page is.
            #expect(Ogg.endsInsidePage(file + Array("Og".utf8)))
        }
    }
}
