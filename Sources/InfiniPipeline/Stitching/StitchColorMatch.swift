import CFFmpeg
import Foundation

// Colour matching in the re-encode path: each clip is decoded once to measure its colours over
// time (only the statistics are kept: the region's and, around a face, its 4×4 cells', a few
// kilobytes a frame), its plan is made (``ColorMatchPlan``), and the frames are mapped as the
// clip is decoded again for the output, before any seam transition sees them.

extension StitchOptions {
    /// Colour matching of every clip against the portrait its request was made from (see
    /// ``ColorMatchPlan`` for how drift is told from content): a clip whose colours creep
    /// inside it (warmer, more saturated, darker) is pulled back to where it started, so the
    /// colours no longer jump at the seams where the next request starts from the portrait
    /// again. A clip that does not drift is left exactly as it is. It needs the re-encode path
    /// and composes with every transition; frames and sync are unchanged.
    public struct ColorMatch: Sendable, Equatable {
        /// The default drift (ΔE2000 on the smoothed mean colour) below which a clip is left as it is.
        public static let defaultThreshold = 1.0
        /// The thresholds accepted.
        public static let thresholdRange = 0.1...20.0

        /// The reference portrait of each clip (the fitted image its request was made from, or
        /// the portrait it was fitted from): one image for every clip, or one per plan segment
        /// in segment order (each speaker's own portrait in a multi-speaker plan).
        public var references: [String]
        /// Where to measure the colours, as fractions of the frame (e.g. the face the fit's
        /// anchor found); the whole frame when nil (followed as the picture moves, like any
        /// region). The correction applies to the whole frame.
        public var region: ColorRegion?
        /// Where to measure the colours of each reference's clips (the face each portrait's
        /// fit found, nil: ``region``): empty, or one per reference in the same order.
        public var regions: [ColorRegion?]
        /// The drift (ΔE2000 on the smoothed mean colour) below which a clip is left exactly as
        /// it is (``thresholdRange``).
        public var threshold: Double

        /// Colour matching against `references`.
        /// - Parameters:
        ///   - references: one portrait for every clip, or one per segment.
        ///   - region: where to measure the colours; the whole frame by default.
        ///   - threshold: the drift below which a clip is left as it is, ``defaultThreshold`` by default.
        ///   - regions: where to measure each reference's clips, one per reference; none by default.
        public init(
            references: [String], region: ColorRegion? = nil, threshold: Double = ColorMatch.defaultThreshold,
            regions: [ColorRegion?] = []
        ) {
            self.references = references
            self.region = region
            self.threshold = threshold
            self.regions = regions
        }

        /// The reference of the clip for segment `index`.
        func reference(segment index: Int) -> String {
            references.count == 1 ? references[0] : references[index]
        }

        /// Where to measure the clip for segment `index`.
        func region(segment index: Int) -> ColorRegion? {
            guard !regions.isEmpty else { return region }
            return (regions.count == 1 ? regions[0] : regions[index]) ?? region
        }

        /// Checks the values.
        /// - Throws: ``StitchError`` `.invalidOption` naming `colorMatch`.
        func validate() throws {
            guard !references.isEmpty, references.allSatisfy({ !$0.isEmpty }) else {
                throw StitchError.invalidOption("colorMatch", "needs a reference portrait")
            }
            guard Self.thresholdRange.contains(threshold) else {
                throw StitchError.invalidOption(
                    "colorMatch",
                    "threshold \(threshold) is outside \(Self.thresholdRange.lowerBound)…\(Self.thresholdRange.upperBound)")
            }
            for region in [region] + regions {
                if let region, !region.isValid {
                    throw StitchError.invalidOption("colorMatch", "the region is not a rectangle inside the frame")
                }
            }
            guard regions.isEmpty || regions.count == references.count else {
                throw StitchError.invalidOption(
                    "colorMatch", "\(regions.count) regions for \(references.count) references (give one per reference)")
            }
        }
    }
}

/// The colour match of one stitch, once its references are measured: the plan of each clip.
struct StitchColorMatch: Sendable {
    /// The statistics of each segment's reference portrait.
    let references: [LabStats]
    /// Where each segment's clip is measured.
    let regions: [ColorRegion]
    let threshold: Double

    /// Measures each distinct reference once: fitted to the clips' shape (as the model's input
    /// was), then its Lab statistics over the region.
    /// - Throws: ``StitchError`` `.invalidOption` when the references are neither one nor one
    ///   per segment; `MediaError` or `ImageFitError` naming an image that cannot be read.
    init(options: StitchOptions.ColorMatch, plan: Plan, width: Int, height: Int) throws {
        let count = plan.segments.count
        guard options.references.count == 1 || options.references.count == count else {
            throw StitchError.invalidOption(
                "colorMatch",
                "\(options.references.count) reference portraits for \(count) segments (give one, or one per segment)")
        }
        let fitter = ImageFitter(
            resolution: plan.resolution, aspect: ImageFitter.Aspect(width: Double(width), height: Double(height)))
        var fitted: [String: PixelBuffer] = [:]
        var references: [LabStats] = []
        var regions: [ColorRegion] = []
        for segment in 0..<count {
            let path = options.reference(segment: segment), region = options.region(segment: segment) ?? .whole
            if fitted[path] == nil { fitted[path] = try fitter.fit(path: path).pixels }
            let image = fitted[path]!
            references.append(try LabColor.stats(rgb: image.bytes, width: image.width, height: image.height, region: region))
            regions.append(region)
        }
        self.references = references
        self.regions = regions
        threshold = options.threshold
    }

    /// The frames from one measured frame to the next: every fourth frame is measured (and the
    /// last); a frame between two measured ones gets their statistics interpolated, which the
    /// one-second smoothing (a line fitted over 25 frames) cannot tell from its own.
    static let measuredEvery = 4

    /// The change of mean colour (ΔE2000) between two measured frames from which the frame
    /// halfway between them is measured too: a quarter of ``ColorMatchPlan/stepThreshold``, so
    /// a lighting change keeps the frame it happens at.
    static let refineThreshold = ColorMatchPlan.stepThreshold / 4

    /// The plan for `clip`: its first `frames` frames (the last one repeated when the clip is
    /// short, as the stitch pads it). Every frame is decoded, every ``measuredEvery``-th one
    /// measured (and the last), unless the colours of two measured frames differ by
    /// ``refineThreshold`` (a change of lighting may be between them): then the frame halfway
    /// between them is measured too, and so on down to the frame where it changes. A region
    /// follows the content as it moves (``RegionTracker``, from every ``measuredEvery``-th frame
    /// to the next; interpolated for a frame measured between them) and is measured cell by cell
    /// (``LabCells``), so that content moving through it (a zoom, a pan, a head turning, a
    /// caption the picture slides under) is not taken for drift; without one, the whole frame
    /// is followed so (the content of a clip that zooms and pans leaves the frame and enters it,
    /// which is not drift either). Frames of another format (10-bit, 4:2:2, 4:4:4) are measured as
    /// the stitch encodes them, converted to 8-bit YUV 4:2:0.
    /// - Throws: `MediaError` or ``ClipError`` when the clip cannot be decoded; ``VisionError``.
    func plan(clip: String, segment: Int, position: Int, frames: Int) throws -> ColorMatchPlan {
        // Measured without the deblocking filter: a fraction of the decoding's time, and no
        // change a colour statistic can see.
        let reader = try VideoReader(demuxer: Demuxer(path: clip), pixelFormat: .yuv420p, threads: 1, fast: true)
        // Each frame's statistics, cells and region: nil until measured.
        var stats: [LabStats?] = []
        var cells: [LabCells?] = []
        var places: [ColorRegion?] = []
        stats.reserveCapacity(frames)
        let region = regions[position]
        let tracker = try RegionTracker(region: region)
        let every = Self.measuredEvery
        var step = 1
        var frame = try Frame()
        // The frames after the last measured one (`held[k]`: the (k + 1)-th), kept until the
        // next measured frame shows whether they are to be measured as well.
        var held = try (1..<every).map { _ in try Frame() }
        var lastMeasured = 0
        /// Measures frame `index` over `place`, or where the tracker follows the region to.
        func measure(_ frame: Frame, at index: Int, place: ColorRegion? = nil) throws {
            let place = try place ?? tracker.track(frame)
            let measured = try LabCells(of: frame, region: place, step: step)
            (stats[index], cells[index], places[index]) = (measured.whole, measured, place)
        }
        /// Measures the held frame halfway between measured frames `a` and `b` when their colours
        /// differ by ``refineThreshold``, then each half so.
        func refine(_ a: Int, _ b: Int) throws {
            guard b - a >= 2, LabColor.deltaE2000(stats[a]!.mean, stats[b]!.mean) >= Self.refineThreshold else { return }
            let middle = (a + b) / 2
            let w = Double(middle - a) / Double(b - a)
            try measure(held[middle - lastMeasured - 1], at: middle, place: places[a]!.interpolated(to: places[b]!, by: w))
            try refine(a, middle)
            try refine(middle, b)
        }
        /// Measures (tracked) frame `index`, held or just decoded, and refines back to the last one measured.
        func measureTracked(_ frame: Frame, at index: Int) throws {
            try measure(frame, at: index)
            if index > 0 { try refine(lastMeasured, index) }
            for h in held { h.unref() }
            lastMeasured = index
        }
        while stats.count < frames, try reader.nextDecodedYUV420Frame(into: frame) {
            let index = stats.count
            if index % ModelLimits.fps == 0 { try BlockingWork.checkCancellation() }
            guard YUV420.isYUV420(frame) else {
                var plan = try ColorMatchPlan(frames: [], reference: nil)
                plan.report.segment = segment
                plan.report.note = "has frames the colour match cannot measure: left as it is"
                return plan
            }
            if index == 0 {
                let (width, height) = (Int(frame.pointer.pointee.width), Int(frame.pointer.pointee.height))
                step = LabColor.step(width: width, height: height, region: region)
            }
            stats.append(nil)
            cells.append(nil)
            places.append(nil)
            if index % every != 0 && index < frames - 1 {
                swap(&frame, &held[index - lastMeasured - 1])
                continue
            }
            try measureTracked(frame, at: index)
            frame.unref()
        }
        guard !stats.isEmpty else { throw ClipError(segment: segment, clip: clip, reason: "no frame decodes") }
        // A clip that ends on a frame between measured ones: that frame, its last, measured.
        let last = stats.count - 1
        if stats[last] == nil {
            try measureTracked(held[last - lastMeasured - 1], at: last)
        }
        // The frames between measured ones: their neighbours' statistics interpolated.
        var before = 0
        for t in stats.indices {
            guard stats[t] == nil else {
                before = t
                continue
            }
            var after = t + 1
            while stats[after] == nil { after += 1 }
            let w = Double(t - before) / Double(after - before)
            stats[t] = stats[before]!.interpolated(to: stats[after]!, by: w)
            cells[t] = cells[before]!.interpolated(to: cells[after]!, by: w)
        }
        var measured = stats.map { $0! }
        var measuredCells = cells.map { $0! }
        while measured.count < frames {
            measured.append(measured[measured.count - 1])
            measuredCells.append(measuredCells[measuredCells.count - 1])
        }
        var plan = try ColorMatchPlan(
            frames: measured, cells: measuredCells, reference: references[position], threshold: threshold)
        plan.report.segment = segment
        return plan
    }
}

/// The reports of a stitch's clips, written by the decoding thread and read once it is done.
/// A live stretch also gives the plans it already has (its primed clip's, made by the stretch
/// before) and keeps the ones it makes.
final class ColorMatchReports: @unchecked Sendable {
    private let lock = NSLock()
    private var reports: [ColorMatchReport] = []
    private var plans: [Int: ColorMatchPlan]
    private let keepsPlans: Bool

    /// Reports, with the plans already made (by segment), keeping those made when `keepsPlans`.
    init(known: [Int: ColorMatchPlan] = [:], keepsPlans: Bool = false) {
        plans = known
        self.keepsPlans = keepsPlans
    }

    func append(_ report: ColorMatchReport) {
        lock.lock()
        reports.append(report)
        lock.unlock()
    }

    /// Records a clip's plan: its report when `counted`, the plan itself when plans are kept.
    func record(_ plan: ColorMatchPlan, counted: Bool) {
        lock.lock()
        if counted { reports.append(plan.report) }
        if keepsPlans { plans[plan.report.segment] = plan }
        lock.unlock()
    }

    /// The plan of segment `segment`'s clip, when it is known.
    func plan(segment: Int) -> ColorMatchPlan? {
        lock.lock()
        defer { lock.unlock() }
        return plans[segment]
    }

    var all: [ColorMatchReport] {
        lock.lock()
        defer { lock.unlock() }
        return reports
    }
}

/// The colour plan of one clip, made on a thread of its own (with a cancellation flag of its
/// own, set by ``abandon()``), while the thread that asked for it does other work.
///
/// `@unchecked Sendable`: `outcome` is written once by the planning thread before it signals
/// `done`, and read only after waiting for `done`.
final class ColorPlanAhead: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let flag = BlockingWork.Flag()
    private var outcome: Result<ColorMatchPlan, any Error>? = nil
    private var finished = false

    /// A plan made already.
    init(ready plan: ColorMatchPlan) {
        outcome = .success(plan)
        done.signal()
    }

    init(match: StitchColorMatch, clip: String, segment: Int, position: Int, frames: Int) {
        Thread.detachNewThread { [self] in
            let result = Result {
                try BlockingWork.run(with: flag) {
                    try match.plan(clip: clip, segment: segment, position: position, frames: frames)
                }
            }
            outcome = result
            done.signal()
        }
    }

    /// Waits for the plan.
    /// - Throws: what making it threw.
    func plan() throws -> ColorMatchPlan {
        if !finished {
            done.wait()
            finished = true
        }
        return try outcome!.get()
    }

    /// Stops the planning at its next frame and waits for its thread to end.
    func abandon() {
        guard !finished else { return }
        flag.set()
        done.wait()
        finished = true
    }
}
