import ArgumentParser
import Foundation
import Testing

@testable import InfiniPipeline
@testable import InfiniStitchCLI

/// Clips of the portrait moving as the preview backend's do, made to drift in colour (or not) by
/// the test, so the correction is checked against a known truth: the same clip untinted.
enum DriftClips {
    /// The portrait every clip starts from (384×384, a real photograph).
    static func portrait() throws -> PixelBuffer {
        try ImageCodec.decode(path: Fixture.path("portrait.jpg"))
    }

    /// How a frame is changed: `drift` 0…1 tints it progressively (saturation up 40 % and a
    /// warm cast, about ΔE 10 on the mean by 1), `brightness` multiplies it (a lighting change).
    struct Tint {
        var drift = 0.0
        var brightness = 1.0
    }

    /// `image` tinted: saturation × (1 + 0.4 · drift) about each pixel's luma, then red up and
    /// blue down by 18 · drift levels, then every channel × `brightness`.
    static func tinted(_ image: PixelBuffer, _ tint: Tint) -> PixelBuffer {
        if tint.drift == 0 && tint.brightness == 1 { return image }
        var out = image
        let saturation = 1 + 0.4 * tint.drift, cast = 18 * tint.drift
        let k = tint.brightness
        func byte(_ v: Double) -> UInt8 { UInt8(max(0, min(255, v.rounded()))) }
        out.bytes.withUnsafeMutableBufferPointer { p in
            var i = 0
            while i + 2 < p.count {
                let r = Double(p[i]), g = Double(p[i + 1]), b = Double(p[i + 2])
                let y = 0.299 * r + 0.587 * g + 0.114 * b
                p[i] = byte((y + (r - y) * saturation + cast) * k)
                p[i + 1] = byte((y + (g - y) * saturation) * k)
                p[i + 2] = byte((y + (b - y) * saturation - cast) * k)
                i += 3
            }
        }
        return out
    }

    /// Writes a clip of `count` frames of the portrait moving as the preview backend's segment
    /// `segment` does, but 12 times as fast (the zoom and pan of a whole 721-frame clip over
    /// `count` frames: more motion than a talking head's), or standing still when not `moving`,
    /// frame k changed by `tint(k)`.
    static func write(
        _ path: String, count: Int, segment: Int, image: PixelBuffer, moving: Bool = true,
        tint: (Int) -> Tint = { _ in Tint() }
    ) throws {
        let writer = try MP4Writer(
            path: path,
            video: VideoEncoderSettings(width: image.width, height: image.height, frameRate: 25, crf: 14, preset: "ultrafast"),
            audio: nil)
        var moved = image
        for k in 0..<count {
            // The preview's drift over a 721-frame clip, here over `count` frames: visible motion.
            if moving {
                let motion = PreviewRenderer.drift(frame: k * 720 / max(1, count - 1), segmentIndex: segment)
                try PreviewRenderer.warp(image, zoom: motion.zoom, panX: motion.panX, panY: motion.panY, into: &moved)
            }
            let frame = tinted(moved, tint(k))
            try writer.append(video: VideoFrame(width: frame.width, height: frame.height, rgb24: frame.bytes))
        }
        try writer.finish()
    }

    /// The Lab statistics of an rgb8 picture.
    static func stats(of image: PixelBuffer) throws -> LabStats {
        try LabColor.stats(rgb: image.bytes, width: image.width, height: image.height)
    }

    /// The Lab statistics of every frame of a video (every chroma sample measured).
    static func stats(_ path: String) throws -> [LabStats] {
        let reader = try VideoReader(demuxer: Demuxer(path: path), pixelFormat: .yuv420p, threads: 1)
        let frame = try Frame()
        var all: [LabStats] = []
        while try reader.nextDecodedFrame(into: frame) {
            all.append(try LabColor.stats(of: frame, step: 1))
            frame.unref()
        }
        return all
    }

    /// Every frame's three planes, concatenated.
    static func pixels(_ path: String) throws -> [[UInt8]] {
        let reader = try VideoReader(path: path, pixelFormat: .yuv420p)
        var frames: [[UInt8]] = []
        while let f = try reader.nextFrame() { frames.append(f.planes.flatMap { $0 }) }
        return frames
    }
}

/// The colour stage on its own: conversions, ΔE2000, the plan (a pure function of statistics).
@Suite("Colour match: measures and plan", .ownThreads)
struct ColorMatchPlanTests {
    /// Sharma, Wu and Dalal's CIEDE2000 test pairs (six of the 34), to four decimals.
    @Test(arguments: [
        ([50.0, 2.6772, -79.7751], [50.0, 0.0, -82.7485], 2.0425),
        ([50.0, 3.1571, -77.2803], [50.0, 0.0, -82.7485], 2.8615),
        ([50.0, 2.5, 0.0], [50.0, 0.0, -2.5], 4.3065),
        ([50.0, 2.5, 0.0], [73.0, 25.0, -18.0], 27.1492),
        ([60.2574, -34.0099, 36.2677], [60.4626, -34.1751, 39.4387], 1.2644),
        ([22.7233, 20.0904, -46.694], [23.0331, 14.973, -42.5619], 2.0373),
    ])
    func deltaE2000MatchesThePublishedPairs(_ a: [Double], _ b: [Double], _ expected: Double) {
        #expect(abs(LabColor.deltaE2000(a, b) - expected) < 0.0001)
        #expect(abs(LabColor.deltaE2000(b, a) - expected) < 0.0001)
    }

    @Test func statisticsOfKnownColours() throws {
        // Mid gray, white and a saturated red, as 4:2:0 frames in limited range.
        for (rgb, lab) in [
            ([128, 128, 128], [53.585, 0.0, 0.0]), ([255, 255, 255], [100.0, 0.0, 0.0]), ([255, 0, 0], [53.24, 80.09, 67.2]),
        ] {
            var image = PixelBuffer(width: 16, height: 16, format: .rgb8)
            for i in 0..<(16 * 16) { for c in 0..<3 { image.bytes[3 * i + c] = UInt8(rgb[c]) } }
            let stats = try DriftClips.stats(of: image)
            for c in 0..<3 { #expect(abs(stats.mean[c] - lab[c]) < 0.1, "\(rgb): \(stats.mean)") }
            #expect(stats.covariance.allSatisfy { abs($0) < 1e-6 })
        }
    }

    @Test func theIdentityMapLeavesEveryPixelAsItIs() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let clip = dir.path("clip.mp4")
        try DriftClips.write(clip, count: 1, segment: 0, image: DriftClips.portrait())
        let reader = try VideoReader(demuxer: Demuxer(path: clip), pixelFormat: .yuv420p, threads: 1)
        let frame = try Frame()
        #expect(try reader.nextDecodedFrame(into: frame))
        let before = YUV420.luma(of: frame).pixels
        let identity = LabMap(matrix: [1, 0, 0, 0, 1, 0, 0, 0, 1], offset: [0, 0, 0])
        try LabColor.apply(identity, to: frame)
        #expect(YUV420.luma(of: frame).pixels == before)
        // A real map moves the mean where the statistics say it goes.
        let stats = try LabColor.stats(of: frame, step: 1)
        var target = stats
        target.mean = [stats.mean[0] - 4, stats.mean[1] - 3, stats.mean[2] - 5]
        let map = try LabColor.transport(from: stats, to: target, strength: 1)
        try LabColor.apply(map, to: frame)
        let after = try LabColor.stats(of: frame, step: 1)
        #expect(LabColor.deltaE2000(after.mean, target.mean) < 0.5, "\(after.mean) vs \(target.mean)")
    }

    /// Statistics with a mean that moves by `rate` Lab units of b (warmer) a frame from `from`.
    static func drifting(_ count: Int, rate: Double, step: (at: Int, l: Double)? = nil) -> [LabStats] {
        (0..<count).map { t in
            // A little frame-to-frame noise, as a talking face gives.
            let wobble = 0.15 * sin(Double(t) * 1.7)
            var mean = [55 + wobble, 12, 18 + rate * Double(t)]
            if let step, t >= step.at { mean[0] += step.l }
            return LabStats(mean: mean, covariance: [300, 20, 10, 20, 60, 5, 10, 5, 80])
        }
    }

    @Test func aSteadyClipIsLeftAsItIs() throws {
        let plan = try ColorMatchPlan(frames: Self.drifting(300, rate: 0.002), reference: nil)
        #expect(plan.maps.allSatisfy { $0 == nil })
        #expect(plan.report.largestDrift < 1 && !plan.report.corrected)
    }

    @Test func driftIsCorrectedInProportionAndThePlanIsAPureFunction() throws {
        let frames = Self.drifting(400, rate: 0.03)  // 12 units of b by the end: ΔE2000 ≈ 6.6
        let plan = try ColorMatchPlan(frames: frames, reference: frames[0])
        #expect(plan.report.largestDrift > 6)
        #expect(plan.report.largestResidual < 1)
        #expect(plan.report.lightingChanges.isEmpty)
        // The first frames have not drifted: left exactly as they are; then the maps grow.
        #expect(plan.maps[0] == nil && plan.maps[10] == nil && plan.maps[399] != nil)
        let shifts = plan.maps.map { $0.map { abs($0.offset[2] + ($0.matrix[8] - 1) * 18) } ?? 0 }
        #expect(shifts[399] > shifts[200] && shifts[200] > shifts[100])
        #expect(try ColorMatchPlan(frames: frames, reference: frames[0]) == plan)
    }

    @Test func aLightingChangeIsKeptAndTheDriftAroundItCorrected() throws {
        let frames = Self.drifting(300, rate: 0.03, step: (150, 12))
        let plan = try ColorMatchPlan(frames: frames, reference: frames[0])
        #expect(plan.report.lightingChanges == [150])
        // Frame 150's mapped mean is about 12 brighter than frame 149's: the change is kept …
        let before = plan.maps[149]!.apply(frames[149].mean), after = plan.maps[150]!.apply(frames[150].mean)
        #expect(abs(after[0] - before[0] - 12) < 1)
        // … and the drift on b is taken out on both sides of it.
        #expect(abs(before[2] - 18) < 1 && abs(after[2] - 18) < 1)
        let end = plan.maps[299]!.apply(frames[299].mean)
        #expect(abs(end[2] - 18) < 1 && abs(end[0] - 67) < 1)
    }

    @Test func aClipThatDoesNotStartAtItsPortraitIsLeftAsItIs() throws {
        let frames = Self.drifting(300, rate: 0.05)
        var reference = frames[0]
        reference.mean = [80, 0, 0]
        let plan = try ColorMatchPlan(frames: frames, reference: reference)
        #expect(!plan.report.corrected && plan.report.note != nil)
        #expect((plan.report.referenceDifference ?? 0) > 5)
    }

    /// A clip that does not drift but starts far from its portrait is told of too (the portrait
    /// may be the wrong one), in one line that says the difference once.
    @Test func aSteadyClipFarFromItsPortraitIsToldOf() throws {
        let frames = Self.drifting(300, rate: 0)
        var reference = frames[0]
        reference.mean = [20, 0, 0]
        let plan = try ColorMatchPlan(frames: frames, reference: reference)
        #expect(!plan.report.corrected && plan.report.largestDrift < 1)
        let note = try #require(plan.report.note)
        #expect(note.hasPrefix("starts ΔE ") && note.contains("reference portrait"))
        let line = StitchCommand.describe(plan.report)
        #expect(line.components(separatedBy: "starts ΔE").count == 2, "\(line)")
        // Near its portrait: no note, the difference said once.
        let near = try ColorMatchPlan(frames: frames, reference: frames[0])
        #expect(near.report.note == nil)
        #expect(StitchCommand.describe(near.report).hasSuffix("starts ΔE 0.0 from the portrait"))
    }
}

extension Serial {
    @Suite("Colour match in the stitch", .timeLimit(.minutes(5)))
    struct ColorMatchStitchTests {
        static let frames = 61

        static func plan(segments: Int, frames: Int = frames) throws -> Plan {
            try StitchTests.plan(Array(repeating: (frames, frames), count: segments))
        }

        /// Stitches `clips` with the portrait as every clip's reference (or without colour match).
        static func stitch(
            _ clips: [String], plan: Plan, _ out: String, transition: StitchOptions.Transition = .cut, match: Bool = true,
            region: ColorRegion? = nil
        ) throws -> StitchResult {
            var options = StitchOptions(reencode: true, crf: 12, preset: "ultrafast", transition: transition)
            if match {
                options.colorMatch = StitchOptions.ColorMatch(references: [Fixture.path("portrait.jpg")], region: region)
            }
            return try Stitcher.stitch(plan: plan, clips: clips, audio: Fixture.path("speech.m4a"), output: out, options: options)
        }

        /// Three clips that drift steadily (the whole tint by each clip's last frame), and the
        /// same clips untinted (the truth); moving as the preview's do, or standing still.
        static func driftingClips(_ dir: TempDir, segments: Int = 3, frames: Int = frames, moving: Bool = true) throws -> (
            drifting: [String], truth: [String]
        ) {
            let image = try DriftClips.portrait()
            var drifting: [String] = [], truth: [String] = []
            for s in 0..<segments {
                let d = dir.path("drift\(s).mp4"), t = dir.path("truth\(s).mp4")
                try DriftClips.write(d, count: frames, segment: s, image: image, moving: moving) {
                    DriftClips.Tint(drift: Double($0) / Double(frames - 1))
                }
                try DriftClips.write(t, count: frames, segment: s, image: image, moving: moving)
                drifting.append(d)
                truth.append(t)
            }
            return (drifting, truth)
        }

        /// The figures on clips made to drift. Standing still, every frame's mean colour
        /// ends within ΔE2000 2 of the reference (and of the untinted truth) after correction, and
        /// the colour steps by at most 1 across each seam, where it jumped by about 10 before.
        /// Moving (zooming and panning fast), the content itself moves the frame's mean colour
        /// (the untinted clips are up to ΔE 2.1 from the portrait, and step by about 1.2 at the
        /// seams): every frame ends within 2 of its untinted truth, what the correction leaves of
        /// the tint (the frame's mean less the truth's) steps by at most 1 across each seam, and
        /// the untinted clips themselves are left exactly as they are.
        @Test(
            arguments: zip([StitchOptions.Transition.cut, .crossfade, .morph, .cut, .morph], [false, false, false, true, true]))
        func driftingClipsArePulledBackToThePortrait(_ transition: StitchOptions.Transition, moving: Bool) throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let (clips, truthClips) = try Self.driftingClips(dir, moving: moving)
            let plan = try Self.plan(segments: 3)
            let result = try Self.stitch(clips, plan: plan, dir.path("matched.mp4"), transition: transition)
            #expect(result.videoPath == .reencode && result.totalFrames == plan.totalFrames)
            #expect(result.colorMatch.map(\.segment) == [0, 1, 2])
            let reference = try DriftClips.stats(of: DriftClips.portrait()).mean
            let matched = try DriftClips.stats(dir.path("matched.mp4"))
            #expect(matched.count == plan.totalFrames)
            // The clips as they were, and the truth, stitched the same way without correction.
            _ = try Self.stitch(clips, plan: plan, dir.path("raw.mp4"), transition: transition, match: false)
            _ = try Self.stitch(truthClips, plan: plan, dir.path("truth.mp4"), transition: transition, match: false)
            let raw = try DriftClips.stats(dir.path("raw.mp4")), truth = try DriftClips.stats(dir.path("truth.mp4"))
            let rawDrift = raw.map { LabColor.deltaE2000($0.mean, reference) }.max() ?? 0
            #expect(rawDrift > 8 && rawDrift < 13, "the made-to-drift clips must drift by about ΔE 10 (\(rawDrift))")
            for report in result.colorMatch {
                #expect(report.largestDrift > 7 && report.corrected, "\(report)")
                #expect(report.largestResidual < 1, "\(report)")
                #expect((report.referenceDifference ?? 99) < 2, "\(report)")
            }
            var worst = (reference: 0.0, truth: 0.0)
            for (k, stats) in matched.enumerated() {
                worst.reference = max(worst.reference, LabColor.deltaE2000(stats.mean, reference))
                worst.truth = max(worst.truth, LabColor.deltaE2000(stats.mean, truth[k].mean))
            }
            #expect(worst.truth <= 2, "\(transition): a frame is ΔE \(worst.truth) from the untinted clip")
            if !moving {
                #expect(worst.reference <= 2, "\(transition): a frame is ΔE \(worst.reference) from the reference")
            } else {
                // The untinted clips, moving as much, are not taken for drifting: left as they are.
                let steady = try Self.stitch(truthClips, plan: plan, dir.path("steady.mp4"), transition: transition)
                #expect(steady.colorMatch.allSatisfy { !$0.corrected && $0.largestDrift < 1 }, "\(steady.colorMatch)")
                #expect(try DriftClips.pixels(dir.path("steady.mp4")) == DriftClips.pixels(dir.path("truth.mp4")))
            }
            var steps: [Double] = []
            if transition == .cut {
                for seam in plan.segments.dropFirst().map(\.startFrame) {
                    let before = LabColor.deltaE2000(raw[seam - 1].mean, raw[seam].mean)
                    #expect(before > 8, "the uncorrected seam at \(seam) must jump (\(before))")
                    // Still: the step itself. Moving: the step of what is left of the tint.
                    let step =
                        moving
                        ? (0..<3).map { c in
                            let after = matched[seam].mean[c] - truth[seam].mean[c]
                            let before = matched[seam - 1].mean[c] - truth[seam - 1].mean[c]
                            return (after - before) * (after - before)
                        }.reduce(0, +).squareRoot()
                        : LabColor.deltaE2000(matched[seam - 1].mean, matched[seam].mean)
                    steps.append(step)
                    #expect(step <= 1, "the seam at \(seam) still steps by ΔE \(step)")
                }
            }
            if ProcessInfo.processInfo.environment["COLOR_FIGURES"] == "1" {
                print(
                    "colour match \(transition) moving \(moving): raw drift \(rawDrift), worst vs reference \(worst.reference), vs truth \(worst.truth), seam steps \(steps), reports \(result.colorMatch)"
                )
            }
        }

        /// The preview backend's own clips (the portrait zooming and panning slowly, with the
        /// captions and the level meter) do not drift in colour: measured over the face, or over
        /// the whole frame (in cells: the level meter's bar, which moves the whole frame's mean by
        /// up to ΔE 1.6 as the speech gets louder, is a change only some cells see), they are left
        /// exactly as they were, and the stitch is the one without colour match, frame for frame.
        @Test(arguments: [true, false])
        func previewClipsAreLeftExactlyAsTheyWere(overTheFace: Bool) throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let plan = try Self.plan(segments: 2)
            let renderer = PreviewRenderer(image: try DriftClips.portrait())
            let clips = try plan.segments.map { segment in
                let clip = dir.path("preview\(segment.index).mp4")
                try renderer.render(
                    segment: segment, segmentCount: 2, audioFile: Fixture.path("speech.wav"), output: clip)
                return clip
            }
            let face = ColorRegion(x: 0.2, y: 0.1, width: 0.6, height: 0.6)
            let matched = try Self.stitch(clips, plan: plan, dir.path("matched.mp4"), region: overTheFace ? face : nil)
            _ = try Self.stitch(clips, plan: plan, dir.path("plain.mp4"), match: false)
            #expect(matched.colorMatch.allSatisfy { !$0.corrected && $0.largestDrift < 1 }, "\(matched.colorMatch)")
            let a = try DriftClips.pixels(dir.path("matched.mp4")), b = try DriftClips.pixels(dir.path("plain.mp4"))
            #expect(a.count == plan.totalFrames && b.count == a.count)
            let sa = try DriftClips.stats(dir.path("matched.mp4")), sb = try DriftClips.stats(dir.path("plain.mp4"))
            for k in a.indices {
                #expect(psnr(a[k], b[k]) >= 45, "frame \(k)")
                #expect(LabColor.deltaE2000(sa[k].mean, sb[k].mean) <= 0.5, "frame \(k)")
            }
        }

        /// The fixture clips (not this portrait at all) are left as they are too.
        @Test func fixtureClipsAreLeftAsTheyWere() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let clips = [Fixture.path("clip-a.mp4"), Fixture.path("clip-b.mp4")]
            let counts = try clips.map { try DriftClips.pixels($0).count }
            let plan = try StitchTests.plan(counts.map { ($0, $0) })
            let matched = try Self.stitch(clips, plan: plan, dir.path("matched.mp4"))
            _ = try Self.stitch(clips, plan: plan, dir.path("plain.mp4"), match: false)
            #expect(matched.colorMatch.allSatisfy { !$0.corrected }, "\(matched.colorMatch)")
            let a = try DriftClips.pixels(dir.path("matched.mp4")), b = try DriftClips.pixels(dir.path("plain.mp4"))
            #expect(a == b)
        }

        /// A scripted brightness step inside a drifting clip is kept (the same step in the output
        /// as in the truth), while the drift on both sides of it is taken out: at a measured
        /// frame, at the frame halfway between two measured ones and at one a quarter of the way
        /// (``StitchColorMatch/refineThreshold``), over the whole frame and over a tracked region.
        @Test(arguments: zip([28, 30, 31, 31], [false, false, false, true]))
        func aBrightnessStepInsideAClipIsKept(step: Int, tracked: Bool) throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let image = try DriftClips.portrait()
            let clip = dir.path("step.mp4"), truthClip = dir.path("truth.mp4")
            try DriftClips.write(clip, count: Self.frames, segment: 0, image: image) {
                DriftClips.Tint(drift: Double($0) / Double(Self.frames - 1), brightness: $0 >= step ? 1.25 : 1)
            }
            try DriftClips.write(truthClip, count: Self.frames, segment: 0, image: image) {
                DriftClips.Tint(brightness: $0 >= step ? 1.25 : 1)
            }
            let plan = try Self.plan(segments: 1)
            let region = tracked ? ColorRegion(x: 0.25, y: 0.15, width: 0.5, height: 0.6) : nil
            let result = try Self.stitch([clip], plan: plan, dir.path("matched.mp4"), region: region)
            #expect(result.colorMatch.first?.lightingChanges == [step], "\(result.colorMatch)")
            let matched = try DriftClips.stats(dir.path("matched.mp4")), truth = try DriftClips.stats(truthClip)
            let kept = matched[step].mean[0] - matched[step - 1].mean[0]
            let scripted = truth[step].mean[0] - truth[step - 1].mean[0]
            #expect(scripted > 5 && abs(kept - scripted) < 0.2 * scripted, "step \(kept) vs \(scripted)")
            for k in matched.indices {
                #expect(LabColor.deltaE2000(matched[k].mean, truth[k].mean) <= 2, "frame \(k)")
            }
        }

        /// A drifting clip a frame or two shorter than its segment (the stitch repeats its last
        /// frame) is measured to its last frame, wherever that falls between measured frames, and
        /// a brightness step among its last frames is found at its frame: every frame of the
        /// output within ΔE2000 2 of the untinted truth stitched the same way.
        @Test(arguments: zip([59, 59, 60], [nil, 57, 58]))
        func aShortClipIsMeasuredToItsLastFrame(count: Int, step: Int?) throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let image = try DriftClips.portrait()
            let clip = dir.path("short.mp4"), truthClip = dir.path("short-truth.mp4")
            func brightness(_ k: Int) -> Double { step.map { k >= $0 ? 1.25 : 1 } ?? 1 }
            try DriftClips.write(clip, count: count, segment: 0, image: image) {
                DriftClips.Tint(drift: Double($0) / Double(count - 1), brightness: brightness($0))
            }
            try DriftClips.write(truthClip, count: count, segment: 0, image: image) {
                DriftClips.Tint(brightness: brightness($0))
            }
            let plan = try Self.plan(segments: 1)
            let result = try Self.stitch([clip], plan: plan, dir.path("matched.mp4"))
            _ = try Self.stitch([truthClip], plan: plan, dir.path("truth.mp4"), match: false)
            #expect(result.totalFrames == Self.frames && result.colorMatch.first?.corrected == true, "\(result.colorMatch)")
            #expect(result.colorMatch.first?.lightingChanges == (step.map { [$0] } ?? []), "\(result.colorMatch)")
            let matched = try DriftClips.stats(dir.path("matched.mp4")), truth = try DriftClips.stats(dir.path("truth.mp4"))
            #expect(matched.count == Self.frames && truth.count == Self.frames)
            for k in matched.indices {
                #expect(LabColor.deltaE2000(matched[k].mean, truth[k].mean) <= 2, "frame \(k)")
            }
        }

        /// The same clips and reference make the same video.
        @Test func aRepeatedStitchMakesTheSameVideo() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let (clips, _) = try Self.driftingClips(dir, segments: 2)
            let plan = try Self.plan(segments: 2)
            let first = try Self.stitch(clips, plan: plan, dir.path("one.mp4"), transition: .morph)
            let second = try Self.stitch(clips, plan: plan, dir.path("two.mp4"), transition: .morph)
            #expect(first.colorMatch == second.colorMatch)
            #expect(try DriftClips.pixels(dir.path("one.mp4")) == DriftClips.pixels(dir.path("two.mp4")))
        }

        @Test func theStitchCommandTakesColorMatch() throws {
            // Without --reference the portraits must come from the plan (a multi-speaker plan's).
            let unnamed = try StitchCommand.parse([
                "--plan", "p.json", "--audio", "a.m4a", "-o", "o.mp4", "--color-match", "portrait",
            ])
            #expect(throws: (any Error).self) { try unnamed.references(for: try Self.plan(segments: 1)) }
            #expect(throws: (any Error).self) {
                try StitchCommand.parse(["--plan", "p.json", "--audio", "a.m4a", "-o", "o.mp4", "--reference", "r.jpg"])
            }
            let off = try StitchCommand.parse(["--plan", "p.json", "--audio", "a.m4a", "-o", "o.mp4", "c.mp4"])
            #expect(off.options.colorMatch == nil)
            let on = try StitchCommand.parse([
                "--plan", "p.json", "--audio", "a.m4a", "-o", "o.mp4", "--color-match", "portrait", "--reference", "r.jpg",
                "--transition", "morph", "c.mp4",
            ])
            #expect(on.options.colorMatch == StitchOptions.ColorMatch(references: ["r.jpg"]))
            #expect(on.options.transition == .morph)

            // End to end: the command prints each clip's figures.
            let dir = try TempDir()
            defer { dir.cleanup() }
            // A plan read from a file covers the whole audio: 202 frames.
            let (clips, _) = try Self.driftingClips(dir, segments: 2, frames: 101)
            let planFile = dir.path("plan.json")
            try Self.plan(segments: 2, frames: 101).jsonData().write(to: URL(fileURLWithPath: planFile))
            let run = try runProcess(
                infinistitchBinary,
                [
                    "stitch", "--plan", planFile, "--audio", Fixture.path("speech.m4a"), "-o", dir.path("out.mp4"),
                    "--preset", "ultrafast", "--color-match", "portrait", "--reference", Fixture.path("portrait.jpg"),
                ] + clips)
            let stdout = String(decoding: run.stdout, as: UTF8.self)
            #expect(run.status == 0, "\(String(decoding: run.stderr, as: UTF8.self))")
            #expect(stdout.contains("colour, segment 0: drift ΔE") && stdout.contains("colour, segment 1:"), "\(stdout)")
            #expect(stdout.contains("corrected by up to"), "\(stdout)")
        }
    }
}
