// InfiniPipeline: the default plan on a provider whose clips follow the audio (WaveSpeed):
// as many requests as make whole rounds of the concurrency, all about the same length.

extension SegmentPlanner {
    /// The room a request of the default plan keeps below the provider's cap to find a pause
    /// for its cut (5 s).
    static let balancedRoomSeconds = 5

    /// The number of requests `N` of the default plan for `totalFrames` frames at concurrency
    /// `c` on a provider whose clips follow the audio: `N = c · ceil(T ÷ ((cap − 5 s) · c))`, the
    /// fewest whole rounds of `c` requests of at most the cap (less the 5 s each needs to find a
    /// pause), so each round lasts about `T ÷ N`. Short audio makes fewer: none under twice the
    /// minimum charge (cheaper, and as fast).
    public static func balancedRequests(totalFrames: Int, provider: Provider, concurrency: Int) -> Int {
        let cap = provider.lengths.maximum
        let room = balancedRoomSeconds * provider.fps
        let usable = max(1, cap > 2 * room ? cap - room : cap)
        let c = max(1, concurrency)
        let rounds = (totalFrames + usable * c - 1) / (usable * c)
        // Never so many that a request would be under two minimum charges: short audio is
        // cheaper, and as fast, in fewer requests (and the last one must not fall under one).
        let fewest = max(1, totalFrames / (2 * max(1, provider.billing.billedFrames(1))))
        return max(1, min(c * rounds, max(fewest, (totalFrames + usable - 1) / usable)))
    }

    /// Makes the cuts of a plan of `requests` requests even: the `k`-th cut costs nothing more
    /// within `max(2.5 s, 2.5 %)` of `k · T ÷ N` (so every request is within `max(5 s, 5 %)` of
    /// `T ÷ N`, and no longer than `maxFrames`), and 2 more plus 1 per second beyond that window:
    /// a pause just outside the window still beats a cut in speech inside it.
    static func addEvenCutCosts(_ costs: inout [Double], requests: Int, maxFrames: Int) {
        let total = costs.count - 1
        guard requests >= 2, total > 0 else { return }
        let fps = Double(ModelLimits.fps)
        let share = Double(total) / Double(requests)
        let half = min(max(2.5 * fps, 0.025 * share), max(2.5 * fps, (Double(maxFrames) - share) / 2))
        for p in 1..<total {
            let k = min(requests - 1, max(1, Int((Double(p) / share).rounded())))
            let distance = abs(Double(p) - Double(k) * share)
            if distance > half { costs[p] += 2 + (distance - half) / fps }
        }
    }
}
