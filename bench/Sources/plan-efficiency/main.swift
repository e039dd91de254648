// plan-efficiency: paid frames ÷ needed frames of the planner over random audio durations.
//
// Usage: plan-efficiency [--count N] [--seed S] [--min SECONDS] [--max SECONDS] [--verbose]
// Draws N durations log-uniformly in [min, max] (default 200 in [1 s, 2 h], seed 1, so every
// run draws the same ones), builds a synthetic speech envelope for each (bursts of speech
// between short pauses), plans it with SegmentPlanner at the defaults (--max-frames 721,
// 480p) and prints one JSON object: the ratio's min/median/mean/max, how many plans were
// whole-clip plans and whether each of those paid exactly the frames it needed.
// It then plans synthetic two- and three-person conversations of 10 and 60 minutes (random turns
// with the gaps, overlaps and interjections of real talk) shot by shot, and reports each one's
// paid ÷ needed frames beside the single-speaker plan of the same audio (`multiSpeaker`).
//
// With --provider wavespeed it plans the same durations on WaveSpeed's rules instead (the audio
// sets each request's length, billed per started second, at least 5 s; the default requests at
// --concurrency, 4 by default) and prints, per duration and as min/median/max, the billed
// seconds against the audio's: billed − ceil(audio seconds) (the goal: 0 from 5 s on) and
// billed ÷ audio seconds. The conversations are left out.

import Foundation
import InfiniPipeline

/// SplitMix64: small, fast, and the same sequence on every platform.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

var count = 200, seed: UInt64 = 1, minimum = 1.0, maximum = 7200.0, verbose = false
var provider = Provider.fal, concurrency = 4
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--count": count = Int(arguments.popFirst() ?? "") ?? count
    case "--seed": seed = UInt64(arguments.popFirst() ?? "") ?? seed
    case "--min": minimum = Double(arguments.popFirst() ?? "") ?? minimum
    case "--max": maximum = Double(arguments.popFirst() ?? "") ?? maximum
    case "--verbose": verbose = true
    case "--provider" where [Provider.fal.id, Provider.wavespeed.id].contains(arguments.first ?? ""):
        provider = Provider.named(arguments.popFirst()!)!
    case "--concurrency": concurrency = Int(arguments.popFirst() ?? "") ?? concurrency
    default:
        FileHandle.standardError.write(
            Data(
                "usage: plan-efficiency [--count N] [--seed S] [--min S] [--max S] [--provider fal|wavespeed] [--concurrency C] [--verbose]\n"
                    .utf8))
        exit(2)
    }
}
guard count > 0, minimum > 0, maximum >= minimum, concurrency > 0 else { exit(2) }

var rng = SplitMix64(state: seed)
let sampleRate = 16_000
let hop = 0.01

/// Speech bursts of 1.5–8 s at about −22 dBFS (±6 dB per hop), separated by pauses of
/// 0.25–1.2 s at −65 dBFS: the shape the planner looks for seams in.
func syntheticEnvelope(seconds: Double, using rng: inout SplitMix64) -> LoudnessEnvelope {
    let hops = Int((seconds / hop).rounded(.up))
    var levels: [Float] = []
    levels.reserveCapacity(hops)
    while levels.count < hops {
        let speech = Int(Double.random(in: 1.5...8, using: &rng) / hop)
        for _ in 0..<speech { levels.append(Float.random(in: -28 ... -16, using: &rng)) }
        let pause = Int(Double.random(in: 0.25...1.2, using: &rng) / hop)
        for _ in 0..<pause { levels.append(Float.random(in: -68 ... -62, using: &rng)) }
    }
    levels.removeLast(levels.count - hops)
    return LoudnessEnvelope(hopDuration: hop, levelsDb: levels)
}

struct Row: Codable {
    var duration: Double
    var totalFrames: Int
    var paidFrames: Int
    var segments: Int
    var layout: String
    var ratio: Double
}

/// One duration planned on WaveSpeed: what is billed against the audio's length.
struct BilledRow: Codable {
    var duration: Double
    var totalFrames: Int
    var segments: Int
    var billedSeconds: Int
    var ceilAudioSeconds: Int
    var excessSeconds: Int
    var ratio: Double
}

struct BilledStats: Codable {
    var count: Int
    var excessMin: Int
    var excessMedian: Double
    var excessMax: Int
    var ratioMin: Double
    var ratioMedian: Double
    var ratioMax: Double
    var exact: Int
}

struct BilledSummary: Codable {
    var provider: String
    var concurrency: Int
    var count: Int
    var seed: UInt64
    var minSeconds: Double
    var maxSeconds: Double
    var minimumBilledSeconds: Int
    /// Every duration.
    var all: BilledStats
    /// The durations of at least the minimum charge, where the goal is billed = ceil(audio).
    var atLeastMinimum: BilledStats
    var ratioOverall: Double
    var rows: [BilledRow]
    var seconds: Double
}

func medianOf(_ values: [Double]) -> Double {
    let v = values.sorted()
    return v.count % 2 == 1 ? v[v.count / 2] : (v[v.count / 2 - 1] + v[v.count / 2]) / 2
}

func billedStats(_ rows: [BilledRow]) -> BilledStats {
    BilledStats(
        count: rows.count, excessMin: rows.map(\.excessSeconds).min() ?? 0,
        excessMedian: rows.isEmpty ? 0 : medianOf(rows.map { Double($0.excessSeconds) }),
        excessMax: rows.map(\.excessSeconds).max() ?? 0, ratioMin: rows.map(\.ratio).min() ?? 0,
        ratioMedian: rows.isEmpty ? 0 : medianOf(rows.map(\.ratio)), ratioMax: rows.map(\.ratio).max() ?? 0,
        exact: rows.filter { $0.excessSeconds == 0 }.count)
}

if provider.lengths.setBy == .audio {
    var billedRows: [BilledRow] = []
    let begun = Date()
    for _ in 0..<count {
        let duration = exp(Double.random(in: log(minimum)...log(maximum), using: &rng))
        let samples = Int((duration * Double(sampleRate)).rounded())
        let seconds = Double(samples) / Double(sampleRate)
        let plan = try SegmentPlanner.plan(
            samples: samples, sampleRate: sampleRate, channels: 1,
            envelope: syntheticEnvelope(seconds: seconds, using: &rng),
            options: PlanningOptions(provider: provider, concurrency: concurrency))
        let billed = plan.paidFrames / provider.fps
        let ceilAudio = (samples + sampleRate - 1) / sampleRate
        let row = BilledRow(
            duration: seconds, totalFrames: plan.totalFrames, segments: plan.segments.count, billedSeconds: billed,
            ceilAudioSeconds: ceilAudio, excessSeconds: billed - ceilAudio, ratio: Double(billed) / seconds)
        billedRows.append(row)
        if verbose {
            FileHandle.standardError.write(
                Data(
                    String(
                        format: "%9.2f s  T=%6d  %3d segments  billed %6d s  ceil %6d s  %.4f\n", row.duration,
                        row.totalFrames, row.segments, row.billedSeconds, row.ceilAudioSeconds, row.ratio
                    ).utf8))
        }
    }
    let minimumSeconds = provider.billing.minimumFrames / provider.fps
    let summary = BilledSummary(
        provider: provider.id, concurrency: concurrency, count: billedRows.count, seed: seed, minSeconds: minimum,
        maxSeconds: maximum, minimumBilledSeconds: minimumSeconds, all: billedStats(billedRows),
        atLeastMinimum: billedStats(billedRows.filter { $0.duration >= Double(minimumSeconds) }),
        ratioOverall: Double(billedRows.reduce(0) { $0 + $1.billedSeconds }) / billedRows.reduce(0) { $0 + $1.duration },
        rows: billedRows, seconds: Date().timeIntervalSince(begun))
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    print(String(decoding: try encoder.encode(summary), as: UTF8.self))
    exit(0)
}

var rows: [Row] = []
let started = Date()
for _ in 0..<count {
    // Log-uniform, so short audio (where whole-clip plans can be impossible) is sampled too.
    let duration = exp(Double.random(in: log(minimum)...log(maximum), using: &rng))
    let samples = Int((duration * Double(sampleRate)).rounded())
    let plan = try SegmentPlanner.plan(
        samples: samples, sampleRate: sampleRate, channels: 1,
        envelope: syntheticEnvelope(seconds: Double(samples) / Double(sampleRate), using: &rng))
    let row = Row(
        duration: Double(samples) / Double(sampleRate), totalFrames: plan.totalFrames, paidFrames: plan.paidFrames,
        segments: plan.segments.count, layout: plan.layout.rawValue,
        ratio: Double(plan.paidFrames) / Double(plan.totalFrames))
    rows.append(row)
    if verbose {
        FileHandle.standardError.write(
            Data(
                String(
                    format: "%9.2f s  T=%6d  paid=%6d  %3d segments  %@  %.4f\n",
                    row.duration, row.totalFrames, row.paidFrames, row.segments,
                    row.layout, row.ratio
                ).utf8))
    }
}
let elapsed = Date().timeIntervalSince(started)

let ratios = rows.map(\.ratio).sorted()
let median = ratios.count % 2 == 1 ? ratios[ratios.count / 2] : (ratios[ratios.count / 2 - 1] + ratios[ratios.count / 2]) / 2
let whole = rows.filter { $0.layout == Plan.Layout.wholeClips.rawValue }
let other = rows.filter { $0.layout != Plan.Layout.wholeClips.rawValue }.sorted { $0.ratio > $1.ratio }
let totalPaid = rows.reduce(0) { $0 + $1.paidFrames }, totalNeeded = rows.reduce(0) { $0 + $1.totalFrames }

struct Summary: Codable {
    var count: Int
    var seed: UInt64
    var minSeconds: Double
    var maxSeconds: Double
    var ratioMin: Double
    var ratioMedian: Double
    var ratioMean: Double
    var ratioMax: Double
    var ratioOverall: Double
    var wholeClipPlans: Int
    var wholeClipPlansExact: Bool
    var otherPlans: [Row]
    var longestDuration: Double
    var shortestDuration: Double
    var seconds: Double
    var multiSpeaker: [MultiSpeakerRow]
}
/// A conversation of `seconds`: turns of 1–40 s (a fifth of them interjections of 0.3–1.5 s),
/// gaps of 0.1–0.8 s between turns, a tenth under 0.1 s and a quarter overlapping by 0.1–0.8 s;
/// inside a turn, bursts of 1.5–8 s between pauses of 0.25–1.2 s. The mix's envelope is
/// −28…−16 dBFS where anyone speaks, −68…−62 elsewhere.
func syntheticConversation(
    seconds: Double, speakers: [String], using rng: inout SplitMix64
) -> (SpeakerTimeline, LoudnessEnvelope) {
    var voiced = [[Range<Double>]](repeating: [], count: speakers.count)
    var t = Double.random(in: 0...1.5, using: &rng)
    var speaker = 0
    while t < seconds {
        let interjection = Double.random(in: 0...1, using: &rng) < 0.2
        let length = interjection ? Double.random(in: 0.3...1.5, using: &rng) : Double.random(in: 1...40, using: &rng)
        var u = t
        while u < t + length {
            let burst = min(Double.random(in: 1.5...8, using: &rng), t + length - u)
            voiced[speaker].append(u..<(u + burst))
            u += burst + Double.random(in: 0.25...1.2, using: &rng)
        }
        let end = voiced[speaker].last!.upperBound
        let kind = Double.random(in: 0...1, using: &rng)
        let gap =
            kind < 0.25
            ? -Double.random(in: 0.1...0.8, using: &rng)
            : kind < 0.35 ? Double.random(in: 0...0.1, using: &rng) : Double.random(in: 0.1...0.8, using: &rng)
        t = max(0, end + gap)
        speaker = (speaker + 1 + Int.random(in: 0..<max(1, speakers.count - 1), using: &rng)) % speakers.count
    }
    let timeline = SpeakerTimeline(speakers: speakers, voiced: voiced, duration: seconds)
    let hops = Int((seconds / hop).rounded(.up))
    var loud = [Bool](repeating: false, count: hops)
    for ranges in timeline.voiced {
        for range in ranges {
            for h in Int(range.lowerBound / hop)..<min(hops, Int((range.upperBound / hop).rounded(.up))) { loud[h] = true }
        }
    }
    let levels = loud.map { $0 ? Float.random(in: -28 ... -16, using: &rng) : Float.random(in: -68 ... -62, using: &rng) }
    return (timeline, LoudnessEnvelope(hopDuration: hop, levelsDb: levels))
}

struct MultiSpeakerRow: Codable {
    var minutes: Int
    var speakers: Int
    var seed: UInt64
    var shots: Int
    var segments: Int
    var totalFrames: Int
    var paidFrames: Int
    var singleSpeakerPaidFrames: Int
    var ratio: Double
    var changesInGap: Int
    var seconds: Double
}

var multiSpeaker: [MultiSpeakerRow] = []
for (minutes, speakerCount, runSeed) in [
    (10, 2, seed), (10, 2, seed + 1), (10, 3, seed + 2), (60, 2, seed), (60, 2, seed + 1), (60, 3, seed + 2),
] {
    var conversationRNG = SplitMix64(state: runSeed &* 7919)
    let names = ["A", "B", "C"].prefix(speakerCount).map { String($0) }
    let seconds = Double(minutes * 60)
    let (timeline, envelope) = syntheticConversation(seconds: seconds, speakers: names, using: &conversationRNG)
    let samples = Int(seconds) * sampleRate
    let begun = Date()
    let single = try SegmentPlanner.plan(samples: samples, sampleRate: sampleRate, channels: 1, envelope: envelope)
    let shots = try timeline.shots(totalFrames: single.totalFrames)
    let plan = try SegmentPlanner.plan(
        samples: samples, sampleRate: sampleRate, channels: 1, envelope: envelope, shots: shots,
        speakers: names.map { Plan.Speaker(name: $0, image: "\($0).png") })
    let inGap = zip(plan.shotChanges, shots.dropFirst()).filter { $1.start.contains($0.frame) }.count
    multiSpeaker.append(
        MultiSpeakerRow(
            minutes: minutes, speakers: speakerCount, seed: runSeed, shots: shots.count, segments: plan.segments.count,
            totalFrames: plan.totalFrames, paidFrames: plan.paidFrames, singleSpeakerPaidFrames: single.paidFrames,
            ratio: Double(plan.paidFrames) / Double(plan.totalFrames), changesInGap: inGap,
            seconds: Date().timeIntervalSince(begun)))
}

let summary = Summary(
    count: rows.count, seed: seed, minSeconds: minimum, maxSeconds: maximum,
    ratioMin: ratios.first!, ratioMedian: median, ratioMean: ratios.reduce(0, +) / Double(ratios.count),
    ratioMax: ratios.last!, ratioOverall: Double(totalPaid) / Double(totalNeeded),
    wholeClipPlans: whole.count, wholeClipPlansExact: whole.allSatisfy { $0.paidFrames == $0.totalFrames },
    otherPlans: other, longestDuration: rows.map(\.duration).max()!, shortestDuration: rows.map(\.duration).min()!,
    seconds: elapsed, multiSpeaker: multiSpeaker)
let encoder = JSONEncoder()
encoder.outputFormatting = [.sortedKeys]
print(String(decoding: try encoder.encode(summary), as: UTF8.self))
