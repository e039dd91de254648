import Foundation

/// What a re-encoding live stream does to its frames besides the seams' transitions, as the
/// whole stitch would: the colour match (each clip against its portrait) and burned captions.
///
/// The portraits are measured and the captions' script written once, at the first stretch
/// (they need the clips' size). Each stretch leaves the colour plan of its own clip to the next
/// one (whose first clip it is), so a clip is measured once; the reports are kept by segment,
/// for the summary, as the whole stitch gives them. Used by one publication at a time; the
/// lock only keeps the state whole.
final class LiveLooks: @unchecked Sendable {
    /// The colour match of the stitch, nil when it is off.
    let colorMatch: StitchOptions.ColorMatch?
    /// The captions drawn into the picture, nil when none are.
    let burnedCaptions: StitchOptions.BurnedCaptions?
    /// Where the captions' ASS script is written (in the work dir).
    let scriptPath: String

    private let lock = NSLock()
    private var measured: (width: Int, height: Int, match: StitchColorMatch)? = nil
    private var script: (width: Int, height: Int)? = nil
    /// The plan of the last stretch's own clip.
    private var lastPlan: ColorMatchPlan? = nil
    private var reports: [Int: ColorMatchReport] = [:]

    init(colorMatch: StitchOptions.ColorMatch?, burnedCaptions: StitchOptions.BurnedCaptions?, scriptPath: String) {
        self.colorMatch = colorMatch
        self.burnedCaptions = burnedCaptions
        self.scriptPath = scriptPath
    }

    /// Whether the frames are changed at all.
    var changesFrames: Bool { colorMatch != nil || burnedCaptions != nil }

    /// The measured colour match for clips of `width`×`height`, nil when it is off.
    /// - Throws: what measuring the portraits throws.
    func match(plan: Plan, width: Int, height: Int) throws -> StitchColorMatch? {
        guard let colorMatch else { return nil }
        lock.lock()
        defer { lock.unlock() }
        if let measured, measured.width == width, measured.height == height { return measured.match }
        let match = try StitchColorMatch(options: colorMatch, plan: plan, width: width, height: height)
        measured = (width, height, match)
        return match
    }

    /// The path of the captions' script for `width`×`height` frames (written when needed), nil
    /// without burned captions.
    /// - Throws: ``CaptionBurnError`` or `MediaError` when the script cannot be made or written.
    func captionScript(width: Int, height: Int) throws -> String? {
        guard let burnedCaptions else { return nil }
        lock.lock()
        defer { lock.unlock() }
        if let script, script.width == width, script.height == height,
            FileManager.default.fileExists(atPath: scriptPath)
        {
            return scriptPath
        }
        let text = try CaptionScript.make(burnedCaptions, width: width, height: height)
        try AtomicFile.write(Data(text.utf8), to: scriptPath)
        script = (width, height)
        return scriptPath
    }

    /// The reports of stretch `index`, whose first clip is `first`: the plan of `first` given
    /// when the stretch before made it.
    func reports(stretch index: Int, first: Int) -> ColorMatchReports {
        lock.lock()
        defer { lock.unlock() }
        let known = lastPlan.flatMap { $0.report.segment == first ? [first: $0] : nil } ?? [:]
        return ColorMatchReports(known: known, keepsPlans: true)
    }

    /// Keeps what stretch `index` found: its clip's report and plan.
    func record(_ found: ColorMatchReports, stretch index: Int) {
        lock.lock()
        defer { lock.unlock() }
        for report in found.all where report.segment == index { reports[index] = report }
        lastPlan = found.plan(segment: index)
    }

    /// The reports kept, by segment.
    var kept: [Int: ColorMatchReport] {
        lock.lock()
        defer { lock.unlock() }
        return reports
    }
}
