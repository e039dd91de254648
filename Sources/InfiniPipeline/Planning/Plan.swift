// InfiniPipeline: the segment plan, its JSON form and its text table.

import Foundation

/// How a long audio file is cut into model requests, and what they cost.
///
/// Produced by ``SegmentPlanner/plan(samples:sampleRate:channels:envelope:options:)``.
/// Segment `i` covers output frames `[startFrame, startFrame + frameCount)` and is rendered by
/// one request of `numFrames ≥ frameCount` frames, whose first `frameCount` frames are kept.
/// A trimmed request needs `numFrames / 25` seconds of audio: the audio of
/// `[startTime, endTime)` followed by silence.
///
/// JSON keys: `fps`, `totalFrames`, `maxFrames`, `resolution`, `pricePerSecond`, `layout`,
/// `audio` {`sampleRate`, `channels`, `samples`, `duration`}, `segments` [{`index`,
/// `startFrame`, `frameCount`, `numFrames`, `startTime`, `endTime`, `cutLoudnessDb`,
/// `cutLevelRelativeDb`}], `paidFrames`, `estimatedCost`, `speechLevelDb`, `noiseFloorDb`.
/// Plans written before the last three keys existed still decode (they read as `nil`).
public struct Plan: Codable, Sendable, Equatable {
    /// The decoded audio the plan covers.
    public struct Audio: Codable, Sendable, Equatable {
        /// Sample frames per second.
        public var sampleRate: Int
        /// Channels in the source.
        public var channels: Int
        /// Decoded sample frames (samples per channel).
        public var samples: Int
        /// `samples / sampleRate`, in seconds.
        public var duration: Double

        /// Describes decoded audio.
        /// - Parameters:
        ///   - sampleRate: Sample frames per second.
        ///   - channels: Channels in the source.
        ///   - samples: Decoded sample frames (samples per channel).
        ///   - duration: `samples / sampleRate`, in seconds.
        public init(sampleRate: Int, channels: Int, samples: Int, duration: Double) {
            self.sampleRate = sampleRate
            self.channels = channels
            self.samples = samples
            self.duration = duration
        }
    }

    /// Which of the planner's three cases produced the plan (see ``SegmentPlanner``).
    @nonexhaustive
    public enum Layout: String, Codable, Sendable {
        /// Every segment is a whole valid request: `numFrames == frameCount`, nothing is paid twice.
        case wholeClips
        /// One request of the smallest valid size ≥ `totalFrames`, trimmed by the stitcher.
        case singleTrimmed
        /// Whole segments and a trimmed last one (only when `maxFrames` is very low).
        case trimmedLast
    }

    /// One model request and the frames kept from it.
    public struct Segment: Codable, Sendable, Equatable {
        /// Position in the plan, from 0.
        public var index: Int
        /// First output frame this segment supplies.
        public var startFrame: Int
        /// Output frames kept from this segment's request.
        public var frameCount: Int
        /// `num_frames` of the request: valid (4n + 1 in [41, maxFrames]) and ≥ `frameCount`.
        public var numFrames: Int
        /// `startFrame / 25`, in seconds.
        public var startTime: Double
        /// `(startFrame + frameCount) / 25`, in seconds.
        public var endTime: Double
        /// RMS in dBFS over ±60 ms around the seam at ``startTime`` (to 0.01 dB); `nil`
        /// (JSON `null`) for segment 0, which has no seam, or when the envelope does not reach it.
        public var cutLoudnessDb: Double?
        /// The same loudness relative to the recording's speech level (``Plan/speechLevelDb``),
        /// in dB (to 0.01 dB; −40 means 40 dB below the speech); `nil` (JSON `null`) for
        /// segment 0, when ``cutLoudnessDb`` is `nil`, or when the audio has no speech level
        /// (nothing but digital silence).
        public var cutLevelRelativeDb: Double?
        /// The speaker on screen in a multi-speaker plan (a name in ``Plan/speakers``); `nil`
        /// in a single-speaker plan, where the key is left out of the JSON.
        public var speaker: String?
        /// Quiet frames just before the seam at this segment's start (the part of the pause
        /// it sits in that precedes it; 0 when the cut is not in a pause); `nil` for segment 0,
        /// and in a plan that does not record it (the key is then left out of the JSON).
        public var pauseFramesBefore: Int?
        /// Quiet frames from the seam at this segment's start on; `nil` as ``pauseFramesBefore``.
        public var pauseFramesAfter: Int?

        /// A segment; the times are derived from the frames.
        /// - Parameters:
        ///   - index: Position in the plan, from 0.
        ///   - startFrame: First output frame this segment supplies.
        ///   - frameCount: Output frames kept from the request.
        ///   - numFrames: `num_frames` of the request.
        ///   - cutLoudnessDb: RMS in dBFS around the seam at the segment's start, when known.
        ///   - cutLevelRelativeDb: The same relative to the speech level, when known.
        ///   - speaker: The speaker on screen, in a multi-speaker plan.
        public init(
            index: Int, startFrame: Int, frameCount: Int, numFrames: Int, cutLoudnessDb: Double?,
            cutLevelRelativeDb: Double? = nil, speaker: String? = nil
        ) {
            self.index = index
            self.startFrame = startFrame
            self.frameCount = frameCount
            self.numFrames = numFrames
            self.startTime = Double(startFrame) / Double(ModelLimits.fps)
            self.endTime = Double(startFrame + frameCount) / Double(ModelLimits.fps)
            self.cutLoudnessDb = cutLoudnessDb
            self.cutLevelRelativeDb = cutLevelRelativeDb
            self.speaker = speaker
        }

        /// First output frame after this segment.
        public var endFrame: Int { startFrame + frameCount }

        private enum CodingKeys: String, CodingKey {
            case index, startFrame, frameCount, numFrames, startTime, endTime, cutLoudnessDb, cutLevelRelativeDb
            case speaker
            case pauseFramesBefore, pauseFramesAfter
        }

        /// Encodes every key, writing `cutLoudnessDb` and `cutLevelRelativeDb` as an explicit
        /// `null` when absent.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(index, forKey: .index)
            try container.encode(startFrame, forKey: .startFrame)
            try container.encode(frameCount, forKey: .frameCount)
            try container.encode(numFrames, forKey: .numFrames)
            try container.encode(startTime, forKey: .startTime)
            try container.encode(endTime, forKey: .endTime)
            // An Optional encodes itself: nil is written as an explicit null.
            try container.encode(cutLoudnessDb, forKey: .cutLoudnessDb)
            try container.encode(cutLevelRelativeDb, forKey: .cutLevelRelativeDb)
            try container.encodeIfPresent(speaker, forKey: .speaker)
            try container.encodeIfPresent(pauseFramesBefore, forKey: .pauseFramesBefore)
            try container.encodeIfPresent(pauseFramesAfter, forKey: .pauseFramesAfter)
        }

        /// Decodes a segment; `cutLoudnessDb` and `cutLevelRelativeDb` may be `null` or missing.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            index = try container.decode(Int.self, forKey: .index)
            startFrame = try container.decode(Int.self, forKey: .startFrame)
            frameCount = try container.decode(Int.self, forKey: .frameCount)
            numFrames = try container.decode(Int.self, forKey: .numFrames)
            startTime = try container.decode(Double.self, forKey: .startTime)
            endTime = try container.decode(Double.self, forKey: .endTime)
            cutLoudnessDb = try container.decodeIfPresent(Double.self, forKey: .cutLoudnessDb)
            cutLevelRelativeDb = try container.decodeIfPresent(Double.self, forKey: .cutLevelRelativeDb)
            speaker = try container.decodeIfPresent(String.self, forKey: .speaker)
            pauseFramesBefore = try container.decodeIfPresent(Int.self, forKey: .pauseFramesBefore)
            pauseFramesAfter = try container.decodeIfPresent(Int.self, forKey: .pauseFramesAfter)
        }
    }

    /// A voice of a multi-speaker plan and the portrait shown while it speaks.
    public struct Speaker: Codable, Sendable, Equatable {
        /// The speaker's name (from `--speaker NAME=IMAGE`, the RTTM file, the track or channel).
        public var name: String
        /// The portrait's path, as given.
        public var image: String

        /// A speaker.
        /// - Parameters:
        ///   - name: The speaker's name.
        ///   - image: The portrait's path.
        public init(name: String, image: String) {
            self.name = name
            self.image = image
        }
    }

    /// Output frame rate (25).
    public var fps: Int
    /// Output frames for the whole audio: `ceil(samples · 25 / sampleRate)`.
    public var totalFrames: Int
    /// Largest `num_frames` the plan was allowed to request (a valid size ≤ 721).
    public var maxFrames: Int
    /// Output resolution the cost was computed for.
    public var resolution: InfiniTalk.Resolution
    /// US dollars per second of requested video used for ``estimatedCost``.
    public var pricePerSecond: Double
    /// Which planning case applied.
    public var layout: Layout
    /// The audio the plan covers.
    public var audio: Audio
    /// The segments, contiguous and in order, covering `[0, totalFrames)`.
    public var segments: [Segment]
    /// Frames paid for: the sum of each request's billed frames (on fal its `numFrames`; on a
    /// provider that bills whole seconds, each request rounded up and at least the minimum).
    public var paidFrames: Int
    /// `paidFrames / 25 · pricePerSecond` in US dollars, rounded to the micro-dollar
    /// (which removes binary noise such as `…00000002`; ``renderTable()`` shows cents).
    public var estimatedCost: Double
    /// The recording's speech level in dBFS (to 0.01 dB), estimated from its own loudness
    /// (see ``PauseDetector``); `nil` (JSON `null`) when the audio is nothing but digital
    /// silence, or in a plan written before the key existed.
    public var speechLevelDb: Double?
    /// The recording's noise floor in dBFS (to 0.01 dB), estimated likewise; `nil` as
    /// ``speechLevelDb``.
    public var noiseFloorDb: Double?
    /// The voices of a multi-speaker plan, in the order given; `nil` for a single speaker
    /// (the key is then left out of the JSON). Each segment's ``Segment/speaker`` is one of them.
    public var speakers: [Speaker]?
    /// The id of the provider whose rules the plan follows (``Provider/id``); `nil` in a plan
    /// written before the key existed, which is a plan for fal.
    public var provider: String?
    /// How many cuts fall between sentences, when the plan was made with a transcript
    /// (``PlanningOptions/transcript``); `nil` (and no key in the JSON) otherwise.
    public var cutsAtSentenceEnds: Int?

    /// A plan from its parts; ``paidFrames`` and ``estimatedCost`` are computed from the segments.
    ///
    /// Nothing is checked here; ``validated()`` checks a plan made this way.
    /// - Parameters:
    ///   - totalFrames: Output frames for the whole audio.
    ///   - maxFrames: Largest `num_frames` the plan may request.
    ///   - resolution: Output resolution.
    ///   - pricePerSecond: US dollars per second of requested video.
    ///   - layout: Which planning case applied.
    ///   - audio: The audio the plan covers.
    ///   - segments: The segments, contiguous and in order.
    ///   - speechLevelDb: The recording's speech level in dBFS, when known.
    ///   - noiseFloorDb: The recording's noise floor in dBFS, when known.
    ///   - speakers: The voices of a multi-speaker plan.
    public init(
        totalFrames: Int, maxFrames: Int, resolution: InfiniTalk.Resolution, pricePerSecond: Double,
        layout: Layout, audio: Audio, segments: [Segment], speechLevelDb: Double? = nil,
        noiseFloorDb: Double? = nil, speakers: [Speaker]? = nil, provider: Provider = .fal
    ) {
        self.fps = ModelLimits.fps
        self.totalFrames = totalFrames
        self.maxFrames = maxFrames
        self.resolution = resolution
        self.pricePerSecond = pricePerSecond
        self.layout = layout
        self.audio = audio
        self.segments = segments
        self.provider = provider.id
        let paid = segments.reduce(0) { $0 + provider.billing.billedFrames($1.numFrames) }
        self.paidFrames = paid
        self.estimatedCost = Plan.cost(paidFrames: paid, pricePerSecond: pricePerSecond)
        self.speechLevelDb = speechLevelDb
        self.noiseFloorDb = noiseFloorDb
        self.speakers = speakers
    }

    private enum CodingKeys: String, CodingKey {
        case fps, totalFrames, maxFrames, resolution, pricePerSecond, layout, audio, segments, paidFrames,
            estimatedCost, speechLevelDb, noiseFloorDb, speakers, provider, cutsAtSentenceEnds
    }

    /// Encodes every key, writing `speechLevelDb` and `noiseFloorDb` as an explicit `null`
    /// when absent (decoding is synthesized: both may be `null` or missing).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(fps, forKey: .fps)
        try container.encode(totalFrames, forKey: .totalFrames)
        try container.encode(maxFrames, forKey: .maxFrames)
        try container.encode(resolution, forKey: .resolution)
        try container.encode(pricePerSecond, forKey: .pricePerSecond)
        try container.encode(layout, forKey: .layout)
        try container.encode(audio, forKey: .audio)
        try container.encode(segments, forKey: .segments)
        try container.encode(paidFrames, forKey: .paidFrames)
        try container.encode(estimatedCost, forKey: .estimatedCost)
        try container.encode(speechLevelDb, forKey: .speechLevelDb)
        try container.encode(noiseFloorDb, forKey: .noiseFloorDb)
        try container.encodeIfPresent(speakers, forKey: .speakers)
        try container.encode(provider ?? Provider.fal.id, forKey: .provider)
        try container.encodeIfPresent(cutsAtSentenceEnds, forKey: .cutsAtSentenceEnds)
    }

    /// Seconds of video paid for: `paidFrames / 25`.
    public var paidSeconds: Double { ModelLimits.seconds(forFrames: paidFrames) }

    /// The rules of the plan's provider (fal for a plan without one; an unknown id is refused
    /// by ``validated()``).
    public var providerRules: Provider { provider.flatMap(Provider.named) ?? .fal }

    /// `paidFrames / 25 · pricePerSecond`, rounded to the micro-dollar.
    static func cost(paidFrames: Int, pricePerSecond: Double) -> Double {
        let exact = Double(paidFrames) * pricePerSecond / Double(ModelLimits.fps)
        return (exact * 1_000_000).rounded() / 1_000_000
    }

    /// The plan as a fixed-width text table followed by totals.
    ///
    /// Columns: index, start frame, frames kept, `num_frames`, start–end time as
    /// `h:mm:ss.cc`, the cut loudness in dBFS and relative to the speech level in dB (`-` for
    /// segment 0 or when unknown), and in a multi-speaker plan the segment's speaker, with a
    /// line listing the shot changes' times before the totals. Totals: frames, segments, paid seconds, the speech level
    /// and noise floor when known, and the estimated cost in dollars with 2 decimals.
    public func renderTable() -> String {
        var header = ["#", "start frame", "frames", "num_frames", "start", "end", "cut dBFS", "cut rel dB"]
        if speakers != nil { header.append("speaker") }
        var rows: [[String]] = [header]
        for segment in segments {
            var row = [
                String(segment.index),
                String(segment.startFrame),
                String(segment.frameCount),
                String(segment.numFrames),
                Plan.clock(frames: segment.startFrame),
                Plan.clock(frames: segment.endFrame),
                segment.cutLoudnessDb.map { String(format: "%.1f", $0) } ?? "-",
                segment.cutLevelRelativeDb.map { String(format: "%.1f", $0) } ?? "-",
            ]
            if speakers != nil { row.append(segment.speaker ?? "-") }
            rows.append(row)
        }
        var widths = [Int](repeating: 0, count: header.count)
        for row in rows {
            for (column, cell) in row.enumerated() { widths[column] = max(widths[column], cell.count) }
        }
        var lines: [String] = []
        for row in rows {
            var cells: [String] = []
            for (column, cell) in row.enumerated() {
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                // Times read left to right; numbers line up on the right.
                // The speaker, last, needs no padding.
                cells.append(column == 8 ? cell : column == 4 || column == 5 ? cell + padding : padding + cell)
            }
            lines.append(cells.joined(separator: "  "))
        }
        let centiseconds = paidFrames * (100 / ModelLimits.fps)
        let paid = "\(centiseconds / 100).\(Plan.twoDigits(centiseconds % 100))"
        lines.append("")
        lines.append(contentsOf: shotChangeLines())
        lines.append("total frames: \(totalFrames)  segments: \(segments.count)  paid: \(paidFrames) frames = \(paid) s")
        if let cutsAtSentenceEnds {
            lines.append("cuts at sentence ends: \(cutsAtSentenceEnds) of \(segments.count - 1)")
        }
        if let speechLevelDb, let noiseFloorDb {
            lines.append(
                "speech level: " + String(format: "%.1f", speechLevelDb) + " dBFS  noise floor: "
                    + String(format: "%.1f", noiseFloorDb) + " dBFS")
        }
        lines.append(
            "estimated cost: $" + String(format: "%.2f", estimatedCost)
                + " (\(resolution.rawValue), $" + String(format: "%.2f", pricePerSecond) + "/s)")
        return lines.joined(separator: "\n") + "\n"
    }

    /// `frames / 25` as `h:mm:ss.cc` (exact: one frame is 4 centiseconds).
    static func clock(frames: Int) -> String {
        let centiseconds = frames * (100 / ModelLimits.fps)
        let hours = centiseconds / 360_000
        let minutes = centiseconds / 6_000 % 60
        let seconds = centiseconds / 100 % 60
        return "\(hours):\(twoDigits(minutes)):\(twoDigits(seconds)).\(twoDigits(centiseconds % 100))"
    }

    private static func twoDigits(_ value: Int) -> String {
        value < 10 ? "0\(value)" : String(value)
    }
}
