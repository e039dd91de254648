// InfiniPipeline: multi-speaker plans, a sequence of shots each made of whole requests.

extension SegmentPlanner {
    /// Extra cost of a shot change moved out of its gap into a voice (on top of the cut cost
    /// there, which already counts the loudness).
    static let outsideGapCost = 4.0
    /// How far (in frames, on each side) shot changes may leave their gaps, tried in turn until
    /// every shot can be a whole number of valid requests.
    static let shotChangeMargins = [0, 4, 12, 25]

    /// Plans a multi-speaker run: decodes who speaks when from `source`, makes the shots
    /// (``SpeakerTimeline/shots(totalFrames:minShot:)``) and plans them
    /// (``plan(samples:sampleRate:channels:envelope:shots:speakers:options:)``).
    ///
    /// This is the one call a multi-speaker run needs after analysing its audio.
    /// - Parameters:
    ///   - analysis: The analysed final mix (its `source` is read again for channels).
    ///   - speakers: The speakers, each with its portrait's path, in order (2–4 for the CLI).
    ///   - source: Where who-speaks-when comes from (``SpeakerSource/automatic`` reads the
    ///     diarized ``PlanningOptions/transcript``).
    ///   - minShot: The shortest turn that gets its own shot, in seconds; `nil` for the
    ///     provider's default (``SpeakerTimeline/defaultMinShot(for:)``: 2.0 on fal, 5.0 on WaveSpeed).
    ///   - options: The largest request, resolution, price and pause detection.
    /// - Returns: The plan and the timeline it was made from (whose warnings a caller shows).
    /// - Throws: ``PlanningError`` for bad options or audio, ``SpeakerError`` for bad speakers,
    ///   `minShot` or who-speaks-when input, `MediaError` for a track that cannot be decoded.
    public static func plan(
        _ analysis: AudioAnalysis, speakers: [Plan.Speaker], source: SpeakerSource,
        minShot: Double? = nil, options: PlanningOptions = PlanningOptions()
    ) throws -> (plan: Plan, timeline: SpeakerTimeline) {
        _ = try checked(options, totalFrames: 1)
        let minShot = minShot ?? SpeakerTimeline.defaultMinShot(for: options.provider)
        guard minShot.isFinite, minShot >= 0 else { throw SpeakerError.invalidMinShot(minShot) }
        let total = try totalFrames(samples: analysis.samples, sampleRate: analysis.format.sampleRate)
        let timeline = try SpeakerTimeline.load(
            source, speakers: speakers.map(\.name), audio: analysis, detector: options.pauseDetector,
            transcript: options.transcript)
        let shots = try timeline.shots(totalFrames: total, minShot: minShot)
        let plan = try plan(
            samples: analysis.samples, sampleRate: analysis.format.sampleRate, channels: analysis.format.channels,
            envelope: analysis.envelope, shots: shots, speakers: speakers, options: options)
        return (plan, timeline)
    }

    /// Plans a sequence of shots: each shot is a whole number of valid requests, each segment
    /// shows the speaker of its shot, and the plan lists `speakers`.
    ///
    /// On a provider whose clips are as long as their audio (WaveSpeed), each shot is instead a
    /// run of whole-second requests with only its last one partial, every request at least the
    /// minimum charge: changes go on whole seconds when their gaps allow it, and a shot of `L`
    /// seconds pays `ceil(L)` (see `audioShotCuts`).
    ///
    /// Inside a shot the single-speaker rules hold (4n + 1 frames within the cap, seams in
    /// pauses, the same cut costs). Each shot change is one of the cuts and lies in its range
    /// (``Shot/start``), placed where the cut costs least and where it makes every shot's
    /// length a sum of valid sizes, so nothing paid is thrown away: a whole-clip plan pays
    /// exactly the frames it needs, as the single-speaker plan does. When a change's range
    /// leaves no such length, the ranges are widened into the voices (by 4, 12, then 25
    /// frames, at an extra cost), and failing that the shortest shot joins its neighbour.
    /// Audio too short for whole clips (see ``SegmentPlanner``) gets the single-speaker plan,
    /// each segment showing the speaker whose shot covers most of it.
    /// - Parameters:
    ///   - samples: Decoded sample frames (per channel).
    ///   - sampleRate: Sample frames per second.
    ///   - channels: Channels in the source.
    ///   - envelope: The loudness of the final mix.
    ///   - shots: The edit, in order; the first starts at frame 0.
    ///   - speakers: The speakers and their portraits; every shot's speaker must be one of them.
    ///   - options: The largest request, resolution, price and pause detection.
    /// - Throws: ``PlanningError`` for bad audio or options; ``SpeakerError`` for speakers
    ///   that are empty or repeated, or a shot whose speaker is not one of them.
    public static func plan(
        samples: Int, sampleRate: Int, channels: Int, envelope: LoudnessEnvelope, shots: [SpeakerTimeline.Shot],
        speakers: [Plan.Speaker], options: PlanningOptions = PlanningOptions()
    ) throws -> Plan {
        let names = speakers.map(\.name)
        try SpeakerTimeline.check(speakers: names)
        for shot in shots where !names.contains(shot.speaker) {
            throw SpeakerError.invalidSpeakers(
                "shot speaker \"\(shot.speaker)\" is not one of the speakers (\(names.joined(separator: ", ")))")
        }
        var single = try plan(
            samples: samples, sampleRate: sampleRate, channels: channels, envelope: envelope, options: options)
        single.speakers = speakers
        let total = single.totalFrames
        var shots = shots.isEmpty ? [SpeakerTimeline.Shot(speaker: names[0], start: 0...0, voice: 0..<0)] : shots
        shots[0].start = 0...0
        guard single.layout == .wholeClips, shots.count > 1 else {
            for index in single.segments.indices {
                single.segments[index].speaker = majoritySpeaker(single.segments[index], shots: shots, total: total)
            }
            return single
        }

        let levels = envelope.levelsDb
        let estimate = LevelEstimate.estimate(LevelHistogram(levels: levels))
        let loudness = Loudness(levels: levels, estimate: estimate, detector: options.pauseDetector)
        let baseCosts = cutCosts(totalFrames: total, envelope: envelope, loudness: loudness)
        let provider = options.provider
        while true {
            for margin in shotChangeMargins {
                let found =
                    provider.lengths.setBy == .audio
                    ? audioShotCuts(
                        shots: shots, total: total, maxFrames: single.maxFrames, billing: provider.billing, costs: baseCosts,
                        margin: margin)
                    : shotCuts(shots: shots, total: total, maxFrames: single.maxFrames, costs: baseCosts, margin: margin)
                if let cuts = found {
                    let pauses = loudness.detector.pauses(
                        levels: loudness.levels, threshold: loudness.thresholdDb, envelope: envelope)
                    return shotPlan(
                        single, cuts: cuts.cuts, changes: cuts.changes, shots: shots, envelope: envelope, estimate: estimate,
                        pauses: pauses)
                }
            }
            // No margin works (a shot shorter than the smallest request): merge the shortest shot.
            var shortest = 1
            var shortestLength = Int.max
            for index in 1..<shots.count {
                let end = index + 1 < shots.count ? shots[index + 1].start.lowerBound : total
                let length = end - shots[index].start.upperBound
                if length < shortestLength { (shortest, shortestLength) = (index, length) }
            }
            let previous = shots[shortest - 1]
            shots.remove(at: shortest)
            if shots.count == 1 { break }
            // Two shots of one speaker side by side become one.
            if shortest < shots.count, shots[shortest].speaker == previous.speaker { shots.remove(at: shortest) }
            if shots.count == 1 { break }
        }
        for index in single.segments.indices { single.segments[index].speaker = shots[0].speaker }
        return single
    }

    /// The cuts of a whole-clip plan with one cut in each shot change's range (widened by
    /// `margin` frames each side, at an extra cost outside the gap), and the cut chosen as each
    /// change; `nil` when no such plan exists.
    private static func shotCuts(
        shots: [SpeakerTimeline.Shot], total: Int, maxFrames: Int, costs baseCosts: [Double], margin: Int
    ) -> (cuts: [Int], changes: [Int])? {
        var costs = baseCosts
        var ranges: [ClosedRange<Int>] = []
        for index in 1..<shots.count {
            let gap = shots[index].start
            let lower = max(gap.lowerBound - margin, (ranges.last?.upperBound ?? 0) + 1, 1)
            let upper = min(gap.upperBound + margin, total - 1)
            guard lower <= upper else { return nil }
            for p in lower...upper where !gap.contains(p) { costs[p] += outsideGapCost }
            ranges.append(lower...upper)
        }
        // A segment ending at p starts at or after the last range that ends before p.
        var earliest = [Int32](repeating: 0, count: total + 1)
        var next = 0
        var limit: Int32 = 0
        for p in 0...total {
            while next < ranges.count && ranges[next].upperBound < p {
                limit = Int32(ranges[next].lowerBound)
                next += 1
            }
            earliest[p] = limit
        }
        let (best, predecessor) = cutTable(
            totalFrames: total, maxFrames: maxFrames, costs: costs, earliestPredecessor: earliest)
        guard best[total] < .infinity else { return nil }
        var cuts: [Int] = []
        var position = Int(predecessor[total])
        while position > 0 {
            cuts.append(position)
            position = Int(predecessor[position])
        }
        cuts.reverse()
        // Each change is the first cut in its range (one exists: no segment skips a range).
        var changes: [Int] = []
        var c = 0
        for range in ranges {
            while c < cuts.count && cuts[c] < range.lowerBound { c += 1 }
            guard c < cuts.count, range.contains(cuts[c]) else { return nil }
            changes.append(cuts[c])
        }
        return (cuts, changes)
    }

    /// The single-speaker plan's frame with the shot-aware cuts and each segment's speaker.
    private static func shotPlan(
        _ single: Plan, cuts: [Int], changes: [Int], shots: [SpeakerTimeline.Shot], envelope: LoudnessEnvelope,
        estimate: LevelEstimate?, pauses: [ClosedRange<Double>]
    ) -> Plan {
        var segments: [Plan.Segment] = []
        var start = 0
        var shot = 0
        for (index, end) in (cuts + [single.totalFrames]).enumerated() {
            while shot < changes.count && changes[shot] <= start { shot += 1 }
            segments.append(
                segment(
                    index: index, start: start, frameCount: end - start, numFrames: end - start,
                    speaker: shots[shot].speaker, envelope: envelope, estimate: estimate, pauses: pauses))
            start = end
        }
        return Plan(
            totalFrames: single.totalFrames, maxFrames: single.maxFrames, resolution: single.resolution,
            pricePerSecond: single.pricePerSecond, layout: .wholeClips, audio: single.audio, segments: segments,
            speechLevelDb: single.speechLevelDb, noiseFloorDb: single.noiseFloorDb, speakers: single.speakers,
            provider: single.providerRules)
    }

    /// The speaker whose shot covers most of `segment` (shot changes at their ranges' middles).
    private static func majoritySpeaker(_ segment: Plan.Segment, shots: [SpeakerTimeline.Shot], total: Int) -> String {
        var best = shots[0].speaker
        var bestOverlap = -1
        for (index, shot) in shots.enumerated() {
            let start = index == 0 ? 0 : (shot.start.lowerBound + shot.start.upperBound) / 2
            let end =
                index + 1 < shots.count ? (shots[index + 1].start.lowerBound + shots[index + 1].start.upperBound) / 2 : total
            let overlap = min(end, segment.endFrame) - max(start, segment.startFrame)
            if overlap > bestOverlap { (best, bestOverlap) = (shot.speaker, overlap) }
        }
        return best
    }
}
