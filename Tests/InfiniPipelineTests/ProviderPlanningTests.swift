// Tests of planning to a provider's rules: WaveSpeed's per-second billing and 600-s requests,
// and that fal's plans are what they were.

import Foundation
import Testing

@testable import InfiniPipeline

@Suite("Planning to a provider", .ownThreads)
struct ProviderPlanningTests {
    static let wavespeed = PlanningOptions(provider: .wavespeed)

    /// Every rule a WaveSpeed plan keeps, whatever the audio.
    static func expectWaveSpeedRules(_ plan: Plan, seconds: Double, label: String) {
        let unit = ModelLimits.fps
        #expect(plan.provider == "wavespeed", "\(label)")
        #expect(plan.segments.reduce(0) { $0 + $1.frameCount } == plan.totalFrames, "\(label)")
        for (i, segment) in plan.segments.enumerated() {
            #expect(segment.numFrames == segment.frameCount, "\(label): segment \(i) keeps what it asks for")
            #expect(segment.frameCount <= plan.maxFrames && plan.maxFrames <= 600 * unit, "\(label): segment \(i)")
            if i < plan.segments.count - 1 {
                #expect(
                    segment.frameCount % unit == 0, "\(label): segment \(i) is \(segment.frameCount) frames, not whole seconds")
                #expect(segment.frameCount >= 5 * unit, "\(label): segment \(i) is under the minimum charge")
            }
        }
        if seconds >= 5 {
            // The least any plan can pay: the audio's frames rounded up to a whole second.
            let least = (plan.totalFrames + unit - 1) / unit * unit
            #expect(plan.paidFrames == least, "\(label): pays \(plan.paidFrames) frames, the least is \(least)")
        }
    }

    @Test func waveSpeedPaysOnlyTheSecondsItHears() throws {
        var rng = TestRandom(seed: 23)
        for trial in 0..<200 {
            let seconds = trial < 100 ? rng.uniform(5...90) : rng.uniform(90...1500)
            let audio = PlannerSynth.speech(seconds: seconds, voiced: 1.5...9, pause: 0.25...1.2, rng: &rng)
            let rate = [8000, 16000, 22050, 44100, 48000][trial % 5]
            let samples = Int(seconds * Double(rate))
            var options = Self.wavespeed
            options.concurrency = 1 + trial % 6
            let plan = try SegmentPlanner.plan(
                samples: samples, sampleRate: rate, channels: 1, envelope: audio.envelope, options: options)
            Self.expectWaveSpeedRules(plan, seconds: seconds, label: "trial \(trial), \(seconds) s")
            #expect(abs(plan.estimatedCost - plan.paidSeconds * 0.03) < 1e-6)
        }
    }

    @Test func waveSpeedCutsInPausesAtAnyLoudness() throws {
        var rng = TestRandom(seed: 5)
        for gain in [-30.0, 0.0, 12.0] {
            var audio = PlannerSynth.speech(seconds: 1900, voiced: 2...8, pause: 0.3...1.0, rng: &rng)
            audio.envelope = LoudnessEnvelope(
                hopDuration: audio.envelope.hopDuration, levelsDb: audio.envelope.levelsDb.map { $0 + Float(gain) })
            let plan = try SegmentPlanner.plan(
                samples: 1900 * 16000, sampleRate: 16000, channels: 1, envelope: audio.envelope, options: Self.wavespeed)
            Self.expectWaveSpeedRules(plan, seconds: 1900, label: "gain \(gain)")
            for segment in plan.segments.dropFirst() {
                let t = Double(segment.startFrame) / 25
                #expect(audio.pauses.contains { $0.contains(t) }, "gain \(gain): the cut at \(t) s is not in a pause")
            }
        }
    }

    /// N = c · ceil(D ÷ (600 c)) requests, each about D ÷ N long (short audio: none under 10 s).
    @Test(arguments: [(3500.0, 4, 8), (3500.0, 6, 6), (600.0, 4, 4), (1300.0, 2, 4), (20.0, 4, 2), (7000.0, 1, 12)])
    func theDefaultPlanIsAMultipleOfTheConcurrency(seconds: Double, concurrency: Int, requests: Int) throws {
        var rng = TestRandom(seed: UInt64(seconds) + UInt64(concurrency))
        let audio = PlannerSynth.speech(seconds: seconds, voiced: 1...6, pause: 0.3...1.0, rng: &rng)
        var options = Self.wavespeed
        options.concurrency = concurrency
        let plan = try SegmentPlanner.plan(
            samples: Int(seconds) * 16000, sampleRate: 16000, channels: 1, envelope: audio.envelope, options: options)
        #expect(plan.segments.count == requests, "\(plan.segments.map(\.frameCount))")
        let share = seconds / Double(requests)
        for segment in plan.segments.dropLast() {
            #expect(Double(segment.frameCount) / 25 <= min(600, share * 1.1 + 6), "\(plan.segments.map(\.frameCount))")
        }
        Self.expectWaveSpeedRules(plan, seconds: seconds, label: "\(seconds) s at \(concurrency)")
    }

    /// Rounds last as long as their longest request, so the default plan's requests are even:
    /// each within max(5 s, 10 %) of D ÷ N when pauses come every few seconds, N a multiple of
    /// the concurrency (before: 60 min at concurrency 2 was 7 requests of 374–592 s).
    @Test(arguments: [1800.0, 3600, 5400])
    func theDefaultPlansRequestsAreEven(seconds: Double) throws {
        var rng = TestRandom(seed: UInt64(seconds))
        let audio = PlannerSynth.speech(seconds: seconds, voiced: 1.5...7, pause: 0.3...1.0, rng: &rng)
        for concurrency in 2...6 {
            var options = Self.wavespeed
            options.concurrency = concurrency
            let plan = try SegmentPlanner.plan(
                samples: Int(seconds) * 8000, sampleRate: 8000, channels: 1, envelope: audio.envelope, options: options)
            let lengths = plan.segments.map { Double($0.frameCount) / 25 }
            let label = "\(Int(seconds)) s at \(concurrency): \(lengths)"
            #expect(lengths.count % concurrency == 0, "\(label)")
            let share = seconds / Double(lengths.count)
            for length in lengths {
                #expect(abs(length - share) <= max(5, share / 10) + 1, "\(label)")
            }
            Self.expectWaveSpeedRules(plan, seconds: seconds, label: label)
        }
    }

    @Test func shortAudioIsOneRequestAtTheMinimumCharge() throws {
        let audio = PlannerSynth.tone(seconds: 3)
        let plan = try SegmentPlanner.plan(
            samples: 3 * 16000, sampleRate: 16000, channels: 1, envelope: audio.envelope, options: Self.wavespeed)
        #expect(plan.segments.count == 1 && plan.segments[0].frameCount == 75)
        #expect(plan.paidFrames == 125 && abs(plan.estimatedCost - 0.15) < 1e-9)
    }

    @Test func anExplicitLongestRequestIsKeptAndRefusedUnderTheMinimum() throws {
        var rng = TestRandom(seed: 9)
        let audio = PlannerSynth.speech(seconds: 300, voiced: 1...6, pause: 0.3...1.0, rng: &rng)
        var options = Self.wavespeed
        options.maxFrames = 60 * 25
        let plan = try SegmentPlanner.plan(
            samples: 300 * 16000, sampleRate: 16000, channels: 1, envelope: audio.envelope, options: options)
        #expect(plan.maxFrames == 1500 && plan.segments.allSatisfy { $0.frameCount <= 1500 })
        #expect(plan.segments.count >= 5)
        options.maxFrames = 100
        #expect(throws: PlanningError.self) {
            try SegmentPlanner.plan(
                samples: 300 * 16000, sampleRate: 16000, channels: 1, envelope: audio.envelope, options: options)
        }
    }

    @Test func falPlansAreWhatTheyWere() throws {
        var rng = TestRandom(seed: 31)
        let audio = PlannerSynth.speech(seconds: 400, voiced: 1...6, pause: 0.3...1.0, rng: &rng)
        let plan = try SegmentPlanner.plan(samples: 400 * 16000, sampleRate: 16000, channels: 1, envelope: audio.envelope)
        #expect(plan.provider == "fal" && plan.maxFrames == 721)
        #expect(plan.segments.allSatisfy { ModelLimits.isValidRequestSize($0.numFrames) })
        #expect(plan.paidFrames == plan.segments.reduce(0) { $0 + $1.numFrames })
    }

    @Test func pricesSideBySide() throws {
        var rng = TestRandom(seed: 2)
        let audio = PlannerSynth.speech(seconds: 600, voiced: 1...6, pause: 0.3...1.0, rng: &rng)
        let analysis = AudioAnalysis(
            source: "synthetic", format: AudioFormat(sampleRate: 16000, channels: 1), samples: 600 * 16000,
            envelope: audio.envelope)
        let plan = try SegmentPlanner.plan(analysis)
        let prices = try SegmentPlanner.prices(analysis, plan: plan, options: PlanningOptions())
        #expect(prices.map(\.provider) == ["fal", "wavespeed"])
        #expect(abs(prices[0].cost - 120) < 0.5, "\(prices)")
        #expect(abs(prices[1].cost - 18) < 1e-6, "\(prices)")
        #expect(prices[1].requests == 4 && prices[1].seams == 3)
        let json = try JSONEncoder().encode(prices[1])
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect(object["seams"] as? Int == 3 && object["provider"] as? String == "wavespeed")
    }

    @Test func aPlanFileForWaveSpeedIsCheckedByItsRules() throws {
        var rng = TestRandom(seed: 4)
        let audio = PlannerSynth.speech(seconds: 100, voiced: 1...6, pause: 0.3...1.0, rng: &rng)
        let plan = try SegmentPlanner.plan(
            samples: 100 * 16000, sampleRate: 16000, channels: 1, envelope: audio.envelope, options: Self.wavespeed)
        let read = try Plan.from(json: try plan.jsonData())
        #expect(read == plan)
        var text = String(decoding: try plan.jsonData(), as: UTF8.self)
        text = text.replacingOccurrences(of: "\"wavespeed\"", with: "\"acme\"")
        #expect(throws: PlanFileError.self) { try Plan.from(json: Data(text.utf8)) }
        var bent = plan
        bent.segments[0].numFrames += 3
        #expect(throws: PlanFileError.self) { try Plan.from(json: try bent.jsonData()) }
    }
}
