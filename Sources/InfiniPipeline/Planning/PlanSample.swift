// InfiniPipeline: a sample of a job, the stretch made first to look at before paying for the rest.

import Foundation

/// The stretch of the audio a sample is asked for: `seconds` from `at` (seconds from the
/// audio's start). The sample is made of the whole requests of the job's plan that cover it
/// (see ``Plan/sample(_:)``).
public struct SampleSpan: Sendable, Equatable, Codable {
    /// The length of a sample when none is given: 30 s.
    public static let defaultSeconds = 30.0

    /// How long a stretch to sample, in seconds (> 0).
    public var seconds: Double
    /// Where it starts, in seconds from the audio's start (≥ 0, before the audio's end).
    public var at: Double

    /// A stretch of `seconds` from `at`.
    /// - Parameters:
    ///   - seconds: its length, ``defaultSeconds`` by default.
    ///   - at: its start in seconds from the audio's start, 0 by default.
    public init(seconds: Double = SampleSpan.defaultSeconds, at: Double = 0) {
        self.seconds = seconds
        self.at = at
    }

    /// Checks the values that need no audio: a length above 0 and a start at 0 or later.
    /// - Throws: ``PlanningError`` naming `sample` (the length) or `sampleAt` (the start).
    public func validate() throws {
        guard seconds.isFinite, seconds > 0 else {
            throw PlanningError.invalidSample(option: "sample", "sample \(seconds) s must be a number of seconds above 0")
        }
        guard at.isFinite, at >= 0 else {
            throw PlanningError.invalidSample(option: "sampleAt", "sampleAt \(at) s must be a time at or after 0:00")
        }
    }
}

/// What a sample of a plan makes and costs: the whole requests that cover the asked stretch.
///
/// JSON keys: `at`, `seconds` (as asked), `segments` (indexes in the job's plan), `startFrame`,
/// `frameCount`, `startTime`, `endTime`, `requests`, `paidFrames`, `paidSeconds`,
/// `estimatedCost`, `provider`.
public struct PlanSample: Sendable, Equatable, Codable {
    /// The start asked for, in seconds.
    public var at: Double
    /// The length asked for, in seconds.
    public var seconds: Double
    /// The plan's segments the sample generates, in order (consecutive).
    public var segments: [Int]
    /// The job's first output frame in the sample.
    public var startFrame: Int
    /// The sample's frames: those the covered segments keep.
    public var frameCount: Int
    /// `startFrame / 25`, in seconds.
    public var startTime: Double
    /// `(startFrame + frameCount) / 25`, in seconds.
    public var endTime: Double
    /// Requests sent (one per covered segment, unless a clip is reused).
    public var requests: Int
    /// Frames billed for those requests, by the provider's billing rule.
    public var paidFrames: Int
    /// `paidFrames / 25`.
    public var paidSeconds: Double
    /// What the requests cost at the plan's price (US dollars).
    public var estimatedCost: Double
    /// The provider the price is for (``Provider/id``).
    public var provider: String

    /// One line: the stretch, its requests, billed seconds and price.
    public var summary: String {
        let range = segments.count == 1 ? "segment \(segments[0])" : "segments \(segments[0])–\(segments.last ?? 0)"
        return "sample \(Plan.clock(frames: startFrame))–\(Plan.clock(frames: startFrame + frameCount)) (\(range)): "
            + "\(requests) request\(requests == 1 ? "" : "s"), "
            + String(format: "%.2f s billed, $%.2f on %@", paidSeconds, estimatedCost, provider)
    }
}

extension Plan {
    /// The sample of this plan that covers `span`: every segment that overlaps the stretch, so
    /// that the sample's clips are the very requests the whole job makes (a later run of the
    /// whole job reuses them). A stretch running past the audio's end stops there.
    /// - Throws: ``PlanningError`` for a length of 0 or less (`sample`), or a start before 0 or
    ///   at or after the audio's end (`sampleAt`).
    public func sample(_ span: SampleSpan) throws -> PlanSample {
        try span.validate()
        let fps = Double(ModelLimits.fps)
        let first = Int((span.at * fps + 1e-9).rounded(.down))
        guard first < totalFrames else {
            throw PlanningError.invalidSample(
                option: "sampleAt",
                "sampleAt \(Self.clock(span.at)) is at or after the end of the audio (\(Plan.clock(frames: totalFrames))): a sample must start inside it"
            )
        }
        let end = min(totalFrames, max(first + 1, Int(((span.at + span.seconds) * fps - 1e-9).rounded(.up))))
        let covered = segments.filter { $0.startFrame < end && $0.endFrame > first }
        let billing = providerRules.billing
        let paid = covered.reduce(0) { $0 + billing.billedFrames($1.numFrames) }
        let startFrame = covered.first?.startFrame ?? 0
        let frameCount = covered.reduce(0) { $0 + $1.frameCount }
        return PlanSample(
            at: span.at, seconds: span.seconds, segments: covered.map(\.index), startFrame: startFrame,
            frameCount: frameCount, startTime: Double(startFrame) / fps, endTime: Double(startFrame + frameCount) / fps,
            requests: covered.count, paidFrames: paid, paidSeconds: ModelLimits.seconds(forFrames: paid),
            estimatedCost: Plan.cost(paidFrames: paid, pricePerSecond: pricePerSecond), provider: providerRules.id)
    }

    /// `seconds` as `h:mm:ss.cc`.
    private static func clock(_ seconds: Double) -> String {
        let centiseconds = Int((seconds * 100).rounded())
        return String(
            format: "%d:%02d:%02d.%02d", centiseconds / 360_000, centiseconds / 6000 % 60, centiseconds / 100 % 60,
            centiseconds % 100)
    }

    /// The plan of the sample alone, as the stitcher takes it: its segments numbered from 0 and
    /// starting at frame 0, each as the job's plan has it (its request, the pause around its
    /// seam, its speaker), over `audio` (the sample's stretch of the job's audio).
    func sampled(_ sample: PlanSample, audio: Audio) -> Plan {
        let kept = sample.segments.enumerated().map { position, index -> Segment in
            var segment = segments[index]
            segment.index = position
            segment.startFrame -= sample.startFrame
            segment.startTime = Double(segment.startFrame) / Double(ModelLimits.fps)
            segment.endTime = Double(segment.endFrame) / Double(ModelLimits.fps)
            if position == 0 {
                // The sample's first segment has no seam before it.
                segment.cutLoudnessDb = nil
                segment.cutLevelRelativeDb = nil
                segment.pauseFramesBefore = nil
                segment.pauseFramesAfter = nil
            }
            return segment
        }
        return Plan(
            totalFrames: sample.frameCount, maxFrames: maxFrames, resolution: resolution, pricePerSecond: pricePerSecond,
            layout: layout, audio: audio, segments: kept, speechLevelDb: speechLevelDb, noiseFloorDb: noiseFloorDb,
            speakers: speakers, provider: providerRules)
    }
}
