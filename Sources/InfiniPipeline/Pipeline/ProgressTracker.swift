import Foundation
import NIOConcurrencyHelpers

/// Keeps the run's progress (phases, frames done, money committed, the generation rate) and
/// makes the snapshot every segment event carries. Safe from any task.
final class ProgressTracker: Sendable {
    private let plan: Plan
    private let pricePerSecond: Double
    private let started: Date
    /// The segments the run makes, and the frames they keep: the whole plan, or a sample's.
    private let total: (segments: Int, frames: Int)
    private let state = NIOLockedValueBox(State())
    /// Where ``report(_:_:)`` sends segment events.
    private let deliver: @Sendable (SegmentEvent) -> Void

    /// What changes as the run goes on.
    private struct State {
        var phases: [Int: SegmentPhase] = [:]
        var committedFrames = 0
        /// Requested frames committed per speaker (multi-speaker runs).
        var committedBySpeaker: [String: Int] = [:]
        var generationStarted: Date?
        var framesMade = 0
    }

    /// - Parameters:
    ///   - billed: false for backends that cost nothing (the preview).
    ///   - scope: the segments this run makes (a sample's); all of the plan's when nil.
    ///   - deliver: where ``report(_:_:)`` sends each segment event. It is called with the
    ///     tracker's lock held, so it must not block or call back into the tracker (yielding to
    ///     an `AsyncStream` never blocks).
    init(
        plan: Plan, billed: Bool, started: Date, scope: [Int]? = nil,
        deliver: @escaping @Sendable (SegmentEvent) -> Void = { _ in }
    ) {
        self.plan = plan
        total =
            scope.map { ($0.count, $0.reduce(0) { $0 + plan.segments[$1].frameCount }) } ?? (
                plan.segments.count, plan.totalFrames
            )
        self.pricePerSecond = billed ? plan.pricePerSecond : 0
        self.started = started
        self.deliver = deliver
    }

    /// Frames submitted (and so paid for) by this run, less those cancelled while queued.
    var paidFrames: Int { state.withLockedValue { $0.committedFrames } }

    /// The generation starts now (the estimate of the remaining time counts from here).
    func generationBegins() { state.withLockedValue { $0.generationStarted = Date() } }

    /// Records a segment's new phase and delivers its event, carrying the run's progress after it.
    ///
    /// Events are delivered in the order their phases are recorded (the delivery happens before
    /// the lock is released), so each event's progress follows the one before it.
    func report(_ index: Int, _ phase: SegmentPhase, providerState: ProviderState? = nil) {
        state.withLockedValue { state in
            let progress = record(index, phase, in: &state)
            deliver(
                SegmentEvent(
                    index: index, speaker: plan.segments[index].speaker, phase: phase, progress: progress,
                    providerState: providerState))
        }
    }

    /// Records a segment's new phase and returns the run's progress after it.
    private func record(_ index: Int, _ phase: SegmentPhase, in state: inout State) -> RunProgress {
        // What a submit commits: the frames the provider bills for the request.
        let frames = plan.segments[index].frameCount
        let requested = plan.providerRules.billing.billedFrames(plan.segments[index].numFrames)
        let previous = state.phases[index]
        switch phase {
        case .submitted:
            state.committedFrames += requested
            if let speaker = plan.segments[index].speaker { state.committedBySpeaker[speaker, default: 0] += requested }
        case .cancelled:
            state.committedFrames -= requested
            if let speaker = plan.segments[index].speaker { state.committedBySpeaker[speaker, default: 0] -= requested }
        case .done(.generated, _) where !(previous?.isFinished ?? false): state.framesMade += frames
        default: break
        }
        state.phases[index] = phase
        return snapshot(state)
    }

    /// The run's progress now.
    func progress() -> RunProgress { state.withLockedValue { snapshot($0) } }

    /// Per speaker (multi-speaker plans): frames done and on screen, planned, and committed cost.
    func speakerTotals() -> [SpeakerTotals]? {
        state.withLockedValue { speakers(done: $0.phases.filter { $0.value.isFinished }.map(\.key), $0) }
    }

    private func speakers(done: [Int], _ state: State) -> [SpeakerTotals]? {
        guard let speakers = plan.speakers else { return nil }
        let finished = Set(done)
        return speakers.map { speaker in
            let mine = plan.segments.filter { $0.speaker == speaker.name }
            let planned = mine.reduce(0) { $0 + plan.providerRules.billing.billedFrames($1.numFrames) }
            return SpeakerTotals(
                name: speaker.name,
                framesDone: mine.filter { finished.contains($0.index) }.reduce(0) { $0 + $1.frameCount },
                framesTotal: mine.reduce(0) { $0 + $1.frameCount }, plannedFrames: planned,
                estimatedCost: Plan.cost(paidFrames: planned, pricePerSecond: plan.pricePerSecond),
                cost: Plan.cost(paidFrames: state.committedBySpeaker[speaker.name] ?? 0, pricePerSecond: pricePerSecond))
        }
    }

    private func snapshot(_ state: State) -> RunProgress {
        let done = state.phases.filter { $0.value.isFinished }.map(\.key)
        let framesDone = done.reduce(0) { $0 + plan.segments[$1].frameCount }
        let now = Date()
        var remaining: Double?
        if let generationStarted = state.generationStarted, state.framesMade > 0 {
            let rate = Double(state.framesMade) / max(now.timeIntervalSince(generationStarted), 0.001)
            remaining = Double(max(0, total.frames - framesDone)) / rate
        }
        return RunProgress(
            segmentsDone: done.count, segmentsTotal: total.segments, framesDone: framesDone,
            framesTotal: total.frames,
            committedCost: Plan.cost(paidFrames: state.committedFrames, pricePerSecond: pricePerSecond),
            elapsedSeconds: now.timeIntervalSince(started), estimatedRemainingSeconds: remaining,
            speakers: speakers(done: done, state))
    }
}
