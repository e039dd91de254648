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
    /// - Parameters:
    ///   - hopDuration: Seconds per hop, greater than zero.
    ///   - levelsDb: The RMS level of each hop, in dBFS.
    public init(hopDuration: Double = 0.01, levelsDb: [Float]) {
        self.init(
            hopDuration: hopDuration,
            meanSquares: levelsDb.map { level in
                level <= LoudnessEnvelope.silenceFloorDb ? 0 : pow(10, Double(level) / 10)
            })
    }

    /// RMS level in dBFS of each hop, clamped below at ``silenceFloorDb`` (−120).
    public var levelsDb: [Float] { meanSquares.map(LoudnessEnvelope.decibels(meanSquare:)) }

    /// Converts a mean square to dBFS (`10·log10`), clamped below at −120 dBFS.
    /// - Parameter meanSquare: A mean square (full scale is 1).
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
    /// - Parameters:
    ///   - t0: Start of the window, in seconds.
    ///   - t1: End of the window, in seconds.
    public func rmsDb(from t0: Double, to t1: Double) -> Float? {
        meanSquares.withUnsafeBufferPointer { buffer in
            LoudnessEnvelope.windowMeanSquare(
                buffer, hopDuration: hopDuration, duration: duration,
                from: t0, to: t1)
        }.map(LoudnessEnvelope.decibels(meanSquare:))
    }

    /// Weighted mean square over `[t0, t1)`; shared by ``rmsDb(from:to:)`` and the planner's inner loop.
    static func windowMeanSquare(
        _ hops: UnsafeBufferPointer<Double>, hopDuration: Double,
        duration: Double, from t0: Double, to t1: Double
    ) -> Double? {
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
struct LoudnessEnvelopeBuilder {
    /// Sample frames per second of the stream.
    let sampleRate: Int
    /// Sample frames per hop.
    let hopLength: Int

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
    init(sampleRate: Int, hopDuration: Double = 0.01) {
        precondition(sampleRate > 0, "LoudnessEnvelopeBuilder: sampleRate must be positive")
        precondition(hopDuration > 0, "LoudnessEnvelopeBuilder: hopDuration must be positive")
        self.sampleRate = sampleRate
        self.hopLength = max(1, Int((Double(sampleRate) * hopDuration).rounded()))
    }

    /// Number of whole sample frames consumed so far.
    var framesConsumed: Int { totalFrames }

    /// Feeds interleaved samples. `channels` must be the same on every call.
    ///
    /// The chunk need not hold whole frames: a trailing partial frame is completed by the next call.
    mutating func append(_ samples: UnsafeBufferPointer<Float>, channels: Int) {
        precondition(channels > 0, "LoudnessEnvelopeBuilder: channels must be positive")
        precondition(
            self.channels == 0 || self.channels == channels,
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
    mutating func append(_ samples: [Float], channels: Int) {
        samples.withUnsafeBufferPointer { append($0, channels: channels) }
    }

    /// The envelope of everything fed so far, the last partial hop included.
    ///
    /// Samples of an incomplete trailing frame (fewer than `channels`) are ignored. The
    /// builder can keep being fed afterwards.
    func finish() -> LoudnessEnvelope {
        var squares = meanSquares
        if hopFill > 0 { squares.append(hopSum / Double(hopFill)) }
        let hopDuration = Double(hopLength) / Double(sampleRate)
        return LoudnessEnvelope(
            hopDuration: hopDuration, meanSquares: squares,
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
