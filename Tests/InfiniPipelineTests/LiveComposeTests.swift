import FakeFal
import Foundation
import Testing

@testable import InfiniPipeline

extension Serial {
    /// `--live` composes with the rest of the stitch: the default colour match, burned captions
    /// and the soft subtitle track are the stream's too, so the MP4 is still remuxed from it.
    @Suite("live stream with colour match and captions", .ownThreads)
    struct LiveComposeTests {
        /// The fake server's answer for clips made to drift: long enough for any segment of 41
        /// frames or fewer (the rest is dropped).
        static func driftingVideo(_ dir: TempDir) throws -> FakeFalServer.GenerationScript.Video {
            let clip = dir.path("drifting.mp4"), frames = 45
            try DriftClips.write(clip, count: frames, segment: 0, image: DriftClips.portrait()) {
                DriftClips.Tint(drift: Double($0) / Double(frames - 1))
            }
            return .bytes([UInt8](try Data(contentsOf: URL(fileURLWithPath: clip))))
        }

        /// With the fake server's clips (which do not drift), and with every clip made to drift
        /// (the portrait, warmer and more saturated frame by frame: each clip is corrected).
        @Test(.timeLimit(.minutes(4)), arguments: [false, true])
        func colourMatchAndBurnedCaptionsAreTheStreams(drifting: Bool) async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let server = FakeFalServer()
            let url = try await server.start()
            let video = drifting ? try Self.driftingVideo(dir) : .mp4
            server.script(
                (0..<8).map {
                    FakeFalServer.GenerationScript(processingTime: .milliseconds($0 % 2 == 0 ? 700 : 50), video: video)
                })
            var o = LiveStreamTests.options(dir, url: url)
            // The main command's defaults: morphed seams and the colour match against the portrait.
            let defaults = PipelineOptions(audio: o.audio, image: o.image)
            o.stitch = defaults.stitch
            o.colorMatch = defaults.colorMatch
            #expect(o.colorMatch == .portrait)
            o.captions = .file(Fixture.path("speech.srt"))
            o.language = "en"
            o.burnCaptions = true
            let live = dir.path("live"), playlistPath = live + "/index.m3u8"
            let outcome: Result<(summary: PipelineSummary, events: [PipelineEvent]), any Error>
            do { outcome = .success(try await runCollectingEvents(Pipeline(options: o))) } catch { outcome = .failure(error) }
            let (summary, events) = try outcome.get()
            let plan = try #require(
                events.compactMap { if case .plan(let p) = $0 { return p } else { return nil } }.first)
            #expect(plan.segments.count >= 3, "the test needs several seams")
            let warnings = events.compactMap { if case .warning(let w) = $0 { return w } else { return nil } }
            #expect(!warnings.contains { $0.contains("live") }, "\(warnings)")
            #expect(summary.videoPath == "reencode")

            // The stream holds the whole video, and the MP4 is its packets, with the soft track.
            let final = try #require(LivePlaylist.parse(try String(contentsOfFile: playlistPath, encoding: .utf8)))
            #expect(final.ended && final.frames == plan.totalFrames)
            let output = try #require(summary.output)
            let whole = try LiveStreamTests.joined(live, final.entries.map(\.uri), to: dir.path("whole.mp4"))
            let stream = try LiveStreamTests.streams(whole), mp4 = try LiveStreamTests.streams(output)
            #expect(stream.videoPackets == plan.totalFrames && stream.videoHash == mp4.videoHash)
            #expect(stream.audioHash == mp4.audioHash)
            let track = try MovText.readTrack(path: output)
            #expect(track.codec == "mov_text" && track.language == "eng" && !track.cues.isEmpty)

            // The colour figures: one per clip, in segment order.
            let reports = try #require(summary.colorMatch)
            #expect(reports.map(\.segment) == plan.segments.map(\.index))
            if drifting { #expect(reports.allSatisfy { $0.corrected }, "\(reports)") }

            // The same job without --live (the same clips, nothing sent again): the stitcher's
            // colour figures are the stream's, and its pictures the stream's within what two
            // encodes of the same pictures differ by (the captions drawn on both).
            let submits = server.requests(to: .submit).count
            try FileManager.default.moveItem(atPath: output, toPath: dir.path("live.mp4"))
            var plain = o
            plain.live = nil
            let reference = try await Pipeline(options: plain).run()
            await server.stop()
            #expect(server.requests(to: .submit).count == submits)
            #expect(reference.colorMatch == summary.colorMatch)
            let made = try VideoReader(path: dir.path("live.mp4")), other = try VideoReader(path: output)
            var worst = 0.0, compared = 0
            while let a = try made.nextFrame(), let b = try other.nextFrame() {
                // Luma and chroma: a colour correction missing from one moves the chroma most.
                for (pa, pb) in zip(a.planes, b.planes) {
                    let difference = zip(pa, pb).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }
                    worst = max(worst, Double(difference) / Double(pa.count))
                }
                compared += 1
            }
            #expect(compared == plan.totalFrames)
            // (Two encodes differ by about 2 levels here; the stream without its colour match, by 5.6.)
            #expect(worst < 4, "a frame differs from the whole stitch's by \(worst) levels on average")
            // The captions are drawn in the stream where the stitcher draws them (a cue missing
            // from one changes several per cent of the lower third of its frames).
            let changes = try SampleCaptionTests.lowerThirdChanges(dir.path("live.mp4"), output)
            let most = changes.max() ?? 0
            #expect(most < 0.5, "a frame's lower third differs from the whole stitch's in \(most) % of its pixels")
        }

        /// A resumed run with the colour match continues the playlist: the stretches the first run
        /// published are measured again for the summary, which is a run's without --live.
        @Test(.timeLimit(.minutes(4))) func aResumedRunHasTheColourFigures() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let server = FakeFalServer()
            let url = try await server.start()
            defer { Task { await server.stop() } }
            let video = try Self.driftingVideo(dir)
            // The fifth request fails: the first run stops with a prefix published.
            server.script(
                (0..<4).map { _ in FakeFalServer.GenerationScript(processingTime: .milliseconds(50), video: video) }
                    + [.failing()] + (0..<4).map { _ in FakeFalServer.GenerationScript(video: video) })
            var o = LiveStreamTests.options(dir, url: url)
            o.colorMatch = .portrait
            let playlistPath = dir.path("live") + "/index.m3u8"
            await #expect(throws: PipelineError.self) { _ = try await Pipeline(options: o).run() }
            let first = try String(contentsOfFile: playlistPath, encoding: .utf8)
            #expect(!(try #require(LivePlaylist.parse(first))).entries.isEmpty)

            let summary = try await Pipeline(options: o).run()
            let second = try String(contentsOfFile: playlistPath, encoding: .utf8)
            #expect(second.hasPrefix(first))
            let final = try #require(LivePlaylist.parse(second))
            #expect(final.ended && final.frames == summary.frames)
            let whole = try LiveStreamTests.joined(
                dir.path("live"), final.entries.map(\.uri), to: dir.path("whole.mp4"))
            #expect(
                try LiveStreamTests.streams(whole).videoHash
                    == (try LiveStreamTests.streams(try #require(summary.output))).videoHash)
            let reports = try #require(summary.colorMatch)
            #expect(reports.count == summary.segments && reports.allSatisfy { $0.corrected }, "\(reports)")

            try FileManager.default.moveItem(atPath: dir.path("out.mp4"), toPath: dir.path("live.mp4"))
            var plain = o
            plain.live = nil
            #expect(try await Pipeline(options: plain).run().colorMatch == summary.colorMatch)
        }
    }
}
