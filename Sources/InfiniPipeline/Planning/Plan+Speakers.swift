// InfiniPipeline: the speakers of a multi-speaker plan: their checks and their shot changes.

extension Plan {
    /// A shot change of a multi-speaker plan: the first frame of a segment whose speaker differs
    /// from the one before it.
    public struct ShotChange: Sendable, Equatable {
        /// The first output frame of the new shot.
        public var frame: Int
        /// The speaker on screen before the change.
        public var from: String
        /// The speaker on screen from the change on.
        public var to: String
        /// `frame / 25`, in seconds.
        public var time: Double { Double(frame) / Double(ModelLimits.fps) }
    }

    /// The shot changes, in order: empty for a single-speaker plan.
    public var shotChanges: [ShotChange] {
        var changes: [ShotChange] = []
        for (previous, segment) in zip(segments, segments.dropFirst()) {
            if let from = previous.speaker, let to = segment.speaker, from != to {
                changes.append(ShotChange(frame: segment.startFrame, from: from, to: to))
            }
        }
        return changes
    }

    /// The table's lines about shots: one listing every shot change's time (empty for a
    /// single-speaker plan).
    func shotChangeLines() -> [String] {
        guard speakers != nil else { return [] }
        let changes = shotChanges
        guard !changes.isEmpty else { return ["shot changes: none"] }
        return [
            "shot changes: " + changes.map { "\(Plan.clock(frames: $0.frame)) \($0.from) → \($0.to)" }.joined(separator: ", ")
        ]
    }

    /// Checks the speakers: with a `speakers` list, it is not empty, its names are non-empty and
    /// distinct, and every segment names one of them; without one, no segment names a speaker.
    /// - Throws: ``PlanFileError`` naming the first key that breaks a rule.
    func checkSpeakers() throws {
        func fail(_ key: String, _ reason: String) -> PlanFileError { PlanFileError(.invalidValue, key: key, reason: reason) }
        guard let speakers else {
            if let index = segments.firstIndex(where: { $0.speaker != nil }) {
                throw fail(
                    "segments[\(index)].speaker",
                    "\"\(segments[index].speaker!)\", but the plan has no speakers list")
            }
            return
        }
        guard !speakers.isEmpty else { throw fail("speakers", "the list is empty: a multi-speaker plan needs its speakers") }
        var names = Set<String>()
        for (index, speaker) in speakers.enumerated() {
            guard !speaker.name.isEmpty else { throw fail("speakers[\(index)].name", "empty") }
            guard names.insert(speaker.name).inserted else {
                throw fail("speakers[\(index)].name", "\"\(speaker.name)\" is listed twice")
            }
        }
        let list = speakers.map(\.name).joined(separator: ", ")
        for (index, segment) in segments.enumerated() {
            guard let name = segment.speaker else {
                throw fail("segments[\(index)].speaker", "missing: a multi-speaker plan names each segment's speaker (\(list))")
            }
            guard names.contains(name) else {
                throw fail("segments[\(index)].speaker", "\"\(name)\" is not one of the plan's speakers (\(list))")
            }
        }
    }
}
