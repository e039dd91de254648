import Foundation

extension Plan {
    /// The plan as pretty-printed JSON with sorted keys (what `infinistitch plan --json` prints).
    /// - Throws: `EncodingError` when a level is not finite (a plan from ``SegmentPlanner``
    ///   never has one).
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// Reads a plan from JSON as `jsonData()` writes it, and checks that it is a plan the
    /// stitcher can follow (see ``validated()``). Values derived from others (`startTime`,
    /// `endTime`, `paidFrames`, `estimatedCost`) are computed again, not trusted.
    /// - Parameter data: The plan's JSON.
    /// - Throws: ``PlanFileError`` naming the key (`segments[3].frameCount`) and the reason.
    public static func from(json data: Data) throws -> Plan {
        let decoded: Plan
        do {
            decoded = try JSONDecoder().decode(Plan.self, from: data)
        } catch let error as DecodingError {
            // Foundation calls valid JSON with a number out of place "not valid JSON" and
            // names enum values in Swift's words: look at the parsed JSON to name the key.
            if let object = try? JSONSerialization.jsonObject(with: data, options: .fragmentsAllowed),
                let problem = PlanFileError.typeProblem(in: object)
            {
                throw problem
            }
            throw PlanFileError(decoding: error)
        }
        return try decoded.validated()
    }

    /// This plan with its derived values computed again, after checking it: `fps` is 25; the
    /// audio has a sample rate in 1…768000 Hz, 1…64 channels and at least one sample;
    /// `totalFrames` is `ceil(samples · 25 / sampleRate)`; `maxFrames` is a valid request size;
    /// the price is finite and ≥ 0; the segments are numbered from 0 and contiguous from frame
    /// 0, each keeps at least one frame from a valid request (`4n + 1` frames within 41 …
    /// `maxFrames`) of at least that many frames, and together they keep exactly `totalFrames`;
    /// in a multi-speaker plan (one with `speakers`) every segment names one of the speakers.
    /// - Throws: ``PlanFileError`` naming the first key that breaks a rule.
    public func validated() throws -> Plan {
        func fail(_ key: String, _ reason: String) -> PlanFileError { PlanFileError(.invalidValue, key: key, reason: reason) }
        guard fps == ModelLimits.fps else { throw fail("fps", "\(fps): the model renders \(ModelLimits.fps) frames per second") }
        guard (1...768_000).contains(audio.sampleRate) else {
            throw fail("audio.sampleRate", "\(audio.sampleRate) Hz is not a sample rate (1…768000)")
        }
        guard (1...64).contains(audio.channels) else {
            throw fail("audio.channels", "\(audio.channels) is not a channel count (1…64)")
        }
        guard audio.samples >= 1 else { throw fail("audio.samples", "\(audio.samples): the audio must have samples") }
        let (scaled, overflow) = audio.samples.multipliedReportingOverflow(by: ModelLimits.fps)
        guard !overflow else { throw fail("audio.samples", "\(audio.samples) is too large") }
        let expectedFrames = scaled / audio.sampleRate + (scaled % audio.sampleRate == 0 ? 0 : 1)
        guard totalFrames == expectedFrames else {
            throw fail(
                "totalFrames",
                "\(totalFrames), but \(audio.samples) samples at \(audio.sampleRate) Hz make \(expectedFrames) frames")
        }
        if let provider, Provider.named(provider) == nil {
            let known = Provider.known.map(\.id).joined(separator: ", ")
            throw PlanFileError(.wrongType, key: "provider", reason: "\"\(provider)\" is not one of \(known)")
        }
        let lengths = providerRules.lengths
        guard lengths.isValid(maxFrames) else {
            throw fail("maxFrames", "\(maxFrames) is not a valid request size (\(lengths.rule))")
        }
        guard pricePerSecond.isFinite, pricePerSecond >= 0 else {
            throw fail("pricePerSecond", "\(pricePerSecond) must be a number ≥ 0")
        }
        let rebuilt = try checkedSegments()
        try checkSpeakers()
        var plan = self
        plan.segments = rebuilt
        plan.paidFrames = rebuilt.reduce(0) { $0 + providerRules.billing.billedFrames($1.numFrames) }
        plan.estimatedCost = Plan.cost(paidFrames: plan.paidFrames, pricePerSecond: pricePerSecond)
        plan.audio.duration = Double(audio.samples) / Double(audio.sampleRate)
        return plan
    }

    /// The segments with their times computed again, after checking that they are numbered
    /// from 0, contiguous from frame 0, each keeps at least one frame from a valid request
    /// (`4n + 1` frames within 41 … `maxFrames`) of at least that many frames, and together
    /// keep exactly `totalFrames`. The stitcher checks every plan it is given this way.
    /// - Throws: ``PlanFileError`` naming the first key that breaks a rule.
    func checkedSegments() throws -> [Segment] {
        func fail(_ key: String, _ reason: String) -> PlanFileError { PlanFileError(.invalidValue, key: key, reason: reason) }
        guard totalFrames >= 1 else { throw fail("totalFrames", "\(totalFrames) must be at least 1") }
        guard !segments.isEmpty else { throw fail("segments", "the plan has no segments") }
        var next = 0
        var rebuilt: [Segment] = []
        for (position, segment) in segments.enumerated() {
            let key = "segments[\(position)]"
            guard segment.index == position else {
                throw fail("\(key).index", "\(segment.index): segments must be numbered 0, 1, 2, … in order")
            }
            guard segment.startFrame == next else {
                throw fail(
                    "\(key).startFrame",
                    "\(segment.startFrame): segment \(position) must start at frame \(next), where the one before it ends")
            }
            guard segment.frameCount >= 1 else { throw fail("\(key).frameCount", "\(segment.frameCount) must be at least 1") }
            guard segment.frameCount <= totalFrames - next else {
                throw fail("\(key).frameCount", "\(segment.frameCount) runs past totalFrames \(totalFrames)")
            }
            let lengths = providerRules.lengths
            guard lengths.isValid(segment.numFrames), segment.numFrames <= maxFrames else {
                throw fail(
                    "\(key).numFrames",
                    "\(segment.numFrames) is not a valid request size (\(lengths.rule(maximum: maxFrames)))")
            }
            if lengths.setBy == .audio, segment.numFrames != segment.frameCount {
                throw fail(
                    "\(key).numFrames",
                    "\(segment.numFrames): on \(providerRules.id) a clip is as long as its audio, so it must equal frameCount \(segment.frameCount)"
                )
            }
            guard segment.numFrames >= segment.frameCount else {
                throw fail(
                    "\(key).numFrames", "\(segment.numFrames) is less than the \(segment.frameCount) frames the segment keeps")
            }
            if let level = segment.cutLoudnessDb, !level.isFinite {
                throw fail("\(key).cutLoudnessDb", "\(level) is not a level")
            }
            var copy = segment
            copy.startTime = Double(segment.startFrame) / Double(ModelLimits.fps)
            copy.endTime = Double(segment.endFrame) / Double(ModelLimits.fps)
            rebuilt.append(copy)
            next += segment.frameCount
        }
        guard next == totalFrames else {
            throw fail("segments", "the segments keep \(next) frames but totalFrames is \(totalFrames)")
        }
        return rebuilt
    }
}
