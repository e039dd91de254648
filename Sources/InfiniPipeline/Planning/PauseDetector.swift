// InfiniPipeline: finds the pauses in a loudness envelope, where the planner prefers to cut.

/// Finds pauses: stretches of at least 200 ms whose level stays far below the recording's speech.
///
/// Every threshold is relative to the recording itself: its speech level `S` and noise floor
/// `N` are estimated from its own envelope, so the same speech
/// recorded at any gain, or over a steady noise floor, has the same pauses. A hop is *quiet*
/// when its RMS is at or below the threshold
///
///     θ = min(max(S − 30, N + 6), S − 25)   (dBFS, with the default parameters)
///
/// that is, 30 dB below the speech (``belowSpeechDb``), raised to stay 6 dB above the noise
/// floor (``aboveNoiseFloorDb``) when the noise is close to that, but never closer than 25 dB
/// to the speech (``minimumBelowSpeechDb``). With only digital silence there is no estimate:
/// θ is the silence floor (−120 dBFS), so every hop is quiet.
///
/// A pause is a maximal run of quiet hops lasting at least ``minimumDuration``, where a
/// *blip* of at most ``maximumBlipDuration`` (20 ms) no louder than θ + ``blipAllowanceDb``
/// (6 dB) between quiet hops does not end the run: the peaks of a noise floor just below θ
/// (pink noise reaches 5 dB above its mean in a 10 ms hop) and clicks do not split a pause,
/// while speech, 25 dB or more above θ, always does. A pause starts and ends with quiet hops.
public struct PauseDetector: Sendable, Equatable {
    /// Shortest pause, in seconds (0.2).
    public var minimumDuration: Double
    /// How far below the speech level the threshold lies when the noise floor allows, in dB (30).
    public var belowSpeechDb: Float
    /// How far above the noise floor the threshold stays at least, in dB (6).
    public var aboveNoiseFloorDb: Float
    /// The threshold is never closer to the speech level than this, in dB (25).
    public var minimumBelowSpeechDb: Float
    /// Longest blip inside a pause, in seconds (0.02: two 10 ms hops).
    public var maximumBlipDuration: Double
    /// How far above the threshold a blip inside a pause may reach, in dB (6).
    public var blipAllowanceDb: Float

    /// A detector with the given parameters; the defaults are the planner's.
    /// - Parameters:
    ///   - minimumDuration: Shortest pause, in seconds.
    ///   - belowSpeechDb: How far below the speech level the threshold lies, in dB.
    ///   - aboveNoiseFloorDb: How far above the noise floor the threshold stays at least, in dB.
    ///   - minimumBelowSpeechDb: The threshold's least distance below the speech level, in dB.
    ///   - maximumBlipDuration: Longest blip inside a pause, in seconds.
    ///   - blipAllowanceDb: How far above the threshold a blip may reach, in dB.
    public init(
        minimumDuration: Double = 0.2, belowSpeechDb: Float = 30, aboveNoiseFloorDb: Float = 6,
        minimumBelowSpeechDb: Float = 25, maximumBlipDuration: Double = 0.02, blipAllowanceDb: Float = 6
    ) {
        self.minimumDuration = minimumDuration
        self.belowSpeechDb = belowSpeechDb
        self.aboveNoiseFloorDb = aboveNoiseFloorDb
        self.minimumBelowSpeechDb = minimumBelowSpeechDb
        self.maximumBlipDuration = maximumBlipDuration
        self.blipAllowanceDb = blipAllowanceDb
    }

    /// The pauses of `envelope` with the default parameters, in seconds, in order.
    /// - Parameter envelope: The recording's loudness.
    public static func detect(_ envelope: LoudnessEnvelope) -> [ClosedRange<Double>] {
        PauseDetector().pauses(in: envelope)
    }

    /// The level (dBFS) at or below which a hop of `envelope` is quiet (see ``PauseDetector``).
    /// - Parameter envelope: The recording's loudness.
    public func quietThresholdDb(for envelope: LoudnessEnvelope) -> Float {
        quietThresholdDb(for: LevelEstimate.estimate(envelope))
    }

    /// The quiet threshold for a recording with the levels `estimate` (`nil`: only digital
    /// silence, so the silence floor).
    func quietThresholdDb(for estimate: LevelEstimate?) -> Float {
        guard let estimate else { return LoudnessEnvelope.silenceFloorDb }
        let speech = estimate.speechDb
        let threshold = max(speech - belowSpeechDb, estimate.noiseFloorDb + aboveNoiseFloorDb)
        return min(threshold, speech - minimumBelowSpeechDb)
    }

    /// The pauses of `envelope`, as closed time ranges in seconds, in order and disjoint.
    /// - Parameter envelope: The recording's loudness.
    public func pauses(in envelope: LoudnessEnvelope) -> [ClosedRange<Double>] {
        let levels = envelope.levelsDb
        let estimate = LevelEstimate.estimate(LevelHistogram(levels: levels))
        return pauses(levels: levels, threshold: quietThresholdDb(for: estimate), envelope: envelope)
    }

    /// The pauses given the envelope's levels and quiet threshold, already computed.
    func pauses(levels: [Float], threshold: Float, envelope: LoudnessEnvelope) -> [ClosedRange<Double>] {
        var result: [ClosedRange<Double>] = []
        let hop = envelope.hopDuration
        let count = levels.count
        let maximumBlip = max(0, Int((maximumBlipDuration / hop).rounded()))
        let blipCeiling = threshold + blipAllowanceDb
        func close(_ first: Int, _ end: Int) {
            let start = Double(first) * hop
            let stop = end == count ? envelope.duration : Double(end) * hop
            if stop - start >= minimumDuration - 1e-9 { result.append(start...stop) }
        }
        var runStart = -1  // first hop of the current run, or −1
        var runEnd = 0  // one past its last quiet hop
        var blip = 0  // hops since runEnd, all within the blip allowance
        levels.withUnsafeBufferPointer { levels in
            for i in 0..<count {
                let level = levels[i]
                if level <= threshold {
                    if runStart < 0 { runStart = i }
                    runEnd = i + 1
                    blip = 0
                } else if runStart >= 0 {
                    if level <= blipCeiling && blip < maximumBlip {
                        blip += 1
                    } else {
                        close(runStart, runEnd)
                        runStart = -1
                        blip = 0
                    }
                }
            }
        }
        if runStart >= 0 { close(runStart, runEnd) }
        return result
    }
}
