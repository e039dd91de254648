import ArgumentParser
import Foundation
import Testing

@testable import InfiniPipeline
@testable import InfiniStitchCLI

extension Serial {
    @Suite("Seam transitions", .timeLimit(.minutes(3)))
    struct TransitionTests {
        /// A plan of 41-frame segments over speech.m4a, optionally with speakers.
        static func plan(segments: Int, speakers: [String?]? = nil) throws -> Plan {
            var plan = try StitchTests.plan(Array(repeating: (41, 41), count: segments))
            if let speakers {
                for i in plan.segments.indices { plan.segments[i].speaker = speakers[i] }
            }
            return plan
        }

        /// Two clips of the texture: the first drifts away from the picture by `motion` (dx, dy,
        /// degrees) over its first frames and holds still (a pause); the second starts again from
        /// the picture, as every model request starts again from the portrait.
        static func seamClips(_ dir: TempDir, motion: (Double, Double, Double), texture: SeamTexture = SeamTexture())
            throws -> [String]
        {
            let a = dir.path("a.mp4"), b = dir.path("b.mp4")
            try texture.writeClip(a, count: 41, to: motion)
            try texture.writeClip(b, count: 41)
            return [a, b]
        }

        static func stitch(
            _ clips: [String], plan: Plan, _ dir: TempDir, _ name: String, _ transition: StitchOptions.Transition,
            frames: Int = StitchOptions.defaultTransitionFrames
        ) throws -> (result: StitchResult, path: String) {
            let out = dir.path(name)
            let result = try Stitcher.stitch(
                plan: plan, clips: clips, audio: Fixture.path("speech.m4a"), output: out,
                options: StitchOptions(crf: 12, preset: "ultrafast", transition: transition, transitionFrames: frames))
            return (result, out)
        }

        /// The largest mean absolute change between consecutive frames in `range`.
        static func largestStep(_ frames: [[UInt8]], _ range: ClosedRange<Int>) -> Double {
            range.dropFirst().map { FrameMeasure.meanAbsoluteDifference(frames[$0 - 1], frames[$0]) }.max() ?? 0
        }

        static func sharpness(_ luma: [UInt8], _ width: Int, _ height: Int) throws -> Double {
            try Sharpness.measure(gray: luma, width: width, height: height)
        }

        /// The issue's figures on synthetic seams moved 6–24 px and turned 1–5°: with `morph`, the
        /// largest change between consecutive frames is at most 40% of the hard cut's jump, and
        /// every in-between frame keeps at least 80% of the sharpness of the frames around it.
        @Test(arguments: [
            (6.0, 0.0, 1.0), (10.0, 8.0, 3.0), (24.0, 0.0, 2.0), (-14.0, 12.0, 5.0), (0.0, -20.0, 4.0), (17.0, -17.0, 5.0),
        ])
        func morphHidesTheJumpAndStaysSharp(_ motion: (Double, Double, Double)) throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let clips = try Self.seamClips(dir, motion: motion)
            let plan = try Self.plan(segments: 2)
            let cut = try Self.stitch(clips, plan: plan, dir, "cut.mp4", .cut)
            let morph = try Self.stitch(clips, plan: plan, dir, "morph.mp4", .morph)
            #expect(cut.result.videoPath == .copy)
            #expect(morph.result.videoPath == .reencode && morph.result.reencodeReason == "a morph needs re-encoding")
            let c = try FrameMeasure.lumas(cut.path), m = try FrameMeasure.lumas(morph.path)
            #expect(c.frames.count == 82 && m.frames.count == 82)
            // The window: frames 37…44 (4 before the seam at 41, 4 after), between frames 36 and 45.
            let jump = FrameMeasure.meanAbsoluteDifference(c.frames[40], c.frames[41])
            let step = Self.largestStep(m.frames, 36...45)
            #expect(jump > 10, "the synthetic seam must jump (\(jump))")
            #expect(step <= 0.4 * jump, "motion \(motion): largest step \(step) vs the cut's \(jump)")
            // Outside the window the frames are the clips'.
            #expect(FrameMeasure.meanAbsoluteDifference(m.frames[36], c.frames[36]) < 1)
            #expect(FrameMeasure.meanAbsoluteDifference(m.frames[45], c.frames[45]) < 1.5)
            let around =
                (try Self.sharpness(m.frames[36], m.width, m.height) + Self.sharpness(m.frames[45], m.width, m.height)) / 2
            let kept = try (37...44).map { try Self.sharpness(m.frames[$0], m.width, m.height) / around }
            if ProcessInfo.processInfo.environment["SEAM_FIGURES"] == "1" {
                // bench/run's seam-quality figure collects these lines for BENCHMARKS.md.
                print(
                    String(
                        format: "seam-figure motion=%g,%g,%g jump=%.2f largest-step=%.2f step-ratio=%.3f min-sharpness=%.3f",
                        motion.0, motion.1, motion.2, jump, step, step / jump, kept.min() ?? 0))
            }
            for i in 37...44 {
                let s = try Self.sharpness(m.frames[i], m.width, m.height)
                #expect(s >= 0.8 * around, "motion \(motion): frame \(i) sharpness \(s) vs \(around) around it")
            }
        }

        /// A crossfade's middle frames ghost: their sharpness drops to about half, which is what
        /// the morph avoids.
        @Test func crossfadeMiddleFramesGhost() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let clips = try Self.seamClips(dir, motion: (12, 6, 3))
            let fade = try Self.stitch(clips, plan: try Self.plan(segments: 2), dir, "fade.mp4", .crossfade)
            #expect(fade.result.videoPath == .reencode && fade.result.reencodeReason == "a crossfade needs re-encoding")
            let f = try FrameMeasure.lumas(fade.path)
            #expect(f.frames.count == 82)
            let around =
                (try Self.sharpness(f.frames[40], f.width, f.height) + Self.sharpness(f.frames[49], f.width, f.height)) / 2
            // Frames 41…48 fade from clip a's last frame; the middle ones are half of each.
            let ratios = try (41...48).map { try Self.sharpness(f.frames[$0], f.width, f.height) / around }
            #expect((0.35...0.6).contains(ratios.min() ?? 0), "crossfade sharpness ratios \(ratios)")
            if ProcessInfo.processInfo.environment["SEAM_FIGURES"] == "1" {
                print(String(format: "seam-figure crossfade motion=12,6,3 min-sharpness=%.3f", ratios.min() ?? 0))
            }
        }

        /// `zoom` shows alternate segments punched in 1.12×, centred on the face the cascade finds
        /// on the segment's first frame (the texture happens to hold something face-like) or else
        /// on the picture's centre, and is a cut otherwise: no frame is blended.
        @Test func zoomAlternatesSegments() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let texture = SeamTexture()
            let still = dir.path("still.mp4")
            try texture.writeClip(still, count: 41)
            let zoom = try Self.stitch([still, still, still], plan: try Self.plan(segments: 3), dir, "zoom.mp4", .zoom)
            #expect(zoom.result.videoPath == .reencode && zoom.result.reencodeReason == "a zoom needs re-encoding")
            let z = try FrameMeasure.lumas(zoom.path)
            #expect(z.frames.count == 123)
            let plain = texture.frame().planes[0]
            var detector = try FaceDetector()
            detector.minimumFaceFraction = FaceCentre.minimumFaceFraction
            let (w, h) = (Double(texture.width), Double(texture.height))
            let centre: (x: Double, y: Double) =
                try detector.faces(gray: FrameMeasure.lumas(still).frames[0], width: texture.width, height: texture.height)
                .first?.center ?? (w / 2, h / 2)
            // The window, 1/1.12 of the picture, centred there as far as the picture allows; the
            // texture drawn magnified about its own centre and moved to show the same window.
            let s = SeamTransitions.zoomScale
            let x0 = min(max(centre.x - w / s / 2, 0), w - w / s), y0 = min(max(centre.y - h / s / 2, 0), h - h / s)
            let punched = texture.frame(dx: (w / 2 - x0) * s - w / 2, dy: (h / 2 - y0) * s - h / 2, scale: s).planes[0]
            for i in [0, 40, 82, 122] { #expect(FrameMeasure.meanAbsoluteDifference(z.frames[i], plain) < 2.5, "frame \(i)") }
            for i in [41, 60, 81] {
                #expect(FrameMeasure.meanAbsoluteDifference(z.frames[i], punched) < 2.5, "frame \(i)")
                #expect(FrameMeasure.meanAbsoluteDifference(z.frames[i], plain) > 10, "frame \(i)")
            }
        }

        /// A seam where the speaker changes is a hard cut whatever the transition: cutting between
        /// two people must not morph. With every seam a shot change, the clips are even copied.
        @Test func shotChangesAreHardCuts() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let texture = SeamTexture()
            let a = dir.path("a.mp4"), b = dir.path("b.mp4")
            try texture.writeClip(a, count: 41, to: (16, 8, 3))
            try texture.writeClip(b, count: 41)
            let cut = try Self.stitch([a, b, a], plan: try Self.plan(segments: 3), dir, "cut.mp4", .cut)
            let c = try FrameMeasure.lumas(cut.path)
            // Two speakers, every seam a shot change: the copy path.
            let allShots = try Self.stitch(
                [a, b, a], plan: try Self.plan(segments: 3, speakers: ["ann", "bob", "ann"]), dir, "shots.mp4", .morph)
            #expect(allShots.result.videoPath == .copy)
            #expect(try FrameMeasure.lumas(allShots.path).frames == c.frames)
            // ann, ann, bob: the first seam morphs, the second (a shot change) is a hard cut.
            for transition in [StitchOptions.Transition.morph, .crossfade, .zoom] {
                let mixed = try Self.stitch(
                    [a, b, a], plan: try Self.plan(segments: 3, speakers: ["ann", "ann", "bob"]), dir, "mixed-\(transition).mp4",
                    transition)
                let m = try FrameMeasure.lumas(mixed.path)
                #expect(m.frames.count == 123)
                #expect(mixed.result.videoPath == .reencode)
                // Shot change at frame 82: frames on both sides are the clips' own (the third
                // segment unzoomed), and the jump is the cut's.
                for i in (transition == .zoom ? 82 : 78)...86 {
                    #expect(FrameMeasure.meanAbsoluteDifference(m.frames[i], c.frames[i]) < 1.5, "\(transition) frame \(i)")
                }
                // The first seam (no change of speaker) has its transition.
                #expect(FrameMeasure.meanAbsoluteDifference(m.frames[41], c.frames[41]) > 1.5, "\(transition)")
            }
        }

        /// Every transition keeps the output's frame count, its timing and the original audio, in
        /// sync, with the moov atom in front; only `cut` copies.
        @Test(arguments: StitchOptions.Transition.allCases)
        func everyTransitionKeepsFramesAndSync(_ transition: StitchOptions.Transition) throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let out = dir.path("out.mp4")
            let result = try Stitcher.stitch(
                plan: StitchTests.plan([(41, 41), (45, 45), (41, 41)], audio: "speech.wav"),
                clips: ["clip-a.mp4", "clip-b.mp4", "clip-c.mp4"].map(Fixture.path), audio: Fixture.path("speech.wav"),
                output: out, options: StitchOptions(preset: "ultrafast", transition: transition))
            #expect(result.totalFrames == 127)
            #expect(result.videoPath == (transition == .cut ? .copy : .reencode))
            #expect(try VideoReader(path: out).countFrames() == 127)
            #expect(try mp4TopLevelBoxes(out).prefix(2) == ["ftyp", "moov"])
            let video = try Demuxer(path: out).bestStream(.video)
            #expect(abs((video.duration ?? 0) - 127.0 / 25) < 1e-6)
            let original = try AudioReader(path: Fixture.path("speech.wav"), channels: 1).readAll()
            let stitched = try AudioReader(path: out, channels: 1).readAll()
            let rate = try AudioReader(path: out).outputFormat.sampleRate
            #expect(stitched.count >= original.count)
            let lag = StitchTests.bestLag(original, stitched, range: 2400)
            #expect(Double(abs(lag)) / Double(rate) < 0.002, "\(transition): audio offset \(lag) samples")
            // Barcodes: frames outside the transition windows are the clips' own, in order.
            // (Windows: 37…44 and 82…89 for a morph, 41…48 and 86…93 for a crossfade; the middle
            // segment is punched in by a zoom.)
            let marks = try StitchTests.markers(out).map(\.0)
            #expect(Array(marks[0..<37]) == Array(0..<37))
            if transition != .zoom { #expect(Array(marks[49..<82]) == Array(8..<41)) }
            #expect(Array(marks[94...]) == Array(8..<41))
        }

        /// The window stays inside the pause the seam sits in, shifts to the side with room,
        /// shrinks when the pause is shorter, and takes at most half of a segment.
        @Test func windowsStayInsideThePause() throws {
            func seams(_ before: Int?, _ after: Int?, frames: Int = 8, _ transition: StitchOptions.Transition = .morph)
                throws -> SeamTransitions.Seam
            {
                var plan = try Self.plan(segments: 2)
                plan.segments[1].pauseFramesBefore = before
                plan.segments[1].pauseFramesAfter = after
                return SeamTransitions(plan: plan, options: StitchOptions(transition: transition, transitionFrames: frames))
                    .seams[1]
            }
            #expect(try seams(nil, nil) == .morph(before: 4, after: 4))
            #expect(try seams(10, 10) == .morph(before: 4, after: 4))
            #expect(try seams(1, 20) == .morph(before: 1, after: 7))
            #expect(try seams(20, 2) == .morph(before: 6, after: 2))
            #expect(try seams(2, 3) == .morph(before: 2, after: 3))
            #expect(try seams(0, 0) == .cut)
            #expect(try seams(nil, nil, frames: 50) == .morph(before: 20, after: 20))
            #expect(try seams(nil, nil, frames: 0) == .cut)
            #expect(try seams(5, 3, .crossfade) == .crossfade(frames: 3))
            #expect(try seams(nil, nil, .cut) == .cut)
            // A plan whose seams have no room for a morph keeps the copy path.
            var plan = try Self.plan(segments: 2)
            (plan.segments[1].pauseFramesBefore, plan.segments[1].pauseFramesAfter) = (0, 0)
            #expect(SeamTransitions.reencodingTransition(plan: plan, options: StitchOptions(transition: .morph)) == nil)
            #expect(SeamTransitions.reencodingTransition(plan: plan, options: StitchOptions(transition: .zoom)) == .zoom)
        }

        /// The planner records the quiet around every seam; a plan without it (hand-edited, older)
        /// still decodes, and the keys are written only when known.
        @Test func plansRecordThePauseAroundEachSeam() throws {
            let plan = try SegmentPlanner.plan(audioFile: Fixture.path("speech-long.mp3"))
            #expect(plan.segments.count > 1)
            #expect(plan.segments[0].pauseFramesBefore == nil && plan.segments[0].pauseFramesAfter == nil)
            for segment in plan.segments.dropFirst() {
                // Every cut of this recording falls inside a pause (see AudioStageTests).
                #expect((segment.pauseFramesBefore ?? 0) + (segment.pauseFramesAfter ?? 0) >= 4, "segment \(segment.index)")
            }
            let json = String(decoding: try plan.jsonData(), as: UTF8.self)
            #expect(json.contains("\"pauseFramesBefore\""))
            #expect(try Plan.from(json: plan.jsonData()) == plan)
            let older = try StitchTests.plan([(41, 41), (41, 41)])
            #expect(!String(decoding: try older.jsonData(), as: UTF8.self).contains("pauseFrames"))
        }

        @Test func optionsAreChecked() throws {
            #expect(StitchOptions().transition == .cut)
            #expect(PipelineOptions(audio: "a.mp3", image: "b.png").stitch.transition == .morph)
            let alias = StitchOptions(crossfadeFrames: 5, transition: .morph).effectiveTransition
            #expect(alias.transition == .crossfade && alias.frames == 5)
            let zoom = StitchOptions(transition: .zoom, transitionFrames: 3).effectiveTransition
            #expect(zoom.transition == .zoom && zoom.frames == 3)
            for bad in [-1, 51] {
                #expect {
                    try StitchOptions(transitionFrames: bad).validate()
                } throws: { error in
                    (error as? StitchError)?.option == "transitionFrames"
                        && "\(error)".hasPrefix("transitionFrames \(bad) is outside 0…50")
                }
            }
        }

        @Test func commandLineOptions() throws {
            func parse(_ args: [String], default d: StitchOptions.Transition) throws -> StitchOptions {
                try TransitionOptions.parse(args).applied(to: StitchOptions(), default: d)
            }
            #expect(try parse([], default: .cut).transition == .cut)
            #expect(try parse([], default: .morph).transition == .morph)
            #expect(try parse(["--transition", "zoom"], default: .morph).transition == .zoom)
            let frames = try parse(["--transition", "crossfade", "--transition-frames", "5"], default: .cut)
            #expect(frames.effectiveTransition.transition == .crossfade && frames.effectiveTransition.frames == 5)
            let alias = try parse(["--crossfade", "6"], default: .morph).effectiveTransition
            #expect(alias.transition == .crossfade && alias.frames == 6)
            #expect(throws: (any Error).self) { try TransitionOptions.parse(["--transition", "wipe"]) }
            #expect(throws: (any Error).self) { try TransitionOptions.parse(["--crossfade", "4", "--transition", "morph"]) }
            do {
                _ = try TransitionOptions.parse(["--transition-frames", "99"])
                Issue.record("--transition-frames 99 must be refused")
            } catch {
                #expect(TransitionOptions.message(for: error).contains("--transition-frames 99 is outside 0…50"))
            }
            #expect(ErrorReport.flags["transitionFrames"] == "--transition-frames")
        }
    }
}
