// InfiniPipeline: a recording's speech level and noise floor, read from its own loudness envelope.

/// The speech level and noise floor of a recording, estimated from its own loudness envelope.
///
/// Both are read from the distribution of the 10 ms hop levels, so they follow the recording:
/// the same speech at any gain gives estimates shifted by exactly that gain (until samples clip
/// or levels reach the −120 dBFS floor), and a steady noise 30 dB or more below the speech
/// moves the speech level by a fraction of a dB while the noise floor becomes the noise.
///
/// *Digital silence* (hops at ``LoudnessEnvelope/silenceFloorDb``, −120 dBFS: all-zero
/// samples, or levels too low to measure) is left out of both estimates, however much of
/// it there is. Of the other, *sounding*, hops:
/// - the **speech level** is the median of the hops louder than the 95th percentile minus
///   30 dB, a gate that keeps the voiced part of speech and leaves out pauses, breaths and
///   any noise floor (in speech the 95th percentile is some 8–10 dB above the median, so
///   the gate lies about 20 dB below the speech level);
/// - the **noise floor** is the 2nd percentile, the level the recording sits at between
///   words and sentences (never above the speech level).
///
/// Percentiles come from a histogram with 0.01 dB bins (each estimate is the lower edge of
/// its bin), so an estimate costs one pass over the levels and no sort.
///
/// The speech must fill more than 5 % of the sounding hops: in a recording that is almost
/// all room tone, the 95th percentile is the room tone and so is the "speech level" (the
/// planner then finds no pauses and cuts at the quietest points, which is still the quiet).
struct LevelEstimate: Sendable, Equatable {
    /// Typical level of the speech (the voiced hops), in dBFS.
    var speechDb: Float
    /// Level of the quiet between words and sentences, in dBFS; at most ``speechDb``.
    var noiseFloorDb: Float

    /// Percentile of the sounding hops whose level, less ``speechGateDb``, gates the speech hops (0.95).
    static let speechGatePercentile = 0.95
    /// How far below that percentile the speech gate lies, in dB (30).
    static let speechGateDb: Float = 30
    /// Percentile of the sounding hops taken as the noise floor (0.02).
    static let noiseFloorPercentile = 0.02

    /// Estimates the levels of `envelope`, or `nil` when every hop is digital silence (or there are none).
    static func estimate(_ envelope: LoudnessEnvelope) -> LevelEstimate? {
        estimate(LevelHistogram(levels: envelope.levelsDb))
    }

    /// Estimates the levels from a histogram of hop levels; `nil` when no hop is sounding.
    static func estimate(_ histogram: LevelHistogram) -> LevelEstimate? {
        guard let loud = histogram.percentile(speechGatePercentile),
            let quiet = histogram.percentile(noiseFloorPercentile),
            let speech = histogram.median(above: loud - speechGateDb)
        else { return nil }
        return LevelEstimate(speechDb: speech, noiseFloorDb: min(quiet, speech))
    }
}

/// Hop levels counted in 0.01 dB bins from −120 to +40 dBFS, for percentiles without a sort.
///
/// Hops at or below ``LoudnessEnvelope/silenceFloorDb`` (digital silence) are counted apart,
/// in ``silentHops``, and take no part in the percentiles. Levels above +40 dBFS (possible only
/// in float audio far beyond full scale) count in the top bin.
struct LevelHistogram: Sendable, Equatable {
    /// Bins per dB (100: bins of 0.01 dB).
    static let binsPerDb: Float = 100
    /// Upper end of the histogram, in dBFS (+40).
    static let ceilingDb: Float = 40

    private var bins: [Int]
    /// Hops at the silence floor (digital silence), left out of the percentiles.
    private(set) var silentHops = 0
    /// Hops above the silence floor: the ones the percentiles are taken over.
    private(set) var soundingHops = 0

    /// Counts `levels` (dBFS, as ``LoudnessEnvelope/levelsDb`` gives them).
    init(levels: [Float]) {
        let floor = LoudnessEnvelope.silenceFloorDb
        let count = Int((LevelHistogram.ceilingDb - floor) * LevelHistogram.binsPerDb) + 1
        var bins = [Int](repeating: 0, count: count)
        var silent = 0
        bins.withUnsafeMutableBufferPointer { bins in
            levels.withUnsafeBufferPointer { levels in
                for level in levels {
                    // NaN compares false everywhere and counts as silence, like a level of −120.
                    guard level > floor else {
                        silent += 1
                        continue
                    }
                    let scaled = (level - floor) * LevelHistogram.binsPerDb
                    let bin = scaled < Float(bins.count - 1) ? Int(scaled) : bins.count - 1
                    bins[bin] += 1
                }
            }
        }
        self.bins = bins
        self.silentHops = silent
        self.soundingHops = levels.count - silent
    }

    /// The lower edge of the bin holding the sounding hop of rank `ceil(fraction · n)` (at
    /// least the first) in increasing level: the `fraction` percentile to within 0.01 dB.
    /// `nil` when no hop is sounding.
    func percentile(_ fraction: Double) -> Float? {
        guard soundingHops > 0 else { return nil }
        let rank = min(max(Int((fraction * Double(soundingHops)).rounded(.up)), 1), soundingHops)
        return level(ofRank: rank, from: 0)
    }

    /// The median of the sounding hops louder than `level` (in bins wholly above its bin),
    /// to within 0.01 dB; `nil` when there are none.
    func median(above level: Float) -> Float? {
        let first = level < LoudnessEnvelope.silenceFloorDb ? 0 : min(bin(of: level) + 1, bins.count)
        var count = 0
        for bin in first..<bins.count { count += bins[bin] }
        guard count > 0 else { return nil }
        return self.level(ofRank: (count + 1) / 2, from: first)
    }

    private func bin(of level: Float) -> Int {
        let scaled = (level - LoudnessEnvelope.silenceFloorDb) * LevelHistogram.binsPerDb
        guard scaled > 0 else { return 0 }
        return scaled < Float(bins.count - 1) ? Int(scaled) : bins.count - 1
    }

    /// Lower edge of the bin where the cumulative count from bin `first` reaches `rank` (≥ 1).
    private func level(ofRank rank: Int, from first: Int) -> Float {
        var cumulative = 0
        var bin = first
        while bin < bins.count - 1 {
            cumulative += bins[bin]
            if cumulative >= rank { break }
            bin += 1
        }
        return LoudnessEnvelope.silenceFloorDb + Float(bin) / LevelHistogram.binsPerDb
    }
}
