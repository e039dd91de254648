import FakeFal
import Foundation
import Testing

@testable import InfiniPipeline

extension Serial {
    /// `--sample` with captions: the sample shows the whole job's cues in its stretch, on its own
    /// timeline (soft track, sidecars beside it, burned with `burnCaptions`), and `--captions
    /// auto` pays for the transcript of the whole audio once.
    @Suite("Sampling with captions", .timeLimit(.minutes(6)))
    struct SampleCaptionTests {
        /// The whole job's cues that overlap `start..<end`, cut to it and moved by `-start`, as
        /// the soft track carries them (text with the speaker, times in milliseconds).
        static func expected(_ cues: [Caption], start: Double, end: Double) -> [MovText.Cue] {
            cues.filter { $0.end > start && $0.start < end }.map {
                MovText.Cue(
                    start: Double(MovText.milliseconds(max($0.start, start) - start)) / 1000,
                    end: Double(MovText.milliseconds(min($0.end, end) - start)) / 1000, text: SubtitleTrack.text(of: $0))
            }
        }

        /// Per frame, the percentage of the lower third's pixels whose luma differs between the two
        /// videos by more than 48 levels (drawn letters, not encoding noise); the frame counts.
        static func lowerThirdChanges(_ a: String, _ b: String) throws -> [Double] {
            let ra = try VideoReader(path: a, pixelFormat: .yuv420p), rb = try VideoReader(path: b, pixelFormat: .yuv420p)
            var changes: [Double] = []
            while let fa = try ra.nextFrame() {
                let fb = try #require(try rb.nextFrame(), "\(b) has fewer frames than \(a)")
                let (w, h) = (fa.width, fa.height)
                changes.append(
                    BurnedCaptionStitchTests.difference(
                        fa.planes[0], fb.planes[0], width: w, rows: (2 * h / 3)..<h, columns: 0..<w))
            }
            #expect(try rb.nextFrame() == nil, "\(b) has more frames than \(a)")
            return changes
        }

        static func captionReports(_ events: [PipelineEvent]) -> [CaptionsReport] {
            events.compactMap { if case .captions(let r) = $0 { r } else { nil } }
        }

        /// A sample 14 s into the long speech with its transcript: the soft track and the sidecars
        /// hold the transcript's cues of that stretch moved by the sample's start; with
        /// `burnCaptions` the same clips (nothing sent again) show them in the lower third.
        @Test func aSampleHasTheWholeJobsCaptionsOnItsOwnTimeline() async throws {
            let server = FakeFalServer()
            let url = try await server.start()
            let dir = try TempDir()
            defer { dir.cleanup() }
            defer { Task { await server.stop() } }
            var o = try SampleTests.options(dir, server: url)
            o.audio = Fixture.path("speech-long.mp3")
            o.captions = .file(Fixture.path("speech-long.srt"))
            o.language = "en"
            o.sample = SampleSpan(seconds: 5, at: 14)
            let (summary, events) = try await runCollectingEvents(Pipeline(options: o))
            let sample = try #require(summary.sample)
            #expect(sample.startTime > 10 && sample.startTime <= 14, "\(sample)")
            #expect(server.requests(to: .submit).count == sample.segments.count)
            let srt = dir.path("out.sample.srt"), vtt = dir.path("out.sample.vtt")
            #expect(summary.captionFiles == [srt, vtt])
            for name in ["out.mp4", "out.srt", "out.vtt"] { #expect(!FileManager.default.fileExists(atPath: dir.path(name))) }

            let transcript = try Transcript.read(file: URL(fileURLWithPath: Fixture.path("speech-long.srt")))
            let cues = Self.expected(transcript.captions(), start: sample.startTime, end: sample.endTime)
            #expect(cues.count >= 2, "\(cues)")
            #expect(cues.allSatisfy { $0.start >= 0 && $0.end <= Double(sample.frameCount) / 25 })
            let report = Self.captionReports(events)
            #expect(report.count == 1 && report.first?.cues == cues.count && report.first?.sidecars == [srt, vtt])

            let track = try MovText.readTrack(path: dir.path("out.sample.mp4"))
            #expect(track.codec == "mov_text" && track.language == "eng")
            SoftSubtitleTests.expectSame(track.cues, cues)
            for file in [srt, vtt] {
                let back = try Transcript.read(file: URL(fileURLWithPath: file))
                // The sidecars' readers join a cue's lines with a space.
                #expect(back.segments.map(\.text) == cues.map { $0.text.replacingOccurrences(of: "\n", with: " ") }, "\(file)")
                #expect(back.segments.map(\.start) == cues.map(\.start), "\(file)")
                #expect(back.segments.map(\.end) == cues.map(\.end), "\(file)")
            }

            // Burned: the same clips again, the cues drawn in the lower third during each cue.
            let plain = dir.path("plain.sample.mp4")
            try FileManager.default.moveItem(atPath: dir.path("out.sample.mp4"), toPath: plain)
            var burning = o
            burning.burnCaptions = true
            let burned = try await Pipeline(options: burning).run()
            #expect(server.requests(to: .submit).count == sample.segments.count)
            #expect(burned.frames == sample.frameCount)
            SoftSubtitleTests.expectSame(try MovText.readTrack(path: dir.path("out.sample.mp4")).cues, cues)
            let changes = try Self.lowerThirdChanges(dir.path("out.sample.mp4"), plain)
            #expect(changes.count == sample.frameCount)
            let shown = cues.map { Caption(start: $0.start, end: $0.end, lines: [$0.text]) }
            let (inside, outside) = BurnedCaptionStitchTests.frameSets(shown, count: changes.count)
            #expect(inside.count > 25, "\(inside.count) frames inside cues")
            let least = inside.map { changes[$0] }.min() ?? 0
            #expect(least > 2, "a frame inside a cue has only \(least) % of the lower third changed")
            let most = outside.map { changes[$0] }.max() ?? 0
            #expect(most < 0.5, "a frame between cues has \(most) % of the lower third changed")
        }

        /// `--captions auto` with a sample: the whole audio is transcribed once (its cost under
        /// the sample's cap), the sample carries its stretch of the cues, and the whole job later
        /// takes the transcript from the cache. A sidecar path that cannot be written stops the
        /// sample before anything is sent, as it stops the whole job.
        @Test func autoCaptionsArePaidOnceForASampleAndTheWholeJob() async throws {
            let server = FakeFalServer()
            let url = try await server.start()
            let dir = try TempDir()
            defer { dir.cleanup() }
            defer { Task { await server.stop() } }
            var o = try SampleTests.options(dir, server: url)
            o.captions = .auto
            o.sample = SampleSpan(seconds: 3, at: 2.5)

            // The sample's sidecar is a directory: refused up front, nothing sent.
            try FileManager.default.createDirectory(atPath: dir.path("out.sample.vtt"), withIntermediateDirectories: false)
            let refused = await #expect(throws: PipelineError.self) { try await Pipeline(options: o).run() }
            #expect(
                refused?.kind == .invalidOutput && refused?.file == dir.path("out.sample.vtt"), "\(String(describing: refused))")
            #expect(server.requests.isEmpty)
            try FileManager.default.removeItem(atPath: dir.path("out.sample.vtt"))

            // The cap counts the transcript: the sample's video alone is not enough.
            var dry = o
            dry.dryRun = true
            let priced = try await Pipeline(options: dry).run()
            let sample = try #require(priced.sample)
            o.maxCost = sample.estimatedCost
            let over = await #expect(throws: PipelineError.self) { try await Pipeline(options: o).run() }
            #expect(over?.kind == .overBudget)
            #expect(server.requests.isEmpty)

            o.maxCost = nil
            let (summary, events) = try await runCollectingEvents(Pipeline(options: o))
            #expect(server.transcriptionRequests.count == 1)
            let report = try #require(Self.captionReports(events).first)
            #expect(report.cached == false && report.cost > 0, "\(report)")
            let words = TranscriberTests.fixture.words.map { Transcript.Word(word: $0.word, start: $0.start, end: $0.end) }
            let all = Transcript(segments: [], words: words).captions()
            let cues = Self.expected(all, start: sample.startTime, end: sample.endTime)
            #expect(!cues.isEmpty)
            SoftSubtitleTests.expectSame(try MovText.readTrack(path: dir.path("out.sample.mp4")).cues, cues)
            #expect(summary.captionFiles == [dir.path("out.sample.srt"), dir.path("out.sample.vtt")])
            let back = try Transcript.read(file: URL(fileURLWithPath: dir.path("out.sample.srt")))
            #expect(back.segments.map(\.text) == cues.map { $0.text.replacingOccurrences(of: "\n", with: " ") })

            // The whole job: the transcript from the cache, only the other segments sent.
            var whole = o
            whole.sample = nil
            let (full, fullEvents) = try await runCollectingEvents(Pipeline(options: whole))
            #expect(server.transcriptionRequests.count == 1)
            let cached = try #require(Self.captionReports(fullEvents).first)
            #expect(cached.cached && cached.cost == 0)
            #expect(full.reusedSegments == sample.segments.count)
            #expect(full.captionFiles == [dir.path("out.srt"), dir.path("out.vtt")])
        }
    }
}
