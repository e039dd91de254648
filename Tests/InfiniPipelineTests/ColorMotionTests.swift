import CFFmpeg
import Foundation
import Testing

@testable import InfiniPipeline

/// Clips that move (zoom, pan, captions over the picture): what the colour match measures of
/// them follows the content, and only a change of colour shared by the region counts as drift.
enum MovingClips {
    /// Where the pipeline measures the portrait's clips: around the face its fit finds.
    static func faceRegion() throws -> ColorRegion {
        RunInputs.aroundFace(try face())
    }

    /// The face the portrait's fit finds.
    static func face() throws -> ColorRegion {
        let fitted = try ImageFitter(resolution: .p480).fit(path: Fixture.path("portrait.jpg"))
        return try #require(fitted.faceRegion)
    }

    /// `region` (fractions of the portrait) as frame `k` of a `count`-frame ``DriftClips`` clip
    /// of segment `segment` shows it: the preview's zoom about the centre moved by its pan.
    static func moved(_ region: ColorRegion, frame k: Int, count: Int, segment: Int) -> ColorRegion {
        let motion = PreviewRenderer.drift(frame: k * 720 / max(1, count - 1), segmentIndex: segment)
        return ColorRegion(
            x: 0.5 + (region.x - 0.5 - motion.panX) * motion.zoom, y: 0.5 + (region.y - 0.5 - motion.panY) * motion.zoom,
            width: region.width * motion.zoom, height: region.height * motion.zoom)
    }

    /// The regions a tracker gives for every frame of `clip`.
    static func tracked(_ clip: String, region: ColorRegion) throws -> [ColorRegion] {
        let tracker = try RegionTracker(region: region)
        let reader = try VideoReader(demuxer: Demuxer(path: clip), pixelFormat: .yuv420p, threads: 1)
        let frame = try Frame()
        var regions: [ColorRegion] = []
        while try reader.nextDecodedFrame(into: frame) {
            regions.append(try tracker.track(frame))
            frame.unref()
        }
        return regions
    }

    /// The three planes of a decoded 8-bit YUV 4:2:0 frame, tightly packed, one after another.
    static func planes(of frame: Frame) -> [UInt8] {
        let f = frame.pointer.pointee
        let width = Int(f.width), height = Int(f.height)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(width * height * 3 / 2)
        let data = [f.data.0, f.data.1, f.data.2], strides = [f.linesize.0, f.linesize.1, f.linesize.2]
        for plane in 0..<3 {
            let w = plane == 0 ? width : (width + 1) / 2, h = plane == 0 ? height : (height + 1) / 2
            for y in 0..<h {
                let row = data[plane]! + y * Int(strides[plane])
                bytes.append(contentsOf: UnsafeBufferPointer(start: row, count: w))
            }
        }
        return bytes
    }

    /// Compares two videos frame by frame without holding them whole: the frame counts, and for
    /// each frame the PSNR of all planes and the ΔE2000 between the mean colours (every second
    /// chroma sample).
    static func compare(_ a: String, _ b: String) throws -> (frames: [Int], psnr: [Double], deltaE: [Double]) {
        let readers = try [a, b].map { try VideoReader(demuxer: Demuxer(path: $0), pixelFormat: .yuv420p, threads: 1) }
        let frames = try [Frame(), Frame()]
        var counts = [0, 0], psnrs: [Double] = [], deltas: [Double] = []
        while true {
            let more = try (0..<2).map { try readers[$0].nextDecodedFrame(into: frames[$0]) }
            for i in 0..<2 where more[i] { counts[i] += 1 }
            guard more[0] && more[1] else {
                // Count what is left of the longer one.
                for i in 0..<2 where more[i] { while try readers[i].nextDecodedFrame(into: frames[i]) { counts[i] += 1 } }
                break
            }
            psnrs.append(psnr(planes(of: frames[0]), planes(of: frames[1])))
            let sa = try LabColor.stats(of: frames[0]), sb = try LabColor.stats(of: frames[1])
            deltas.append(LabColor.deltaE2000(sa.mean, sb.mean))
            for frame in frames { frame.unref() }
        }
        return (counts, psnrs, deltas)
    }
}

@Suite("Colour match: following the content", .ownThreads)
struct ColorMotionTests {
    /// On a clip that zooms and pans as the preview's do (12 times as fast) and drifts in colour
    /// (a warm cast of ΔE ≈ 10 and saturation up 40 %), the tracked region stays on the content
    /// it started on: its centre within 0.4 % of the frame and its size within 1 % of where the
    /// zoom and pan put them, every frame; the same clip gives the same regions.
    @Test(arguments: [1, 2])
    func theRegionFollowsAZoomAndPan(_ segment: Int) throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let count = 61, face = try MovingClips.faceRegion()
        let clip = dir.path("moving.mp4")
        try DriftClips.write(clip, count: count, segment: segment, image: DriftClips.portrait()) {
            DriftClips.Tint(drift: Double($0) / Double(count - 1))
        }
        let regions = try MovingClips.tracked(clip, region: face)
        #expect(regions.count == count)
        var worst = (centre: 0.0, size: 0.0)
        for (k, region) in regions.enumerated() {
            let truth = MovingClips.moved(face, frame: k, count: count, segment: segment)
            let dx = (region.x + region.width / 2) - (truth.x + truth.width / 2)
            let dy = (region.y + region.height / 2) - (truth.y + truth.height / 2)
            worst.centre = max(worst.centre, (dx * dx + dy * dy).squareRoot())
            worst.size = max(worst.size, abs(region.width / truth.width - 1), abs(region.height / truth.height - 1))
        }
        // The content moves by far more than the tolerance over the clip.
        let last = MovingClips.moved(face, frame: count - 1, count: count, segment: segment)
        #expect(abs(last.x - face.x) + abs(last.y - face.y) > 0.02 && last.width / face.width > 1.07)
        #expect(worst.centre <= 0.004 && worst.size <= 0.01, "segment \(segment): \(worst)")
        if ProcessInfo.processInfo.environment["COLOR_FIGURES"] == "1" {
            print("tracking segment \(segment): \(worst), \(regions.last!)")
        }
        #expect(try MovingClips.tracked(clip, region: face) == regions)
    }

    /// A flat picture has nothing to track: the region stays where it was.
    @Test func aFlatClipKeepsItsRegion() throws {
        let region = ColorRegion(x: 0.2, y: 0.1, width: 0.5, height: 0.6)
        let regions = try MovingClips.tracked(Fixture.path("clip-a.mp4"), region: region)
        #expect(regions.count == 41)
        for moved in regions {
            #expect(abs(moved.x - region.x) + abs(moved.y - region.y) < 1e-9, "\(moved)")
            #expect(abs(moved.width - region.width) + abs(moved.height - region.height) < 1e-9, "\(moved)")
        }
    }

    /// The cells of a region add up to its statistics as `LabColor.stats` measures them.
    @Test func theCellsAddUpToTheRegion() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let clip = dir.path("still.mp4")
        try DriftClips.write(clip, count: 1, segment: 0, image: DriftClips.portrait())
        let reader = try VideoReader(demuxer: Demuxer(path: clip), pixelFormat: .yuv420p, threads: 1)
        let frame = try Frame()
        #expect(try reader.nextDecodedFrame(into: frame))
        for region in [try MovingClips.faceRegion(), ColorRegion.whole] {
            let cells = try LabCells(of: frame, region: region, step: 2)
            let stats = try LabColor.stats(of: frame, region: region, step: 2)
            for c in 0..<3 { #expect(abs(cells.whole.mean[c] - stats.mean[c]) < 1e-6) }
            for c in 0..<9 { #expect(abs(cells.whole.covariance[c] - stats.covariance[c]) < 1e-6) }
            #expect(cells.means.count == 16 && abs(cells.weights.reduce(0, +) - 1) < 1e-9)
            #expect(cells.means.allSatisfy { $0 != nil })
        }
        // A region reaching past the frame's edge: its cells outside have no samples.
        let outside = try LabCells(of: frame, region: ColorRegion(x: -0.5, y: 0.2, width: 0.8, height: 0.5), step: 2)
        #expect(outside.means[0] == nil && outside.means[3] != nil)
    }

    /// Cells whose own mean colour moves by `moving(t)` (Lab units of b, warmer) where `moves`
    /// says so, the others steady; every cell of equal weight.
    static func cells(_ count: Int, moves: (Int) -> Bool, by moving: (Int) -> Double) -> [LabCells] {
        let base: [[Double]] = (0..<16).map { (c: Int) -> [Double] in
            let x = Double(c)
            let a: Double = 10 + Double(c % 4), b: Double = 15 - Double(c / 4)
            return [40 + x, a, b]
        }
        let covariance: [Double] = [200, 10, 5, 10, 50, 3, 5, 3, 60]
        return (0..<count).map { t in
            var means: [[Double]] = base
            for c in 0..<16 where moves(c) { means[c][2] += moving(t) }
            var whole = [0.0, 0.0, 0.0]
            for mean in means { for i in 0..<3 { whole[i] += mean[i] / 16 } }
            return LabCells(
                whole: LabStats(mean: whole, covariance: covariance),
                cells: means.map { LabStats(mean: $0, covariance: covariance) },
                weights: [Double](repeating: 1.0 / 16, count: 16))
        }
    }

    /// A lasting change in a quarter of the region (content, or a caption the picture slides
    /// under) is no drift; the same change in every cell is.
    @Test func onlyAChangeSharedByTheRegionIsDrift() throws {
        let count = 200
        let topRow = Self.cells(count, moves: { $0 < 4 }, by: { 16 * Double($0) / Double(count - 1) })
        let frames = topRow.map(\.whole)
        // Measured on the whole region alone, the change is a drift of ΔE > 2 …
        let wholeOnly = try ColorMatchPlan(frames: frames, reference: frames[0])
        #expect(wholeOnly.report.corrected && wholeOnly.report.largestDrift > 2, "\(wholeOnly.report)")
        // … but three quarters of the region did not change: left exactly as it is.
        let byCells = try ColorMatchPlan(frames: frames, cells: topRow, reference: frames[0])
        #expect(!byCells.report.corrected && byCells.maps.allSatisfy { $0 == nil }, "\(byCells.report)")
        #expect(byCells.report.largestDrift < 0.01)

        let everywhere = Self.cells(count, moves: { _ in true }, by: { 12 * Double($0) / Double(count - 1) })
        let drifting = try ColorMatchPlan(
            frames: everywhere.map(\.whole), cells: everywhere, reference: everywhere[0].whole)
        #expect(drifting.report.corrected && drifting.report.largestDrift > 5, "\(drifting.report)")
        #expect(drifting.report.largestResidual < 1, "\(drifting.report)")
        #expect(
            try ColorMatchPlan(frames: everywhere.map(\.whole), cells: everywhere, reference: everywhere[0].whole) == drifting)
    }
}

extension Serial {
    @Suite("Colour match on moving clips", .timeLimit(.minutes(6)))
    struct ColorMotionStitchTests {
        /// Writes a clip of `count` frames as the preview renders segment `segment` (the zoom and
        /// pan of a whole 721-frame clip over `count` frames; with `captions`, the preview's
        /// captions and level meter too), frame k tinted by `tint(k)`.
        static func writePreviewLike(
            _ path: String, segment: Plan.Segment, segments: Int, count: Int, image: PixelBuffer, captions: Bool,
            tint: (Int) -> DriftClips.Tint
        ) throws {
            let renderer = PreviewRenderer(image: image)
            let writer = try MP4Writer(
                path: path,
                video: VideoEncoderSettings(
                    width: image.width, height: image.height, frameRate: 25, crf: 14, preset: "ultrafast"),
                audio: nil)
            var frame = image
            for k in 0..<count where !captions {
                let motion = PreviewRenderer.drift(frame: k * 720 / max(1, count - 1), segmentIndex: segment.index)
                try PreviewRenderer.warp(image, zoom: motion.zoom, panX: motion.panX, panY: motion.panY, into: &frame)
                let tinted = DriftClips.tinted(frame, tint(k))
                try writer.append(video: VideoFrame(width: tinted.width, height: tinted.height, rgb24: tinted.bytes))
            }
            for k in 0..<count where captions {
                // A level that rises and falls as speech does.
                let level = 0.5 + 0.4 * sin(Double(k) * 0.7)
                try renderer.render(
                    frame: k * 720 / max(1, count - 1), of: segment, segmentCount: segments, speaker: nil, level: level,
                    into: &frame)
                let tinted = DriftClips.tinted(frame, tint(k))
                try writer.append(video: VideoFrame(width: tinted.width, height: tinted.height, rgb24: tinted.bytes))
            }
            try writer.finish()
        }

        /// Clips that zoom and pan as the preview's do (12 times as fast), with or without its
        /// captions and level meter, AND drift in colour (saturation up 40 % and a warm cast of
        /// ΔE ≈ 10 by each clip's end), measured around the face as the pipeline measures them:
        /// corrected, every frame's mean colour within ΔE2000 2 of the same clips untinted where
        /// the face is (and, without captions, around it); the untinted clips, which move just as
        /// much, are left exactly as they are.
        @Test(arguments: [false, true])
        func clipsThatMoveAndDriftAreCorrected(_ captions: Bool) throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let count = 61, face = try MovingClips.faceRegion()
            let plan = try ColorMatchStitchTests.plan(segments: 2, frames: count)
            let image = try DriftClips.portrait()
            var drifting: [String] = [], truth: [String] = []
            for segment in plan.segments {
                let d = dir.path("drift\(segment.index).mp4"), t = dir.path("truth\(segment.index).mp4")
                try Self.writePreviewLike(
                    d, segment: segment, segments: 2, count: count, image: image, captions: captions
                ) {
                    DriftClips.Tint(drift: Double($0) / Double(count - 1))
                }
                try Self.writePreviewLike(
                    t, segment: segment, segments: 2, count: count, image: image, captions: captions
                ) { _ in
                    DriftClips.Tint()
                }
                drifting.append(d)
                truth.append(t)
            }
            let result = try ColorMatchStitchTests.stitch(drifting, plan: plan, dir.path("matched.mp4"), region: face)
            _ = try ColorMatchStitchTests.stitch(truth, plan: plan, dir.path("truth.mp4"), match: false)
            if ProcessInfo.processInfo.environment["COLOR_FIGURES"] == "1" { print("moving and drifting: \(result.colorMatch)") }
            for report in result.colorMatch {
                #expect(report.corrected && report.largestDrift > 7 && report.largestResidual < 1, "\(report)")
            }
            // Measured where the face is in each frame (the zoom and pan of it), and around it
            // (where the captions, tinted and corrected with the rest, are part of what is measured).
            for measured in captions ? [try MovingClips.face()] : [try MovingClips.face(), face] {
                let regions = plan.segments.flatMap { segment in
                    (0..<count).map { MovingClips.moved(measured, frame: $0, count: count, segment: segment.index) }
                }
                let matched = try Self.stats(dir.path("matched.mp4"), regions: regions)
                let untinted = try Self.stats(dir.path("truth.mp4"), regions: regions)
                #expect(matched.count == plan.totalFrames && untinted.count == matched.count)
                let deltas = zip(matched, untinted).map { LabColor.deltaE2000($0.0.mean, $0.1.mean) }
                if ProcessInfo.processInfo.environment["COLOR_FIGURES"] == "1" {
                    print("moving and drifting over \(measured): \(deltas.map { String(format: "%.2f", $0) })")
                }
                #expect(deltas.allSatisfy { $0 <= 2 }, "captions \(captions), \(measured): worst ΔE \(deltas.max() ?? 0)")
            }

            // The untinted clips move just as much, and are left exactly as they are.
            let steady = try ColorMatchStitchTests.stitch(truth, plan: plan, dir.path("steady.mp4"), region: face)
            #expect(steady.colorMatch.allSatisfy { !$0.corrected && $0.largestDrift < 0.5 }, "\(steady.colorMatch)")
            let same = try MovingClips.compare(dir.path("steady.mp4"), dir.path("truth.mp4"))
            #expect(same.frames == [plan.totalFrames, plan.totalFrames] && same.psnr.allSatisfy { $0 == .infinity })
        }

        /// The statistics of a video's frame k over `regions[k]`.
        static func stats(_ path: String, regions: [ColorRegion]) throws -> [LabStats] {
            let reader = try VideoReader(demuxer: Demuxer(path: path), pixelFormat: .yuv420p, threads: 1)
            let frame = try Frame()
            var all: [LabStats] = []
            while all.count < regions.count, try reader.nextDecodedFrame(into: frame) {
                all.append(try LabColor.stats(of: frame, region: regions[all.count]))
                frame.unref()
            }
            return all
        }

        /// The README's offline preview job (speech-long.mp3: three clips of 541 to 649 frames,
        /// each zooming and panning from the portrait, with the captions and the level meter):
        /// with the colour match on (the default), every clip is measured as not drifting and
        /// left exactly as it was, so every frame is the one the run with `--color-match off`
        /// makes (PSNR ≥ 45 dB and mean ΔE ≤ 0.5 asked; equal found).
        @Test func theReadmePreviewJobIsLeftAsItWas() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            var o = ColorMatchPipelineTests.options(dir, audio: "speech-long.mp3")
            o.output = dir.path("matched.mp4")
            #expect(o.colorMatch == .portrait)
            let matched = try await Pipeline(options: o).run()
            let reports = try #require(matched.colorMatch)
            if ProcessInfo.processInfo.environment["COLOR_FIGURES"] == "1" { print("README preview job: \(reports)") }
            #expect(matched.segments >= 2 && reports.count == matched.segments)
            for report in reports {
                #expect(!report.corrected && report.largestDrift < ColorMatchPlan.defaultThreshold, "\(report)")
            }
            o.colorMatch = .off
            o.output = dir.path("plain.mp4")
            let plain = try await Pipeline(options: o).run()
            #expect(plain.colorMatch == nil && plain.reusedSegments == plain.segments)
            let compared = try MovingClips.compare(dir.path("matched.mp4"), dir.path("plain.mp4"))
            #expect(compared.frames == [matched.frames, matched.frames])
            #expect(compared.psnr.allSatisfy { $0 >= 45 }, "least PSNR \(compared.psnr.min() ?? 0)")
            #expect(compared.deltaE.allSatisfy { $0 <= 0.5 }, "largest ΔE \(compared.deltaE.max() ?? 0)")
        }
    }
}
