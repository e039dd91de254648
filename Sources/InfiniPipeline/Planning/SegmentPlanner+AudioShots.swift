// InfiniPipeline: multi-speaker plans on a provider whose clips are as long as their audio
// (WaveSpeed), where every started second is paid.

extension SegmentPlanner {
    /// Extra cost of a shot change that is not on a whole billing unit (second): the shots on
    /// both sides of it then end in a partial second.
    static let offUnitChangeCost = 1.0
    /// Extra cost of a request that is not a whole number of billing units (at most one per shot,
    /// its last).
    static let partialRequestCost = 0.2

    /// The cuts of a multi-speaker plan on a provider billed per started unit (a second), with
    /// one cut in each shot change's range (widened by `margin` frames each side, at an extra
    /// cost outside the gap), and the cut chosen as each change; `nil` when no such plan exists.
    ///
    /// Each shot is a run of whole-second requests from its change, and only its last request
    /// (the one ending at the next change, or at the end of the audio) may be a partial second,
    /// so a shot of `L` seconds pays `ceil(L)` seconds and never more. Every request is at least
    /// the minimum charge and at most `maxFrames`. A change off a whole second costs
    /// ``offUnitChangeCost`` and a partial request ``partialRequestCost`` more, so changes go on
    /// whole seconds when their gaps have one (and the shots then pay exactly what they show).
    ///
    /// The dynamic programme is the single-speaker one (a monotone queue per residue mod the
    /// unit for whole requests) plus, for a position in a change's range, the partial requests
    /// that start before that range: a window of positions whose ends never move back while the
    /// position runs through the range, so one more monotone queue per range. O(T) in all.
    static func audioShotCuts(
        shots: [SpeakerTimeline.Shot], total: Int, maxFrames: Int, billing: Billing, costs baseCosts: [Double],
        margin: Int
    ) -> (cuts: [Int], changes: [Int])? {
        let unit = max(1, billing.unitFrames)
        let minimum = max(unit, billing.billedFrames(1))
        let wholeMinimum = (minimum + unit - 1) / unit * unit
        let wholeMax = maxFrames / unit * unit
        guard wholeMax >= wholeMinimum, total >= minimum else { return nil }
        var costs = baseCosts
        var ranges: [ClosedRange<Int>] = []
        for index in 1..<shots.count {
            let gap = shots[index].start
            let lower = max(gap.lowerBound - margin, (ranges.last?.upperBound ?? 0) + 1, 1)
            let upper = min(gap.upperBound + margin, total - 1)
            guard lower <= upper else { return nil }
            for p in lower...upper {
                if !gap.contains(p) { costs[p] += outsideGapCost }
                if p % unit != 0 { costs[p] += offUnitChangeCost }
            }
            ranges.append(lower...upper)
        }
        // A request ending at p starts at or after the last range that ends before p.
        var earliest = [Int](repeating: 0, count: total + 1)
        var next = 0
        var limit = 0
        for p in 0...total {
            while next < ranges.count && ranges[next].upperBound < p {
                limit = ranges[next].lowerBound
                next += 1
            }
            earliest[p] = limit
        }

        var best = [Double](repeating: .infinity, count: total + 1)
        var predecessor = [Int](repeating: -1, count: total + 1)
        best[0] = 0
        // Whole requests: a monotone queue (of positions, best values increasing) per residue.
        var whole = [MonotoneQueue](repeating: MonotoneQueue(), count: unit)
        // Partial requests into the current range's positions.
        var partial = MonotoneQueue()
        var nextCandidate = 0
        var range = 0
        for p in 1...total {
            let q = p - wholeMinimum
            if q >= 0 && best[q] < .infinity { whole[p % unit].push(q, best) }
            whole[p % unit].drop(below: max(p - wholeMax, earliest[p]))
            var value = whole[p % unit].front.map { best[$0] } ?? .infinity
            var from = whole[p % unit].front ?? -1

            while range < ranges.count && ranges[range].upperBound < p { range += 1 }
            var partialFrom: Int? = nil
            if range < ranges.count && ranges[range].contains(p) {
                let r = ranges[range]
                if p == r.lowerBound {
                    partial = MonotoneQueue()
                    nextCandidate = max(0, earliest[p], r.lowerBound - maxFrames)
                }
                // Candidates: before the range, at least the minimum back, at most maxFrames back.
                let upper = min(p - minimum, r.lowerBound - 1)
                while nextCandidate <= upper {
                    if best[nextCandidate] < .infinity { partial.push(nextCandidate, best) }
                    nextCandidate += 1
                }
                partial.drop(below: max(p - maxFrames, earliest[p]))
                partialFrom = partial.front
            } else if p == total {
                // The last request: from anywhere in the last shot.
                let lowest = max(0, earliest[p], p - maxFrames)
                if lowest <= p - minimum {
                    for candidate in lowest...(p - minimum) where best[candidate] < (partialFrom.map { best[$0] } ?? .infinity) {
                        partialFrom = candidate
                    }
                }
            }
            if let partialFrom, best[partialFrom] + partialRequestCost < value {
                value = best[partialFrom] + partialRequestCost
                from = partialFrom
            }
            guard from >= 0, value < .infinity else { continue }
            best[p] = value + (p < total ? costs[p] : 0)
            predecessor[p] = from
        }
        guard best[total] < .infinity else { return nil }
        var cuts: [Int] = []
        var position = predecessor[total]
        while position > 0 {
            cuts.append(position)
            position = predecessor[position]
        }
        cuts.reverse()
        // Each change is the first cut in its range (one exists: no request skips a range).
        var changes: [Int] = []
        var c = 0
        for range in ranges {
            while c < cuts.count && cuts[c] < range.lowerBound { c += 1 }
            guard c < cuts.count, range.contains(cuts[c]) else { return nil }
            changes.append(cuts[c])
        }
        return (cuts, changes)
    }

    /// Positions whose `best` values increase from front to back: the least value of a window
    /// that only moves forward, in amortised O(1). Ties keep the earliest position.
    struct MonotoneQueue {
        private var items: [Int] = []
        private var head = 0

        var front: Int? { head < items.count ? items[head] : nil }

        mutating func push(_ position: Int, _ best: [Double]) {
            let value = best[position]
            while items.count > head && best[items[items.count - 1]] > value { items.removeLast() }
            items.append(position)
        }

        mutating func drop(below lowest: Int) {
            while head < items.count && items[head] < lowest { head += 1 }
        }
    }
}
