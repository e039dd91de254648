import Foundation

/// Keeps the run's progress (phases, frames done, money committed, the generation rate) and
/// makes the snapshot every segment event carries. Safe from any task.
final class ProgressTracker: @unchecked Sendable {
    private let lock = NSLock()
    private let plan: Plan
    private let pricePerSecond: Double
    private let started: Date
    private var phases: [Int: SegmentPhase] = [:]
    private var committedFrames = 0
    /// Requested frames committed per speaker (multi-speaker runs).
    private var committedBySpeaker: [String: Int] = [:]
    private var generationStarted: Date?
    private var framesMade = 0

    /// - Parameter billed: false for backends that cost nothing (the preview).
    init(plan: Plan, billed: Bool, started: Date) {
        self.plan = plan
        self.pricePerSecond = billed ? plan.pricePerSecond : 0
        self.started = started
    }

    /// Frames submitted (and so paid for) by this run, less those cancelled while queued.
    var paidFrames: Int { lock.withLock { committedFrames } }

    /// The generation starts now (the estimate of the remaining time counts from here).
    func generationBegins() { lock.withLock { generationStarted = Date() } }

    /// Records a segment's new phase and returns the run's progress after it.
    func record(_ index: Int, _ phase: SegmentPhase) -> RunProgress {
        lock.withLock {
            let frames = plan.segments[index].frameCount, requested = plan.segments[index].numFrames
            let previous = phases[index]
            switch phase {
            case .submitted:
                committedFrames += requested
                if let speaker = plan.segments[index].speaker { committedBySpeaker[speaker, default: 0] += requested }
            case .cancelled:
                committedFrames -= requested
                if let speaker = plan.segments[index].speaker { committedBySpeaker[speaker, default: 0] -= requested }
            case .done(.generated, _) where !(previous?.isFinished ?? false): framesMade += frames
            default: break
            }
            phases[index] = phase
            return snapshot()
        }
    }

    /// The run's progress now.
    func progress() -> RunProgress { lock.withLock { snapshot() } }

    /// Per speaker (multi-speaker plans): frames done and on screen, planned, and committed cost.
    func speakerTotals() -> [SpeakerTotals]? {
        lock.withLock { speakers(done: phases.filter { $0.value.isFinished }.map(\.key)) }
    }

    private func speakers(done: [Int]) -> [SpeakerTotals]? {
        guard let speakers = plan.speakers else { return nil }
        let finished = Set(done)
        return speakers.map { speaker in
            let mine = plan.segments.filter { $0.speaker == speaker.name }
            let planned = mine.reduce(0) { $0 + $1.numFrames }
            return SpeakerTotals(
                name: speaker.name,
                framesDone: mine.filter { finished.contains($0.index) }.reduce(0) { $0 + $1.frameCount },
                framesTotal: mine.reduce(0) { $0 + $1.frameCount }, plannedFrames: planned,
                estimatedCost: Plan.cost(paidFrames: planned, pricePerSecond: plan.pricePerSecond),
                cost: Plan.cost(paidFrames: committedBySpeaker[speaker.name] ?? 0, pricePerSecond: pricePerSecond))
        }
    }

    private func snapshot() -> RunProgress {
        let done = phases.filter { $0.value.isFinished }.map(\.key)
        let framesDone = done.reduce(0) { $0 + plan.segments[$1].frameCount }
        let now = Date()
        var remaining: Double?
        if let generationStarted, framesMade > 0 {
            let rate = Double(framesMade) / max(now.timeIntervalSince(generationStarted), 0.001)
            remaining = Double(max(0, plan.totalFrames - framesDone)) / rate
        }
        return RunProgress(
            segmentsDone: done.count, segmentsTotal: plan.segments.count, framesDone: framesDone,
            framesTotal: plan.totalFrames,
            committedCost: Plan.cost(paidFrames: committedFrames, pricePerSecond: pricePerSecond),
            elapsedSeconds: now.timeIntervalSince(started), estimatedRemainingSeconds: remaining,
            speakers: speakers(done: done))
    }
}
