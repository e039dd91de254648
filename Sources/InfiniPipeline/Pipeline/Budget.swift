import Foundation
import NIOConcurrencyHelpers

/// The money a job has committed, across all its runs, and the cap it may not cross.
///
/// Every submit may be billed, by the provider's billing rule, whatever comes of it: a failed
/// generation, a submit without an answer (recorded as unknown) and a request sent by an earlier
/// run all count. A submit is sent only after ``reserve(_:)`` found room for it under the cap.
/// Safe from any task.
final class Budget: Sendable {
    private let plan: Plan
    private let cap: Double?
    private let committed: NIOLockedValueBox<Int>

    /// - Parameters:
    ///   - manifest: the job's manifest as this run starts (what earlier runs committed).
    ///   - cap: the most the job may commit, in US dollars; nil for no cap.
    ///   - billed: false for a backend that costs nothing (the preview): nothing is counted.
    init(plan: Plan, manifest: Manifest, cap: Double?, billed: Bool) {
        self.plan = plan
        self.cap = billed ? cap : nil
        committed = NIOLockedValueBox(billed ? Self.committedFrames(plan: plan, segments: manifest.segments) : 0)
    }

    /// The frames a submit of segment `index` is billed for.
    static func billedFrames(_ plan: Plan, _ index: Int) -> Int {
        plan.providerRules.billing.billedFrames(plan.segments[index].numFrames)
    }

    /// The frames the recorded submits are billed for: each counted submit, and a submit that
    /// was being sent when a run died (it may have been accepted).
    static func committedFrames(plan: Plan, segments: [SegmentRecord]) -> Int {
        segments.reduce(0) { total, record in
            guard plan.segments.indices.contains(record.index) else { return total }
            let sent = record.submits + (record.state == .submitting ? 1 : 0)
            return total + sent * billedFrames(plan, record.index)
        }
    }

    /// US dollars for `frames` billed frames at the plan's price.
    func dollars(_ frames: Int) -> Double { Plan.cost(paidFrames: frames, pricePerSecond: plan.pricePerSecond) }

    /// The money committed so far (US dollars).
    var committedCost: Double { dollars(committed.withLockedValue { $0 }) }

    /// The cap (US dollars), when there is one.
    var limit: Double? { cap }

    /// Commits a submit of segment `index`, or throws a ``PipelineError/Kind/budgetExceeded``
    /// error when it would take the money committed above the cap (nothing is committed then).
    func reserve(_ index: Int) throws {
        let frames = Self.billedFrames(plan, index)
        let (ok, before) = committed.withLockedValue { committed -> (Bool, Int) in
            guard let cap, dollars(committed + frames) > cap + 1e-9 else {
                committed += frames
                return (true, committed)
            }
            return (false, committed)
        }
        guard ok else {
            throw PipelineError(
                .budgetExceeded,
                String(
                    format: "segment %d: its submit ($%.2f) would take the money committed ($%.2f) over maxCost $%.2f",
                    index, dollars(frames), dollars(before), cap ?? 0),
                option: "maxCost", segments: [index])
        }
    }

    /// Gives back a reservation whose submit was not billed (refused before it was accepted, or
    /// cancelled while queued).
    func release(_ index: Int) {
        let frames = Self.billedFrames(plan, index)
        committed.withLockedValue { $0 = max(0, $0 - frames) }
    }

    /// The error that ends a run the cap stopped: the money committed, the cap, what finishing
    /// needs, and the smallest cap that lets a resumed run finish.
    func stopped(segments: [SegmentRecord]) -> PipelineError {
        let left = segments.filter { $0.state != .done }.reduce(0) { $0 + Self.billedFrames(plan, $1.index) }
        let committedNow = committedCost
        let needed = dollars(left)
        let enough = ((committedNow + needed) * 100).rounded(.up) / 100
        return PipelineError(
            .budgetExceeded,
            String(
                format:
                    "the spending cap stopped the run: $%.2f committed of maxCost $%.2f, and finishing needs $%.2f more (a cap of $%.2f or more lets the job finish)",
                committedNow, cap ?? 0, needed, enough),
            option: "maxCost", segments: segments.filter { $0.state != .done }.map(\.index), requiredMaxCost: enough)
    }
}
