// InfiniPipeline: the planner's dynamic programme, which places the cuts (see SegmentPlanner).

extension SegmentPlanner {
    /// The dynamic programme's table: `best[p]`, the least summed cost of whole segments
    /// covering `[0, p)` (infinite when none do), and `predecessor[p]`, the start of the last one.
    ///
    /// With `earliestPredecessor`, a segment ending at `p` starts no earlier than
    /// `earliestPredecessor[p]` (a limit that never decreases with `p`): how a multi-speaker
    /// plan keeps each segment inside one shot.
    static func cutTable(
        totalFrames: Int, maxFrames: Int, costs: [Double], earliestPredecessor: [Int32]? = nil
    ) -> (best: [Double], predecessor: [Int32]) {
        cutTable(
            totalFrames: totalFrames,
            grid: Grid(step: ModelLimits.frameStep, minimum: ModelLimits.minimumFrames, maximum: maxFrames),
            costs: costs, earliestPredecessor: earliestPredecessor)
    }

    /// The lengths a segment may have: `minimum + k · step` frames, up to `maximum`.
    struct Grid {
        var step: Int
        var minimum: Int
        var maximum: Int
    }

    /// The table for segments whose lengths are on `grid`.
    static func cutTable(
        totalFrames: Int, grid: Grid, costs: [Double], earliestPredecessor: [Int32]? = nil
    ) -> (best: [Double], predecessor: [Int32]) {
        let total = totalFrames
        let (step, minimum, maxFrames) = (grid.step, grid.minimum, grid.maximum)
        var best = [Double](repeating: .infinity, count: total + 1)
        var predecessor = [Int32](repeating: -1, count: total + 1)
        // One monotone queue per residue class mod `step` (positions), stored flat.
        let capacity = total / step + 2
        var queue = [Int32](repeating: 0, count: step * capacity)
        // heads[0..<step] and tails[step..<2·step] of the queues.
        var ends = [Int](repeating: 0, count: 2 * step)
        best[0] = 0
        best.withUnsafeMutableBufferPointer { best in
            predecessor.withUnsafeMutableBufferPointer { predecessor in
                queue.withUnsafeMutableBufferPointer { queue in
                    ends.withUnsafeMutableBufferPointer { ends in
                        costs.withUnsafeBufferPointer { costs in
                            var p = 1
                            while p <= total {
                                // q = p − minimum becomes a candidate for p and every later p ≡ p (mod step).
                                let q = p - minimum
                                let lowest = earliestPredecessor.map { Int($0[p]) } ?? 0
                                let cls = p % step
                                let offset = cls * capacity
                                var head = ends[cls]
                                var tail = ends[step + cls]
                                if q >= 0 && best[q] < .infinity {
                                    let value = best[q]
                                    // Keep the earliest of equal values: pop only strictly worse ones.
                                    while tail > head && best[Int(queue[offset + tail - 1])] > value {
                                        tail -= 1
                                    }
                                    queue[offset + tail] = Int32(q)
                                    tail += 1
                                }
                                while head < tail && Int(queue[offset + head]) < max(p - maxFrames, lowest) {
                                    head += 1
                                }
                                if head < tail {
                                    let from = Int(queue[offset + head])
                                    best[p] = best[from] + (p < total ? costs[p] : 0)
                                    predecessor[p] = Int32(from)
                                }
                                ends[cls] = head
                                ends[step + cls] = tail
                                p += 1
                            }
                        }
                    }
                }
            }
        }

        return (best, predecessor)
    }

    /// The interior cut positions minimising the summed cut costs.
    ///
    /// With `trimmedLast == false` every segment, the last included, is a valid size ≤
    /// `maxFrames`; the caller guarantees `totalFrames` is representable. With
    /// `trimmedLast == true` the returned cuts end at the start of a trimmed last segment
    /// of `f` frames, `f` chosen first to minimise the waste `v(f) − f`, then by cost.
    static func bestCuts(totalFrames: Int, maxFrames: Int, costs: [Double], trimmedLast: Bool) -> [Int] {
        let total = totalFrames
        let (best, predecessor) = cutTable(totalFrames: total, maxFrames: maxFrames, costs: costs)
        var end = total
        if trimmedLast {
            // The trimmed last segment: least waste first, then least cost, then shortest.
            var bestWaste = Int.max
            var bestCost = Double.infinity
            var bestStart = -1
            for length in 1...min(maxFrames, total - 1) {
                let start = total - length
                guard best[start] < .infinity else { continue }
                let request = ModelLimits.smallestValidRequest(atLeast: length, maximum: maxFrames) ?? maxFrames
                let waste = request - length
                if waste < bestWaste || (waste == bestWaste && best[start] < bestCost) {
                    bestWaste = waste
                    bestCost = best[start]
                    bestStart = start
                }
            }
            precondition(bestStart > 0, "SegmentPlanner: no trimmed-last plan for \(total) frames")
            end = bestStart
        } else {
            precondition(best[total] < .infinity, "SegmentPlanner: \(total) frames are not representable")
        }
        var cuts: [Int] = []
        var position = end
        while position > 0 {
            cuts.append(position)
            position = Int(predecessor[position])
        }
        cuts.reverse()
        if !trimmedLast { cuts.removeLast() }
        return cuts
    }
}
