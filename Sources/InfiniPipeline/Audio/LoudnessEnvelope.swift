// InfiniPipeline: a compact loudness envelope of an audio stream, built chunk by chunk.

import Foundation

/// The loudness of an audio stream over time: one mean square per hop of (by default) 10 ms.
///
/// Each hop holds the mean of the squared samples of all channels mixed to mono
/// (the per-frame average of the channels), so the RMS over any run of whole hops is
/// exact, and ``levelsDb`` (RMS in dBFS per hop) is derived from it. A 3-hour file
/// has about 1.08 million hops (8.6 MB), however many samples it has.
public struct LoudnessEnvelope: Sendable, Equatable, Codable {
    /// The level reported for digital silence, and the floor of every level, in dBFS.
    public static let silenceFloorDb: Float = -120

    /// Duration of one hop, in seconds. Every hop but the last has exactly this duration.
    public var hopDuration: Double
    /// Mean square of the mono mix over each hop (full scale is 1.0, so a full-scale square wave has 1).
    public var meanSquares: [Double]
    /// Seconds of audio covered: `(meanSquares.count - 1) · hopDuration` plus the last, possibly partial, hop.
    public var duration: Double

    /// An envelope from per-hop mean squares.
    /// - Parameters:
    ///   - hopDuration: seconds per hop, greater than zero.
    ///   - meanSquares: mean square of the mono mix per hop.
    ///   - duration: seconds covered; `nil` means every hop is whole (`count · hopDuration`).
    public init(hopDuration: Double = 0.01, meanSquares: [Double], duration: Double? = nil) {
        precondition(hopDuration > 0, "LoudnessEnvelope: hopDuration must be positive")
        self.hopDuration = hopDuration
        self.meanSquares = meanSquares
        self.duration = duration ?? Double(meanSquares.count) * hopDuration
    }

    /// An envelope from per-hop RMS levels in dBFS (for synthetic envelopes and tests).
    ///
    /// Levels at or below ``silenceFloorDb`` become digital silence (mean square 0).
    public init(hopDuration: Double = 0.01, levelsDb: [Float]) {
        self.init(hopDuration: hopDuration, meanSquares: levelsDb.map { level in
            level <= LoudnessEnvelope.silenceFloorDb ? 0 : pow(10, Double(level) / 10)
        })
    }

    /// RMS level in dBFS of each hop, clamped below at ``silenceFloorDb`` (−120).
    public var levelsDb: [Float] { meanSquares.map(LoudnessEnvelope.decibels(meanSquare:)) }

    /// Converts a mean square to dBFS (`10·log10`), clamped below at −120 dBFS.
    public static func decibels(meanSquare: Double) -> Float {
        guard meanSquare > 0 else { return silenceFloorDb }
        return max(Float(10 * log10(meanSquare)), silenceFloorDb)
    }

    /// The RMS level in dBFS over the window `[t0, t1)` seconds, or `nil` when the window
    /// does not overlap the envelope.
    ///
    /// The result is the mean of the hops' mean squares weighted by how much of each hop
    /// lies in the window (clipped to `[0, duration)`), so a window made of whole hops
    /// gives the exact RMS of its samples. The planner reports cut loudness this way over
    /// ±60 ms around each cut.
    public func rmsDb(from t0: Double, to t1: Double) -> Float? {
        meanSquares.withUnsafeBufferPointer { buffer in
            LoudnessEnvelope.windowMeanSquare(buffer, hopDuration: hopDuration, duration: duration,
                                              from: t0, to: t1)
        }.map(LoudnessEnvelope.decibels(meanSquare:))
    }

    /// Weighted mean square over `[t0, t1)`; shared by ``rmsDb(from:to:)`` and the planner's inner loop.
    static func windowMeanSquare(_ hops: UnsafeBufferPointer<Double>, hopDuration: Double,
                                 duration: Double, from t0: Double, to t1: Double) -> Double? {
        let start = max(t0, 0)
        let end = min(t1, duration)
        guard end > start, hops.count > 0 else { return nil }
        var first = Int(start / hopDuration)
        var last = Int(end / hopDuration)
        if first >= hops.count { first = hops.count - 1 }
        if last >= hops.count { last = hops.count - 1 }
        var weighted = 0.0
        var weights = 0.0
        var i = first
        while i <= last {
            let hopStart = Double(i) * hopDuration
            let hopEnd = i == hops.count - 1 ? duration : hopStart + hopDuration
            let overlap = min(end, hopEnd) - max(start, hopStart)
            if overlap > 0 {
                weighted += overlap * hops[i]
                weights += overlap
            }
            i += 1
        }
        return weights > 0 ? weighted / weights : nil
    }
}

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
public struct LevelEstimate: Sendable, Equatable {
    /// Typical level of the speech (the voiced hops), in dBFS.
    public var speechDb: Float
    /// Level of the quiet between words and sentences, in dBFS; at most ``speechDb``.
    public var noiseFloorDb: Float

    /// An estimate from known levels (for tests and callers with their own measurements).
    public init(speechDb: Float, noiseFloorDb: Float) {
        self.speechDb = speechDb
        self.noiseFloorDb = noiseFloorDb
    }

    /// Percentile of the sounding hops whose level, less ``speechGateDb``, gates the speech hops (0.95).
    public static let speechGatePercentile = 0.95
    /// How far below that percentile the speech gate lies, in dB (30).
    public static let speechGateDb: Float = 30
    /// Percentile of the sounding hops taken as the noise floor (0.02).
    public static let noiseFloorPercentile = 0.02

    /// Estimates the levels of `envelope`, or `nil` when every hop is digital silence (or there are none).
    public static func estimate(_ envelope: LoudnessEnvelope) -> LevelEstimate? {
        estimate(LevelHistogram(levels: envelope.levelsDb))
    }

    /// Estimates the levels from a histogram of hop levels; `nil` when no hop is sounding.
    public static func estimate(_ histogram: LevelHistogram) -> LevelEstimate? {
        guard let loud = histogram.percentile(speechGatePercentile),
              let quiet = histogram.percentile(noiseFloorPercentile),
              let speech = histogram.median(above: loud - speechGateDb) else { return nil }
        return LevelEstimate(speechDb: speech, noiseFloorDb: min(quiet, speech))
    }
}

/// Hop levels counted in 0.01 dB bins from −120 to +40 dBFS, for percentiles without a sort.
///
/// Hops at or below ``LoudnessEnvelope/silenceFloorDb`` (digital silence) are counted apart,
/// in ``silentHops``, and take no part in the percentiles. Levels above +40 dBFS (possible only
/// in float audio far beyond full scale) count in the top bin.
public struct LevelHistogram: Sendable, Equatable {
    /// Bins per dB (100: bins of 0.01 dB).
    public static let binsPerDb: Float = 100
    /// Upper end of the histogram, in dBFS (+40).
    public static let ceilingDb: Float = 40

    private var bins: [Int]
    /// Hops at the silence floor (digital silence), left out of the percentiles.
    public private(set) var silentHops = 0
    /// Hops above the silence floor: the ones the percentiles are taken over.
    public private(set) var soundingHops = 0

    /// Counts `levels` (dBFS, as ``LoudnessEnvelope/levelsDb`` gives them).
    public init(levels: [Float]) {
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
    public func percentile(_ fraction: Double) -> Float? {
        guard soundingHops > 0 else { return nil }
        let rank = min(max(Int((fraction * Double(soundingHops)).rounded(.up)), 1), soundingHops)
        return level(ofRank: rank, from: 0)
    }

    /// The median of the sounding hops louder than `level` (in bins wholly above its bin),
    /// to within 0.01 dB; `nil` when there are none.
    public func median(above level: Float) -> Float? {
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

/// Builds a ``LoudnessEnvelope`` from interleaved Float32 PCM fed in chunks of any size.
///
/// Only the running sum of the current hop and one mean square per finished hop are
/// kept, never the samples, so memory is proportional to the envelope. Chunks may split
/// hops and even sample frames (a chunk may end in the middle of a stereo frame): the
/// result is bit-identical however the stream is chunked.
///
/// A hop is `round(sampleRate · hopDuration)` samples (at least 1), and the envelope's
/// ``LoudnessEnvelope/hopDuration`` is that many samples in seconds exactly (220.5 samples
/// at 22 050 Hz round to 221, a hop of 10.023 ms).
public struct LoudnessEnvelopeBuilder {
    /// Sample frames per second of the stream.
    public let sampleRate: Int
    /// Sample frames per hop.
    public let hopLength: Int

    private var channels = 0
    private var meanSquares: [Double] = []
    private var hopSum = 0.0
    private var hopFill = 0
    private var frameSum = 0.0
    private var frameFill = 0
    private var totalFrames = 0

    /// A builder for a stream of `sampleRate` frames per second.
    /// - Parameters:
    ///   - sampleRate: sample frames per second, at least 1.
    ///   - hopDuration: the nominal hop, 10 ms unless given.
    public init(sampleRate: Int, hopDuration: Double = 0.01) {
        precondition(sampleRate > 0, "LoudnessEnvelopeBuilder: sampleRate must be positive")
        precondition(hopDuration > 0, "LoudnessEnvelopeBuilder: hopDuration must be positive")
        self.sampleRate = sampleRate
        self.hopLength = max(1, Int((Double(sampleRate) * hopDuration).rounded()))
    }

    /// Number of whole sample frames consumed so far.
    public var framesConsumed: Int { totalFrames }

    /// Feeds interleaved samples. `channels` must be the same on every call.
    ///
    /// The chunk need not hold whole frames: a trailing partial frame is completed by the next call.
    public mutating func append(_ samples: UnsafeBufferPointer<Float>, channels: Int) {
        precondition(channels > 0, "LoudnessEnvelopeBuilder: channels must be positive")
        precondition(self.channels == 0 || self.channels == channels,
                     "LoudnessEnvelopeBuilder: channel count changed from \(self.channels) to \(channels)")
        self.channels = channels
        guard let base = samples.baseAddress, samples.count > 0 else { return }
        let count = samples.count
        let divisor = Double(channels)
        var i = 0
        // Finish a frame left open by the previous chunk, one sample at a time.
        if frameFill > 0 {
            while i < count && frameFill < channels {
                frameSum += Double(base[i])
                frameFill += 1
                i += 1
            }
            if frameFill < channels { return }
            addFrame(frameSum / divisor)
            frameSum = 0
            frameFill = 0
        }
        // Whole frames; the sum starts from 0 and adds channels in order, exactly like the slow path.
        while i + channels <= count {
            var sum = 0.0
            var c = 0
            while c < channels {
                sum += Double(base[i + c])
                c += 1
            }
            let mono = sum / divisor
            hopSum += mono * mono
            hopFill += 1
            totalFrames += 1
            if hopFill == hopLength { closeHop() }
            i += channels
        }
        // Keep a trailing partial frame for the next chunk.
        while i < count {
            frameSum += Double(base[i])
            frameFill += 1
            i += 1
        }
    }

    /// Feeds interleaved samples from an array, exactly like the buffer-pointer variant.
    public mutating func append(_ samples: [Float], channels: Int) {
        samples.withUnsafeBufferPointer { append($0, channels: channels) }
    }

    /// The envelope of everything fed so far, the last partial hop included.
    ///
    /// Samples of an incomplete trailing frame (fewer than `channels`) are ignored. The
    /// builder can keep being fed afterwards.
    public func finish() -> LoudnessEnvelope {
        var squares = meanSquares
        if hopFill > 0 { squares.append(hopSum / Double(hopFill)) }
        let hopDuration = Double(hopLength) / Double(sampleRate)
        return LoudnessEnvelope(hopDuration: hopDuration, meanSquares: squares,
                                duration: Double(totalFrames) / Double(sampleRate))
    }

    private mutating func addFrame(_ mono: Double) {
        hopSum += mono * mono
        hopFill += 1
        totalFrames += 1
        if hopFill == hopLength { closeHop() }
    }

    private mutating func closeHop() {
        meanSquares.append(hopSum / Double(hopLength))
        hopSum = 0
        hopFill = 0
    }
}
