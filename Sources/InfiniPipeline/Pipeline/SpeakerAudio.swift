import Foundation

/// What each request of a multi-speaker run hears: the voice of the speaker on screen only, so
/// that an avatar never mouths another person's words.
///
/// - With one track per speaker: the speaker's own track, with the other speakers' turns
///   silenced (the bleed of their voices into this microphone).
/// - With one channel per speaker: that channel of the mix, as mono.
/// - With a diarization file or a diarized transcript: the mix with the other speakers' turns
///   silenced (where two voices overlap, the speaker's own voice is kept, and so is what
///   overlaps it).
///
/// Every file starts at the segment's first frame and runs its `numFrames` plus the tail (none on
/// a provider whose clip is as long as its audio), as a single-speaker segment's does (``SegmentAudio``).
enum SpeakerAudio {
    /// Writes the chosen segments' audio into `directory`; one decoding pass per file read.
    /// - Returns: The written files, by segment index.
    static func export(
        mix: String, plan: Plan, source: SpeakerSource, timeline: SpeakerTimeline, segments: [Int],
        to directory: URL
    ) throws -> [Int: URL] {
        let wanted = Set(segments)
        let chosen = plan.segments.filter { wanted.contains($0.index) }
        let mixFormat = AudioFormat(sampleRate: plan.audio.sampleRate, channels: plan.audio.channels)
        let tail = tailSeconds(plan)
        switch source {
        case .channels(let channels):
            let cuts = chosen.map { segment in
                SegmentAudio.Cut(
                    index: segment.index, startFrame: segment.startFrame, numFrames: segment.numFrames,
                    channel: segment.speaker.flatMap { channels[$0] }, tail: tail)
            }
            return try SegmentAudio.export(source: mix, format: mixFormat, samples: plan.audio.samples, cuts: cuts, to: directory)
        case .diarization, .automatic:
            let cuts = chosen.map { segment in
                SegmentAudio.Cut(
                    index: segment.index, startFrame: segment.startFrame, numFrames: segment.numFrames,
                    silenced: segment.speaker.map { silenced(for: $0, in: segment, timeline: timeline, tail: tail) } ?? [],
                    tail: tail)
            }
            return try SegmentAudio.export(source: mix, format: mixFormat, samples: plan.audio.samples, cuts: cuts, to: directory)
        case .tracks(let files):
            var written: [Int: URL] = [:]
            let bySpeaker = Dictionary(grouping: chosen) { $0.speaker ?? "" }
            for (speaker, segments) in bySpeaker.sorted(by: { $0.key < $1.key }) {
                // The timeline gives every stretch to one voice: what it gives the others is
                // silenced in this speaker's track too (bleed from their microphones).
                let cuts = segments.map { segment in
                    SegmentAudio.Cut(
                        index: segment.index, startFrame: segment.startFrame, numFrames: segment.numFrames,
                        silenced: segment.speaker.map { silenced(for: $0, in: segment, timeline: timeline, tail: tail) } ?? [],
                        tail: tail)
                }
                // A track has its own format and (within the tolerance checked when planning)
                // length; a segment without a speaker (a plan not made by the speaker planner)
                // hears the mix.
                let track = files[speaker]
                written.merge(
                    try SegmentAudio.export(
                        source: track ?? mix, format: track == nil ? mixFormat : nil,
                        samples: track == nil ? plan.audio.samples : nil, cuts: cuts, to: directory)
                ) { $1 }
            }
            return written
        }
    }

    /// The other speakers' turns within the segment's audio (its frames and the tail), less the
    /// speaker's own: the stretches to silence.
    static func silenced(
        for speaker: String, in segment: Plan.Segment, timeline: SpeakerTimeline, tail: Double = SegmentAudio.tailSeconds
    ) -> [Range<Double>] {
        let start = Double(segment.startFrame) / Double(ModelLimits.fps)
        let end = Double(segment.startFrame + segment.numFrames) / Double(ModelLimits.fps) + tail
        let window = start..<end
        // Clamped to the window, sorted and merged (empty ranges dropped).
        func inWindow(_ ranges: [Range<Double>]) -> [Range<Double>] {
            SpeakerTimeline.normalized(ranges.map { $0.clamped(to: window) }, duration: end)
        }
        let others = timeline.speakers.filter { $0 != speaker }.flatMap { timeline.voiced($0) }
        return subtract(inWindow(others), inWindow(timeline.voiced(speaker)))
    }

    /// The audio past a request's frames: the tail for a provider asked for its frames, none
    /// when the clip is as long as its audio (as ``Plan/audioCuts(segments:)`` cuts it).
    static func tailSeconds(_ plan: Plan) -> Double {
        plan.providerRules.lengths.setBy == .audio ? 0 : SegmentAudio.tailSeconds
    }

    /// `ranges` with every part covered by `holes` (both sorted and disjoint) taken out.
    static func subtract(_ ranges: [Range<Double>], _ holes: [Range<Double>]) -> [Range<Double>] {
        var result: [Range<Double>] = []
        for range in ranges {
            var pieces = [range]
            for hole in holes where hole.overlaps(range) {
                pieces = pieces.flatMap { piece -> [Range<Double>] in
                    guard hole.overlaps(piece) else { return [piece] }
                    var parts: [Range<Double>] = []
                    if piece.lowerBound < hole.lowerBound { parts.append(piece.lowerBound..<hole.lowerBound) }
                    if hole.upperBound < piece.upperBound { parts.append(hole.upperBound..<piece.upperBound) }
                    return parts
                }
            }
            result += pieces
        }
        return result
    }
}
