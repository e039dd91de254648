// InfiniPipeline: cuts the audio timeline into model requests, with the seams in pauses.

/// Options of ``SegmentPlanner``.
public struct PlanningOptions: Sendable, Equatable {
    /// The longest request, in frames. On fal: rounded down to `4n + 1`, values above 721 mean
    /// 721, below 41 are an error. On a provider whose clips follow the audio, values at or
    /// above its longest request mean the balanced default (see
    /// ``SegmentPlanner/balancedMaxFrames(totalFrames:provider:concurrency:)``).
    public var maxFrames: Int
    /// Output resolution; sets the default price.
    public var resolution: InfiniTalk.Resolution
    /// Overrides the resolution's price, in US dollars per second of requested video.
    public var pricePerSecond: Double?
    /// How pauses are found.
    public var pauseDetector: PauseDetector
    /// Whose rules the requests follow (lengths, billing, prices); fal by default.
    public var provider: Provider = .fal
    /// Requests in flight. On a provider whose clips are as long as their audio, the default
    /// plan (``maxFrames`` at or above the provider's longest request) makes a multiple of it:
    /// requests run in rounds, and each round lasts as long as its longest request.
    public var concurrency: Int = 4
    /// What was said, when known before planning: cuts then prefer pauses between sentences
    /// (``Transcript/sentenceGaps(longPause:)``) to pauses inside them, under the same rules.
    public var transcript: Transcript? = nil

    /// Options; every default is the model's.
    /// - Parameters:
    ///   - maxFrames: The longest request, in frames (by default the provider's own default:
    ///     721 on fal).
    ///   - resolution: Output resolution; sets the default price (480p).
    ///   - pricePerSecond: Overrides the resolution's price, in US dollars per second.
    ///   - pauseDetector: How pauses are found.
    public init(
        maxFrames: Int = .max, resolution: InfiniTalk.Resolution = .p480,
        pricePerSecond: Double? = nil, pauseDetector: PauseDetector = PauseDetector(), provider: Provider = .fal,
        concurrency: Int = 4
    ) {
        self.provider = provider
        self.concurrency = concurrency
        self.maxFrames = maxFrames
        self.resolution = resolution
        self.pricePerSecond = pricePerSecond
        self.pauseDetector = pauseDetector
    }
}

/// Cuts an audio timeline into InfiniTalk requests, placing the seams in pauses.
///
/// **Timeline.** `S` decoded sample frames at `R` Hz last `S / R` seconds and need
/// `T = ceil(S · 25 / R)` output frames, computed in integer arithmetic (`S = 0` is an error).
///
/// **Contract** (with `M` the effective `maxFrames`, a valid size ≤ 721):
/// 1. Segments are contiguous frame ranges covering `[0, T)` exactly. Segment `i` keeps
///    `frameCount` frames and requests `numFrames ≥ frameCount`, a valid size (4n + 1 in [41, M]).
/// 2. *Whole clips* (``Plan/Layout/wholeClips``): when `T` is a sum of valid sizes ≤ `M`
///    (see ``ModelLimits/isRepresentable(_:maxFrames:)``; every `T ≥ 164` for `M = 721`),
///    every segment is a whole request, `numFrames == frameCount`, and `Σ numFrames == T`.
///    Otherwise, if `T ≤ M` (*single trimmed*): one request of the smallest valid size
///    ≥ `max(T, 41)` keeping `T` frames. Otherwise (*trimmed last*, only for small `M`,
///    e.g. `M = 41`, `T = 100`): whole segments followed by one trimmed last segment of
///    `f ≤ M` frames, with `f` chosen to minimise the paid frames `T + (v(f) − f)`, where
///    `v(f)` is the smallest valid size ≥ `max(f, 41)`.
///    Rule 2 prefers whole clips even for short audio: `k` whole segments need
///    `k ≡ T (mod 4)`, so `T = 200` (8 s) becomes 4 segments rather than one 201-frame
///    request trimmed by a frame.
/// 3. *Seams in pauses*: the cut positions are chosen by dynamic programming over frame
///    boundaries, minimising the sum of the cut costs below (the ends 0 and `T` are free).
/// 4. *Cost*: `Σ numFrames / 25 · pricePerSecond`.
///
/// **Levels.** Nothing depends on absolute levels: the recording's speech level `S` and
/// noise floor are estimated from its own envelope (see ``PauseDetector``), and the pause
/// threshold `θ` is placed between them (``PauseDetector``: 30 dB below the speech unless
/// the noise floor is within 36 dB of it). The same speech at any gain therefore gets the
/// same cuts (exactly, as long as the samples do not clip and the pauses stay above the
/// −120 dBFS floor), and a steady noise 30–40 dB below the speech leaves the pauses, and so
/// the cuts, nearly where they were. With nothing but digital silence there is no estimate,
/// `θ` is −120 dBFS and the whole audio is one pause.
///
/// **Cut cost** of a seam at frame boundary `p` (time `t = p / 25`), with `L` the RMS (dBFS)
/// over `[t − 60 ms, t + 60 ms)`:
/// - every seam costs **1** (a visible reset of the avatar's pose);
/// - inside a pause, add `0.05` per 10 dB of `max(0, L − θ)` (capped at 40 dB; this
///   penalises cuts whose window reaches speech at the pause's edge), up to `0.01` for
///   the distance from the pause's middle (0 at the middle, 0.01 at an edge), and up to
///   `0.05` for a short pause (`0.05 · (1 − length / 1 s)`, 0 from 1 s on): the seams go
///   to the longer pauses (between sentences rather than between words), a preference that
///   a noise floor cannot upset, since it moves a pause's ends by a hop or two at most;
/// - outside every pause, add **4**, plus `2` per 10 dB of `max(0, L − θ)` (capped at 60 dB).
///
/// A cut in speech (typically 25–35 dB above `θ`) thus costs as much as 10 seams in pauses,
/// while an all-in-pause plan needs only a few percent more seams than the fewest possible:
/// whenever an all-in-pause plan exists, every cut lands in a pause, away from its edges
/// and near its middle, with the fewest seams such cuts allow (on long files that can be
/// ~5 % more segments than `ceil(T / M)`). With no pauses at all, cuts go to the quietest
/// boundaries (gaps between words), adding a seam only when that makes many cuts
/// 10–20 dB quieter. Because each pause lasts ≥ 200 ms (five frame boundaries) it offers
/// every residue mod 4, which whole-clip cuts need (`c_j ≡ j (mod 4)`).
///
/// **Dynamic programme.** `best[p] = cost(p) + min best[q]` over `p − q` a valid size.
/// Valid sizes are ≡ 1 (mod 4), so the candidates `q` form a window of one residue class
/// mod 4 that slides by 4 as `p` does: a monotone queue per residue class gives the
/// minimum in amortised O(1), so the whole plan is O(T) (a 3-hour file, T = 270 000,
/// is planned in a fraction of a second). Ties keep the earliest predecessor, so the output
/// is deterministic.
public enum SegmentPlanner {
    /// Half-width of the window whose RMS is a cut's loudness, in seconds (60 ms).
    public static let cutWindowHalfWidth = 0.06

    /// Output frames needed for `samples` frames at `sampleRate`: `ceil(samples · 25 / sampleRate)`,
    /// exactly, in integer arithmetic.
    /// - Parameters:
    ///   - samples: Decoded sample frames (per channel).
    ///   - sampleRate: Sample frames per second.
    /// - Throws: ``PlanningError`` for an empty or negative sample count, a sample rate
    ///   below 1, or an overflow.
    public static func totalFrames(samples: Int, sampleRate: Int) throws -> Int {
        guard samples >= 0 else { throw PlanningError.invalidSampleCount(samples) }
        guard samples > 0 else { throw PlanningError.zeroLengthAudio }
        guard sampleRate > 0 else { throw PlanningError.invalidSampleRate(sampleRate) }
        let (scaled, overflow) = samples.multipliedReportingOverflow(by: ModelLimits.fps)
        guard !overflow else { throw PlanningError.audioTooLong(samples: samples) }
        let (quotient, remainder) = scaled.quotientAndRemainder(dividingBy: sampleRate)
        return remainder == 0 ? quotient : quotient + 1
    }

    /// The effective largest request size for a requested ``PlanningOptions/maxFrames``: the
    /// largest valid size ≤ `requested` (100 → 97, 800 → 721).
    /// - Parameter requested: The requested largest `num_frames`.
    /// - Throws: ``PlanningError`` of kind `maxFramesBelowMinimum`, option `maxFrames`, below 41.
    public static func effectiveMaxFrames(_ requested: Int) throws -> Int {
        guard let m = ModelLimits.roundDownToValid(requested) else {
            throw PlanningError.maxFramesBelowMinimum(requested)
        }
        return m
    }

    /// Plans the requests for `samples` decoded sample frames of `channels`-channel audio at
    /// `sampleRate`, with seams placed using `envelope` (the loudness of the same audio).
    ///
    /// See ``SegmentPlanner`` for the rules. `envelope` may be shorter or longer than the
    /// audio; boundaries it does not reach count as neither loud nor in a pause.
    /// - Parameters:
    ///   - samples: Decoded sample frames (per channel).
    ///   - sampleRate: Sample frames per second.
    ///   - channels: Channels in the source (recorded in the plan).
    ///   - envelope: The loudness of the same audio.
    ///   - options: The largest request, resolution, price and pause detection.
    /// - Throws: ``PlanningError`` for empty audio, invalid rates, channels, price or `maxFrames`.
    public static func plan(
        samples: Int, sampleRate: Int, channels: Int,
        envelope: LoudnessEnvelope, options: PlanningOptions = PlanningOptions()
    ) throws -> Plan {
        let total = try totalFrames(samples: samples, sampleRate: sampleRate)
        guard channels > 0 else { throw PlanningError.invalidChannelCount(channels) }
        let (maxFrames, price) = try checked(options, totalFrames: total)

        let levels = envelope.levelsDb
        let estimate = LevelEstimate.estimate(LevelHistogram(levels: levels))
        var loudness = Loudness(levels: levels, estimate: estimate, detector: options.pauseDetector)
        loudness.sentenceGaps = options.transcript?.sentenceGaps() ?? []
        let (layout, sizes) =
            options.provider.lengths.setBy == .audio
            ? audioLengthSizes(
                total: total, maxFrames: maxFrames, billing: options.provider.billing, envelope: envelope, loudness: loudness,
                evenRequests: options.maxFrames >= options.provider.lengths.maximum
                    ? balancedRequests(totalFrames: total, provider: options.provider, concurrency: options.concurrency) : 1)
            : numFramesSizes(total: total, maxFrames: maxFrames, envelope: envelope, loudness: loudness)

        var segments: [Plan.Segment] = []
        var start = 0
        // The pauses again, to record how much quiet surrounds each seam (for its transition).
        let pauses =
            sizes.count > 1
            ? loudness.detector.pauses(levels: loudness.levels, threshold: loudness.thresholdDb, envelope: envelope) : []
        for (index, size) in sizes.enumerated() {
            segments.append(
                segment(
                    index: index, start: start, frameCount: size.frameCount, numFrames: size.numFrames,
                    envelope: envelope, estimate: estimate, pauses: pauses))
            start += size.frameCount
        }
        let audio = Plan.Audio(
            sampleRate: sampleRate, channels: channels, samples: samples,
            duration: Double(samples) / Double(sampleRate))
        var plan = Plan(
            totalFrames: total, maxFrames: maxFrames, resolution: options.resolution,
            pricePerSecond: price, layout: layout, audio: audio, segments: segments,
            speechLevelDb: estimate.map { hundredths(Double($0.speechDb)) },
            noiseFloorDb: estimate.map { hundredths(Double($0.noiseFloorDb)) }, provider: options.provider)
        if options.transcript != nil {
            plan.cutsAtSentenceEnds = segments.dropFirst().filter { loudness.atSentenceEnd($0.startTime) }.count
        }
        return plan
    }

    /// The requests on a provider whose requests ask for a number of frames (fal): whole
    /// valid sizes when the total allows it, else one trimmed request or a trimmed last one
    /// (see ``SegmentPlanner``).
    private static func numFramesSizes(
        total: Int, maxFrames: Int, envelope: LoudnessEnvelope, loudness: Loudness
    ) -> (Plan.Layout, [(frameCount: Int, numFrames: Int)]) {
        var sizes: [(frameCount: Int, numFrames: Int)] = []
        if ModelLimits.isRepresentable(total, maxFrames: maxFrames) {
            let costs = cutCosts(totalFrames: total, envelope: envelope, loudness: loudness)
            let cuts = bestCuts(totalFrames: total, maxFrames: maxFrames, costs: costs, trimmedLast: false)
            var previous = 0
            for cut in cuts + [total] {
                sizes.append((cut - previous, cut - previous))
                previous = cut
            }
            return (.wholeClips, sizes)
        }
        if total <= maxFrames {
            // total ≤ maxFrames ≤ 721, so a valid size ≥ total exists.
            let request = ModelLimits.smallestValidRequest(atLeast: total, maximum: maxFrames) ?? maxFrames
            return (.singleTrimmed, [(total, request)])
        }
        let costs = cutCosts(totalFrames: total, envelope: envelope, loudness: loudness)
        let cuts = bestCuts(totalFrames: total, maxFrames: maxFrames, costs: costs, trimmedLast: true)
        var previous = 0
        for cut in cuts {
            sizes.append((cut - previous, cut - previous))
            previous = cut
        }
        let last = total - previous
        sizes.append((last, ModelLimits.smallestValidRequest(atLeast: last, maximum: maxFrames) ?? maxFrames))
        return (.trimmedLast, sizes)
    }

    /// The requests on a provider whose clips are as long as the audio sent (WaveSpeed): every
    /// request but the last a whole number of billing units (seconds) and at least the minimum
    /// charge, so no paid fraction is thrown away; the last one takes the rest. One request
    /// when the audio fits in `maxFrames`. Each request keeps all it asks for.
    private static func audioLengthSizes(
        total: Int, maxFrames: Int, billing: Billing, envelope: LoudnessEnvelope, loudness: Loudness, evenRequests: Int
    ) -> (Plan.Layout, [(frameCount: Int, numFrames: Int)]) {
        let unit = max(1, billing.unitFrames)
        let minimum = max(unit, billing.billedFrames(1))
        let wholeMax = maxFrames / unit * unit
        guard total > maxFrames, wholeMax >= minimum else { return (.wholeClips, [(total, total)]) }
        var costs = cutCosts(totalFrames: total, envelope: envelope, loudness: loudness)
        addEvenCutCosts(&costs, requests: evenRequests, maxFrames: maxFrames)
        let grid = Grid(step: unit, minimum: minimum, maximum: wholeMax)
        let (best, predecessor) = cutTable(totalFrames: total, grid: grid, costs: costs)
        // The last request: least paid waste first (the same for every choice when all others
        // are whole units, unless one would fall under the minimum charge), then least cost.
        var choice: (waste: Int, cost: Double, start: Int)? = nil
        for length in 1...min(maxFrames, total - 1) {
            let start = total - length
            guard best[start] < .infinity else { continue }
            let waste = billing.billedFrames(length) - length
            if choice == nil || waste < choice!.waste || (waste == choice!.waste && best[start] < choice!.cost) {
                choice = (waste, best[start], start)
            }
        }
        guard let choice else { return (.wholeClips, [(total, total)]) }
        var cuts: [Int] = []
        var position = choice.start
        while position > 0 {
            cuts.append(position)
            position = Int(predecessor[position])
        }
        var sizes: [(frameCount: Int, numFrames: Int)] = []
        var previous = 0
        for cut in cuts.reversed() + [total] {
            sizes.append((cut - previous, cut - previous))
            previous = cut
        }
        return (.wholeClips, sizes)
    }

    /// The longest request of the default plan on a provider whose clips follow the audio:
    /// ``balancedRequests(totalFrames:provider:concurrency:)`` requests, each about `T ÷ N`
    /// long. Requests run in rounds of `c`, and a round lasts as long as its longest
    /// request, so this is the fastest plan, and the one with the fewest seams at that speed.
    /// The limit leaves the cuts room to find a pause: `T ÷ N` plus a tenth (at least 5 s),
    /// in whole billing units, never above the provider's cap.
    public static func balancedMaxFrames(totalFrames: Int, provider: Provider, concurrency: Int) -> Int {
        let cap = provider.lengths.maximum
        let unit = max(1, provider.billing.unitFrames)
        let requests = balancedRequests(totalFrames: totalFrames, provider: provider, concurrency: concurrency)
        let share = (totalFrames + requests - 1) / requests
        let room = max(5 * provider.fps, share / 10)
        let limit = (share + room + unit - 1) / unit * unit
        return min(cap / unit * unit, max(limit, provider.billing.billedFrames(1)))
    }

    /// The effective `maxFrames` and the price of `options`, after checking both.
    /// - Throws: ``PlanningError`` naming the option at fault.
    static func checked(_ options: PlanningOptions, totalFrames: Int) throws -> (maxFrames: Int, pricePerSecond: Double) {
        let lengths = options.provider.lengths
        let maxFrames: Int
        if lengths.setBy == .numFrames {
            maxFrames = try effectiveMaxFrames(options.maxFrames)
        } else if options.maxFrames >= lengths.maximum {
            maxFrames = balancedMaxFrames(
                totalFrames: totalFrames, provider: options.provider, concurrency: options.concurrency)
        } else {
            let unit = max(1, options.provider.billing.unitFrames)
            let minimum = max(unit, options.provider.billing.billedFrames(1))
            guard options.maxFrames >= minimum, let m = lengths.roundDown(options.maxFrames) else {
                throw PlanningError.maxFramesBelowMinimum(options.maxFrames, minimum: minimum)
            }
            maxFrames = m
        }
        let price = options.pricePerSecond ?? options.provider.billing.pricePerSecond(options.resolution)
        guard price.isFinite, price >= 0 else { throw PlanningError.invalidPrice(price) }
        return (maxFrames, price)
    }

    /// `value` rounded to 0.01 (how the plan reports levels).
    private static func hundredths(_ value: Double) -> Double { (value * 100).rounded() / 100 }

    // MARK: - Cut costs

    /// The weights of the cut cost (see ``SegmentPlanner``).
    enum Weights {
        static let seam = 1.0
        static let outsidePause = 4.0
        static let outsidePer10Db = 2.0
        static let outsideCapDb = 60.0
        static let insidePer10Db = 0.05
        static let insideCapDb = 40.0
        static let offCentre = 0.01
        static let shortPause = 0.05
        static let fullPauseSeconds = 1.0
        /// A cut in a pause inside a sentence, when the transcript says where sentences end:
        /// less than a seam, far less than leaving the pauses.
        static let midSentence = 0.4
        /// How far (seconds) a cut may sit outside a gap between sentences and still be at
        /// its sentence end (word timings are approximate).
        static let sentenceTolerance = 0.12
    }

    /// The segment from frame `start`, with what is known of the seam there (none for the
    /// first): its loudness (absolute and relative to the speech) and the quiet frames on each
    /// side of it, inside the pause (of `pauses`, in seconds) that holds it.
    static func segment(
        index: Int, start: Int, frameCount: Int, numFrames: Int, speaker: String? = nil,
        envelope: LoudnessEnvelope, estimate: LevelEstimate?, pauses: [ClosedRange<Double>]
    ) -> Plan.Segment {
        var segment = Plan.Segment(
            index: index, startFrame: start, frameCount: frameCount, numFrames: numFrames, cutLoudnessDb: nil,
            speaker: speaker)
        guard index > 0 else { return segment }
        let t = Double(start) / Double(ModelLimits.fps)
        if let db = envelope.rmsDb(from: t - cutWindowHalfWidth, to: t + cutWindowHalfWidth) {
            segment.cutLoudnessDb = hundredths(Double(db))
            if let speech = estimate?.speechDb { segment.cutLevelRelativeDb = hundredths(Double(db) - Double(speech)) }
        }
        let pause = pauses.first { $0.contains(t) }
        let fps = Double(ModelLimits.fps)
        segment.pauseFramesBefore = pause.map { Int(((t - $0.lowerBound) * fps + 1e-6).rounded(.down)) } ?? 0
        segment.pauseFramesAfter = pause.map { Int((($0.upperBound - t) * fps + 1e-6).rounded(.down)) } ?? 0
        return segment
    }

    /// What the cut costs are measured against, derived once per plan: the hop levels and
    /// the pause threshold.
    struct Loudness {
        /// Hop levels of the envelope, in dBFS.
        var levels: [Float]
        /// The detector that finds the pauses.
        var detector: PauseDetector
        /// The pause threshold θ of ``PauseDetector``, in dBFS.
        var thresholdDb: Float
        /// The stretches between sentences (seconds, in order), when a transcript is known.
        var sentenceGaps: [ClosedRange<Double>] = []

        /// Whether a cut at `t` seconds falls between two sentences.
        func atSentenceEnd(_ t: Double) -> Bool {
            let slack = Weights.sentenceTolerance
            return sentenceGaps.contains { $0.lowerBound - slack <= t && t <= $0.upperBound + slack }
        }

        init(levels: [Float], estimate: LevelEstimate?, detector: PauseDetector) {
            self.levels = levels
            self.detector = detector
            thresholdDb = detector.quietThresholdDb(for: estimate)
        }
    }

    /// The cost of a seam at every frame boundary `0...totalFrames` (the ends are never cuts).
    static func cutCosts(totalFrames: Int, envelope: LoudnessEnvelope, loudness: Loudness) -> [Double] {
        let threshold = Double(loudness.thresholdDb)
        let pauses = loudness.detector.pauses(
            levels: loudness.levels, threshold: loudness.thresholdDb,
            envelope: envelope)
        var costs = [Double](repeating: Weights.seam, count: totalFrames + 1)
        let gaps = loudness.sentenceGaps
        var gapIndex = 0
        let fps = Double(ModelLimits.fps)
        let half = cutWindowHalfWidth
        envelope.meanSquares.withUnsafeBufferPointer { hops in
            costs.withUnsafeMutableBufferPointer { out in
                var pauseIndex = 0
                var p = 1
                while p < totalFrames {
                    let t = Double(p) / fps
                    while pauseIndex < pauses.count && pauses[pauseIndex].upperBound < t { pauseIndex += 1 }
                    let inPause = pauseIndex < pauses.count && pauses[pauseIndex].lowerBound <= t
                    var excess = 0.0
                    if let meanSquare = LoudnessEnvelope.windowMeanSquare(
                        hops, hopDuration: envelope.hopDuration, duration: envelope.duration,
                        from: t - half, to: t + half)
                    {
                        excess = max(0, Double(LoudnessEnvelope.decibels(meanSquare: meanSquare)) - threshold)
                    }
                    var cost = Weights.seam
                    if inPause && !loudness.sentenceGaps.isEmpty {
                        let slack = Weights.sentenceTolerance
                        while gapIndex < gaps.count && gaps[gapIndex].upperBound + slack < t { gapIndex += 1 }
                        if !(gapIndex < gaps.count && gaps[gapIndex].lowerBound - slack <= t) { cost += Weights.midSentence }
                    }
                    if inPause {
                        let pause = pauses[pauseIndex]
                        let halfLength = (pause.upperBound - pause.lowerBound) / 2
                        let offCentre =
                            halfLength > 0
                            ? min(1, abs(t - (pause.lowerBound + halfLength)) / halfLength) : 0
                        let shortness = max(0, 1 - 2 * halfLength / Weights.fullPauseSeconds)
                        cost +=
                            Weights.insidePer10Db * min(excess, Weights.insideCapDb) / 10
                            + Weights.offCentre * offCentre + Weights.shortPause * shortness
                    } else {
                        cost +=
                            Weights.outsidePause
                            + Weights.outsidePer10Db * min(excess, Weights.outsideCapDb) / 10
                    }
                    out[p] = cost
                    p += 1
                }
            }
        }
        return costs
    }
}
