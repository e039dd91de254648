// InfiniPipeline: finds the pauses in a loudness envelope, where the planner prefers to cut.

/// Finds pauses: stretches of at least 200 ms whose level stays far below the voiced parts.
///
/// A hop is *quiet* when its RMS is at least ``relativeThresholdDb`` (30 dB) below the
/// median RMS of the voiced hops, or at most ``absoluteThresholdDb`` (−50 dBFS): its level
/// is ≤ `max(median − 30, −50)`. Voiced hops
/// are those above ``voicedFloorDb`` (−60 dBFS); with none, only the absolute threshold
/// applies. A pause is a maximal run of quiet hops lasting at least ``minimumDuration``.
public struct PauseDetector: Sendable, Equatable {
    /// Shortest pause, in seconds (0.2).
    public var minimumDuration: Double
    /// How far below the voiced median a hop must be to count as quiet, in dB (30).
    public var relativeThresholdDb: Float
    /// Hops below this level (dBFS) are quiet whatever the median (−50).
    public var absoluteThresholdDb: Float
    /// Hops above this level (dBFS) count as voiced when taking the median (−60).
    public var voicedFloorDb: Float

    /// A detector with the given thresholds; the defaults are the planner's.
    public init(minimumDuration: Double = 0.2, relativeThresholdDb: Float = 30,
                absoluteThresholdDb: Float = -50, voicedFloorDb: Float = -60) {
        self.minimumDuration = minimumDuration
        self.relativeThresholdDb = relativeThresholdDb
        self.absoluteThresholdDb = absoluteThresholdDb
        self.voicedFloorDb = voicedFloorDb
    }

    /// The pauses of `envelope` with the default thresholds, in seconds, in order.
    public static func detect(_ envelope: LoudnessEnvelope) -> [ClosedRange<Double>] {
        PauseDetector().pauses(in: envelope)
    }

    /// The level (dBFS) at or below which a hop is quiet: `max(median − 30, −50)`.
    ///
    /// The median of the voiced hops is taken from a histogram with 0.01 dB bins (to within
    /// 0.01 dB), so it costs one pass and no sort.
    public func quietThresholdDb(for envelope: LoudnessEnvelope) -> Float {
        quietThresholdDb(levels: envelope.levelsDb)
    }

    /// The pauses of `envelope`, as closed time ranges in seconds, in order and disjoint.
    public func pauses(in envelope: LoudnessEnvelope) -> [ClosedRange<Double>] {
        let levels = envelope.levelsDb
        return pauses(levels: levels, threshold: quietThresholdDb(levels: levels), envelope: envelope)
    }

    /// The pauses given the envelope's levels and quiet threshold, already computed.
    func pauses(levels: [Float], threshold: Float, envelope: LoudnessEnvelope) -> [ClosedRange<Double>] {
        var result: [ClosedRange<Double>] = []
        let hop = envelope.hopDuration
        var runStart = -1
        for i in 0...levels.count {
            let quiet = i < levels.count && levels[i] <= threshold
            if quiet {
                if runStart < 0 { runStart = i }
            } else if runStart >= 0 {
                let start = Double(runStart) * hop
                let end = i == levels.count ? envelope.duration : Double(i) * hop
                if end - start >= minimumDuration - 1e-9 { result.append(start...end) }
                runStart = -1
            }
        }
        return result
    }

    func quietThresholdDb(levels: [Float]) -> Float {
        // Histogram of voiced levels in 0.01 dB bins from the voiced floor up to +60 dBFS.
        let binsPerDb: Float = 100
        let low = voicedFloorDb
        let binCount = Int((60 - low) * binsPerDb) + 1
        var histogram = [Int](repeating: 0, count: max(binCount, 1))
        var voiced = 0
        histogram.withUnsafeMutableBufferPointer { bins in
            for level in levels where level > low {
                let bin = min(Int((level - low) * binsPerDb), bins.count - 1)
                bins[bin] += 1
                voiced += 1
            }
        }
        guard voiced > 0 else { return absoluteThresholdDb }
        let middle = (voiced + 1) / 2
        var cumulative = 0
        var medianBin = 0
        for (bin, count) in histogram.enumerated() {
            cumulative += count
            if cumulative >= middle {
                medianBin = bin
                break
            }
        }
        // The bin's lower edge: exact for levels on the 0.01 dB grid, never more than 0.01 dB low.
        let median = low + Float(medianBin) / binsPerDb
        return max(median - relativeThresholdDb, absoluteThresholdDb)
    }
}
