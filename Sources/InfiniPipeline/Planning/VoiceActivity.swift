// InfiniPipeline: where each of several microphones carries its own speaker's voice.

/// Voice activity on several tracks of one conversation (one microphone per speaker), with the
/// bleed between microphones handled.
///
/// Every level is relative to the track's own speech (``LevelEstimate``), so tracks recorded at
/// different gains compare fairly. A hop belongs to a track when the track's level there,
/// relative to its speech level and smoothed over ±2 hops, is within ``bleedMarginDb`` of the
/// highest such level of all tracks: a voice heard on two microphones belongs to the louder one,
/// since bleed is typically 10–25 dB lower, while two people talking at once keep both. The
/// speech levels are estimated three times: first from raw levels (equal gains assumed), then
/// twice from the hops each track owns, so the other speaker's bleed does not pull a track's
/// speech level down. Hops a track does not own are set to digital silence, and the track's
/// voice is then wherever ``PauseDetector`` (with the track's own threshold) finds no pause;
/// stretches shorter than ``shortestVoice`` (clicks) are dropped.
enum VoiceActivity {
    /// How far below the loudest track a track's relative level may be and still count as its
    /// own voice rather than bleed, in dB (6).
    static let bleedMarginDb: Float = 6
    /// Voiced stretches shorter than this are dropped, in seconds (0.05).
    static let shortestVoice = 0.05
    /// Hops on each side of a hop in the smoothed level used to compare tracks (2: ±20 ms).
    static let smoothingHops = 2

    /// For each track, the ranges (seconds) in which its own speaker's voice is heard.
    /// - Parameters:
    ///   - envelopes: One envelope per track, all on the same hop grid.
    ///   - detector: How pauses are found.
    static func voicedRanges(_ envelopes: [LoudnessEnvelope], detector: PauseDetector) -> [[Range<Double>]] {
        let count = envelopes.count
        guard count > 0 else { return [] }
        let hops = envelopes.map(\.meanSquares.count).max() ?? 0
        let levels = envelopes.map { $0.levelsDb }
        let smoothed = envelopes.map { smooth($0.meanSquares, hops: hops) }
        var offsets = [Float](repeating: 0, count: count)
        var estimates = [LevelEstimate?](repeating: nil, count: count)
        var active = [Bool](repeating: true, count: count)
        var owned = [[Float]](repeating: [], count: count)
        for _ in 0..<3 {
            let owner = ownership(smoothed, offsets: offsets, active: active, hops: hops)
            for track in 0..<count {
                owned[track] = levels[track].enumerated().map { hop, level in
                    owner[track][hop] ? level : LoudnessEnvelope.silenceFloorDb
                }
                estimates[track] = LevelEstimate.estimate(LevelHistogram(levels: owned[track]))
                if let estimate = estimates[track] {
                    offsets[track] = estimate.speechDb
                } else {
                    active[track] = false
                }
            }
        }
        return (0..<count).map { track in
            guard active[track], let estimate = estimates[track] else { return [] }
            let envelope = envelopes[track]
            let threshold = detector.quietThresholdDb(for: estimate)
            let pauses = detector.pauses(levels: owned[track], threshold: threshold, envelope: envelope)
            var voiced: [Range<Double>] = []
            var position = 0.0
            for pause in pauses + [envelope.duration...envelope.duration] {
                if pause.lowerBound - position >= shortestVoice { voiced.append(position..<pause.lowerBound) }
                position = max(position, pause.upperBound)
            }
            return voiced
        }
    }

    /// Which tracks own each hop: those within the bleed margin of the loudest relative level.
    private static func ownership(_ smoothed: [[Float]], offsets: [Float], active: [Bool], hops: Int) -> [[Bool]] {
        let count = smoothed.count
        var owner = [[Bool]](repeating: [Bool](repeating: false, count: hops), count: count)
        for hop in 0..<hops {
            var loudest = -Float.infinity
            for track in 0..<count where active[track] {
                loudest = max(loudest, relative(smoothed, track, hop, offsets))
            }
            guard loudest > -Float.infinity else { continue }
            for track in 0..<count where active[track] {
                owner[track][hop] = relative(smoothed, track, hop, offsets) >= loudest - bleedMarginDb
            }
        }
        return owner
    }

    private static func relative(_ smoothed: [[Float]], _ track: Int, _ hop: Int, _ offsets: [Float]) -> Float {
        let levels = smoothed[track]
        return (hop < levels.count ? levels[hop] : LoudnessEnvelope.silenceFloorDb) - offsets[track]
    }

    /// The level in dBFS of the mean square over ±``smoothingHops`` hops, for `hops` hops.
    private static func smooth(_ meanSquares: [Double], hops: Int) -> [Float] {
        let n = meanSquares.count
        var result = [Float](repeating: LoudnessEnvelope.silenceFloorDb, count: hops)
        guard n > 0 else { return result }
        var prefix = [Double](repeating: 0, count: n + 1)
        for i in 0..<n { prefix[i + 1] = prefix[i] + meanSquares[i] }
        for hop in 0..<min(hops, n) {
            let lower = max(0, hop - smoothingHops)
            let upper = min(n, hop + smoothingHops + 1)
            result[hop] = LoudnessEnvelope.decibels(meanSquare: (prefix[upper] - prefix[lower]) / Double(upper - lower))
        }
        return result
    }
}
