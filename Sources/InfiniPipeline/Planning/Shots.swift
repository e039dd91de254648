// InfiniPipeline: the edit of a conversation, one shot per speaker turn, changes in the gaps.

extension SpeakerTimeline {
    /// One shot of a multi-speaker edit: a speaker on screen from a shot change to the next.
    ///
    /// A shot change is not a fixed frame but a range: anywhere from the end of the last voice of
    /// the shot before to the start of this shot's speaker's voice (the gap between the two
    /// voices), so the planner can move it to make every shot a whole number of valid requests.
    public struct Shot: Sendable, Equatable {
        /// The speaker on screen.
        public var speaker: String
        /// The output frames at which this shot may start (the first frame it shows): the gap
        /// before its speaker's voice, `0...0` for the first shot. A gap narrower than a frame, or
        /// a turn taken over overlapping speech, gives a single frame.
        public var start: ClosedRange<Int>
        /// From the first to the last voice heard in the shot, in seconds (interjections it kept
        /// included).
        public var voice: Range<Double>

        /// A shot.
        /// - Parameters:
        ///   - speaker: The speaker on screen.
        ///   - start: The output frames at which the shot may start.
        ///   - voice: From the first to the last voice heard in the shot, in seconds.
        public init(speaker: String, start: ClosedRange<Int>, voice: Range<Double>) {
            self.speaker = speaker
            self.start = start
            self.voice = voice
        }
    }
}

/// The old name of ``SpeakerTimeline/Shot``.
@available(*, deprecated, renamed: "SpeakerTimeline.Shot")
public typealias Shot = SpeakerTimeline.Shot

extension SpeakerTimeline {
    /// The default minimum shot, in seconds (2.0): shorter turns do not cut away.
    public static let defaultMinShot = 2.0

    /// The default minimum shot on `provider`: ``defaultMinShot``, or the provider's minimum
    /// charge when that is longer (5 s on WaveSpeed), so that no shot pays for time it does not show.
    public static func defaultMinShot(for provider: Provider) -> Double {
        max(defaultMinShot, Double(provider.billing.minimumFrames) / Double(provider.fps))
    }

    /// Passes that drop interjections one neighbourhood at a time before the rest go at once.
    static let interjectionPasses = 64

    /// The edit: the shots, in order, covering output frames `0..<totalFrames`.
    ///
    /// Turns are read in time order. A speaker holds the floor from their first voice until
    /// someone else speaks after they stop; speech that starts while the holder talks
    /// (overlapping speech) takes the floor only when the holder stops, and only if it goes on
    /// after that. A turn whose voice lasts less than `minShot` (an interjection: "yeah",
    /// "mm-hm", laughter) stays in the current shot, and the silence before the first voice
    /// belongs to the first speaker (a short first turn gives way to the next). Each change
    /// may fall anywhere in the gap between the last voice of one shot and the first of the
    /// next (``Shot/start``). With nobody speaking at all, the first speaker has one shot.
    /// - Parameters:
    ///   - totalFrames: Output frames of the audio (``SegmentPlanner/totalFrames(samples:sampleRate:)``).
    ///   - minShot: The shortest turn that gets its own shot, in seconds (2.0).
    /// - Throws: ``SpeakerError`` of kind `invalidMinShot` (option `minShot`) for a negative,
    ///   infinite or NaN `minShot`.
    public func shots(totalFrames: Int, minShot: Double = SpeakerTimeline.defaultMinShot) throws -> [SpeakerTimeline.Shot] {
        guard minShot.isFinite, minShot >= 0 else { throw SpeakerError.invalidMinShot(minShot) }
        var intervals: [(speaker: Int, range: Range<Double>)] = []
        for (speaker, ranges) in voiced.enumerated() {
            for range in ranges { intervals.append((speaker, range)) }
        }
        intervals.sort { ($0.range.lowerBound, $0.speaker) < ($1.range.lowerBound, $1.speaker) }

        // Interjections: while some turn's voice lasts less than minShot, the short turns no
        // longer than their neighbours go (their voice stays in whatever shot is on screen) and
        // the turns are read again, so an interjection never splits the turn it interrupts.
        // Each pass drops at least the shortest turn, and usually most short ones; after
        // ``interjectionPasses`` passes (a long run of ever shorter turns) every short turn left
        // goes at once, so the work stays linear in the number of turns.
        var turns = SpeakerTimeline.floorTurns(intervals)
        var passes = 0
        while turns.count > 1 {
            let length = turns.map { $0.last - $0.first }
            let lastPass = passes >= SpeakerTimeline.interjectionPasses
            passes += 1
            var dropped = Set<Int>()
            for index in turns.indices where length[index] < minShot {
                let before = index > 0 ? length[index - 1] : .infinity
                let after = index + 1 < turns.count ? length[index + 1] : .infinity
                if lastPass || (length[index] <= before && length[index] <= after) {
                    dropped.formUnion(turns[index].members)
                }
            }
            guard !dropped.isEmpty else { break }
            let remaining = intervals.enumerated().filter { !dropped.contains($0.offset) }.map(\.element)
            // Keep one turn at least: with every voice short, the longest holds the only shot.
            guard !remaining.isEmpty else {
                let longest = length.indices.max { length[$0] < length[$1] }!
                turns = [turns[longest]]
                break
            }
            intervals = remaining
            turns = SpeakerTimeline.floorTurns(intervals)
        }
        let kept = turns
        guard !kept.isEmpty else {
            return [SpeakerTimeline.Shot(speaker: speakers[0], start: 0...0, voice: 0..<0)]
        }

        let fps = Double(ModelLimits.fps)
        var shots: [SpeakerTimeline.Shot] = []
        for (index, turn) in kept.enumerated() {
            let voice = turn.first..<max(turn.first, turn.last)
            guard index > 0 else {
                shots.append(SpeakerTimeline.Shot(speaker: speakers[turn.speaker], start: 0...0, voice: voice))
                continue
            }
            // The gap: from the last voice of the shot before to this speaker's first voice.
            let gapStart = min(kept[index - 1].last, turn.last)
            let gapEnd = max(gapStart, turn.first)
            var earliest = Int((gapStart * fps - 1e-9).rounded(.up))
            var latest = Int((gapEnd * fps + 1e-9).rounded(.down))
            if earliest > latest {
                let middle = Int(((gapStart + gapEnd) / 2 * fps).rounded())
                (earliest, latest) = (middle, middle)
            }
            let floor = (shots.last.map { $0.start.upperBound } ?? 0) + 1
            earliest = min(max(earliest, floor), totalFrames - 1)
            latest = min(max(latest, earliest), totalFrames - 1)
            guard earliest >= floor, earliest < totalFrames else { continue }
            shots.append(SpeakerTimeline.Shot(speaker: speakers[turn.speaker], start: earliest...latest, voice: voice))
        }
        // Merge neighbours of one speaker left by a dropped change.
        var merged: [SpeakerTimeline.Shot] = []
        for shot in shots {
            if let last = merged.last, last.speaker == shot.speaker {
                merged[merged.count - 1].voice = last.voice.lowerBound..<max(last.voice.upperBound, shot.voice.upperBound)
            } else {
                merged.append(shot)
            }
        }
        return merged
    }

    /// A speaker's hold on the floor: from their first voice to their last, and which of the
    /// intervals it was read from are theirs.
    struct FloorTurn {
        var speaker: Int
        var first: Double
        var last: Double
        var members: Set<Int>
    }

    /// The turns of `intervals` (sorted by start): a speaker holds the floor from their first
    /// voice until someone else speaks after they stop; speech that starts while the holder
    /// talks takes the floor when the holder stops, if it goes on after that.
    static func floorTurns(_ intervals: [(speaker: Int, range: Range<Double>)]) -> [FloorTurn] {
        var turns: [FloorTurn] = []
        for (index, (speaker, range)) in intervals.enumerated() {
            guard var current = turns.last else {
                turns.append(FloorTurn(speaker: speaker, first: range.lowerBound, last: range.upperBound, members: [index]))
                continue
            }
            if speaker == current.speaker {
                current.last = max(current.last, range.upperBound)
                current.members.insert(index)
                turns[turns.count - 1] = current
            } else if range.lowerBound < current.last {
                // Overlapping speech: the floor passes when the holder stops, if it goes on.
                if range.upperBound > current.last {
                    turns.append(FloorTurn(speaker: speaker, first: current.last, last: range.upperBound, members: [index]))
                } else {
                    turns[turns.count - 1].members.insert(index)
                }
            } else {
                turns.append(FloorTurn(speaker: speaker, first: range.lowerBound, last: range.upperBound, members: [index]))
            }
        }
        return turns
    }
}
