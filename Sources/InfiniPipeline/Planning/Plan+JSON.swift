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
        guard ModelLimits.isValidRequestSize(maxFrames) else {
            throw fail(
                "maxFrames",
                "\(maxFrames) is not a valid request size (4n + 1 within \(ModelLimits.minimumFrames)…\(ModelLimits.maximumFrames))"
            )
        }
        guard pricePerSecond.isFinite, pricePerSecond >= 0 else {
            throw fail("pricePerSecond", "\(pricePerSecond) must be a number ≥ 0")
        }
        let rebuilt = try checkedSegments()
        try checkSpeakers()
        var plan = self
        plan.segments = rebuilt
        plan.paidFrames = rebuilt.reduce(0) { $0 + $1.numFrames }
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
            guard ModelLimits.isValidRequestSize(segment.numFrames), segment.numFrames <= maxFrames else {
                throw fail(
                    "\(key).numFrames",
                    "\(segment.numFrames) is not a valid request size (4n + 1 within \(ModelLimits.minimumFrames)…\(maxFrames))")
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

/// A plan file that cannot be used: which key, and why.
///
/// Extensible like ``FalError``: a struct over a private code, compared through ``kind``, so new
/// kinds can be added without breaking callers. ``description`` is one line, e.g.
/// `"segments[3].frameCount: -5 must be at least 1"`; callers put the file's name in front.
public struct PlanFileError: Error, CustomStringConvertible, Sendable, Equatable {
    fileprivate enum Code: String, Sendable {
        case notAPlan, missingKey, wrongType, invalidValue
    }

    /// The kind of a ``PlanFileError``: compare with `==` or match with `~=`.
    /// New kinds may be added; switch with a `default`.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        fileprivate let code: Code
        fileprivate init(_ code: Code) { self.code = code }
        /// The kind's name, e.g. `missingKey`.
        public var description: String { code.rawValue }

        /// Matches an error against a kind: `case PlanFileError.Kind.missingKey = error`.
        public static func ~= (kind: Kind, error: any Error) -> Bool {
            (error as? PlanFileError)?.kind == kind
        }

        /// Not JSON, or JSON that is not an object.
        public static let notAPlan = Kind(.notAPlan)
        /// A key the plan needs is missing.
        public static let missingKey = Kind(.missingKey)
        /// A value of the wrong type: `null`, a string for a number, a fraction for an integer,
        /// or a resolution or layout that does not exist.
        public static let wrongType = Kind(.wrongType)
        /// A value of the right type that breaks a rule of plans (see ``Plan/validated()``).
        public static let invalidValue = Kind(.invalidValue)
    }

    private let code: Code
    /// The kind of failure.
    public var kind: Kind { Kind(code) }
    /// The key path, such as `segments[3].numFrames`; empty when the whole file is at fault.
    public let key: String
    /// What is wrong with it.
    public let reason: String

    /// An error of `kind` about `key`.
    init(_ kind: Kind, key: String, reason: String) {
        self.code = kind.code
        self.key = key
        self.reason = reason
    }

    /// `"<key>: <reason>"`, or the reason alone.
    public var description: String { key.isEmpty ? reason : "\(key): \(reason)" }

    /// The first value of the wrong kind in a parsed plan: a number that is not an integer
    /// where one is needed, or a resolution or layout that does not exist.
    static func typeProblem(in object: Any) -> PlanFileError? {
        func integer(_ value: Any?, _ key: String) -> PlanFileError? {
            guard let number = value as? NSNumber, !(value is Bool) else { return nil }
            let double = number.doubleValue
            if double.rounded() != double || abs(double) >= 9.2e18 {
                return PlanFileError(.wrongType, key: key, reason: "\(number) is not an integer")
            }
            return nil
        }
        func oneOf(_ value: Any?, _ key: String, _ allowed: [String]) -> PlanFileError? {
            guard let text = value as? String, !allowed.contains(text) else { return nil }
            return PlanFileError(.wrongType, key: key, reason: "\"\(text)\" is not one of \(allowed.joined(separator: ", "))")
        }
        guard let plan = object as? [String: Any] else {
            return PlanFileError(.notAPlan, key: "", reason: "not a plan (a JSON object is needed)")
        }
        for key in ["fps", "totalFrames", "maxFrames", "paidFrames"] {
            if let problem = integer(plan[key], key) { return problem }
        }
        if let problem = oneOf(plan["resolution"], "resolution", Resolution.allCases.map(\.rawValue)) { return problem }
        if let problem = oneOf(plan["layout"], "layout", ["wholeClips", "singleTrimmed", "trimmedLast"]) { return problem }
        if let audio = plan["audio"] as? [String: Any] {
            for key in ["sampleRate", "channels", "samples"] {
                if let problem = integer(audio[key], "audio.\(key)") { return problem }
            }
        }
        for (i, segment) in ((plan["segments"] as? [Any]) ?? []).enumerated() {
            guard let segment = segment as? [String: Any] else { continue }
            for key in ["index", "startFrame", "frameCount", "numFrames"] {
                if let problem = integer(segment[key], "segments[\(i)].\(key)") { return problem }
            }
        }
        return nil
    }

    /// Translates Foundation's decoding error into the key it concerns.
    init(decoding error: DecodingError) {
        func path(_ keys: [any CodingKey]) -> String {
            var text = ""
            for key in keys {
                if let index = key.intValue, key.stringValue.hasPrefix("Index") {
                    text += "[\(index)]"
                } else {
                    text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
                }
            }
            return text
        }
        func type(_ type: Any.Type) -> String {
            switch type {
            case is Int.Type: return "an integer"
            case is Double.Type: return "a number"
            case is String.Type: return "a string"
            case is Bool.Type: return "true or false"
            default: return type is any Collection.Type ? "a list" : "an object"
            }
        }
        switch error {
        case .keyNotFound(let key, let context):
            self.init(.missingKey, key: path(context.codingPath + [key]), reason: "missing")
        case .valueNotFound(let wanted, let context):
            self.init(.wrongType, key: path(context.codingPath), reason: "null, but \(type(wanted)) is needed")
        case .typeMismatch(let wanted, let context):
            self.init(.wrongType, key: path(context.codingPath), reason: "not \(type(wanted))")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
                self.init(.notAPlan, key: "", reason: "not valid JSON" + (underlying.map { " (\($0))" } ?? ""))
            } else {
                self.init(.wrongType, key: path(context.codingPath), reason: context.debugDescription)
            }
        @unknown default:
            self.init(.notAPlan, key: "", reason: "cannot be read as a plan")
        }
    }
}
