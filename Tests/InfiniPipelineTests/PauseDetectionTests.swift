// Pause detection relative to the recording: the same speech at any gain, or over a steady
// noise floor, gets the same cuts.

import Foundation
import Testing

@testable import InfiniPipeline

/// Real speech (the committed fixture), decoded with the project's own reader, and the
/// transformations the planner must be indifferent to.
enum RealSpeech {
    struct Audio {
        var samples: [Float]
        var sampleRate: Int
        var channels: Int
    }

    /// `Fixtures/speech-long.mp3`: 69.6 s, 16 sentences with 15 inserted digital-silence pauses.
    static func load() throws -> Audio {
        let reader = try AudioReader(path: Fixture.path("speech-long.mp3"))
        let samples = try reader.readAll()
        return Audio(samples: samples, sampleRate: reader.outputFormat.sampleRate, channels: reader.outputFormat.channels)
    }

    /// `audio` scaled by `gainDb`, clipped at full scale.
    static func gained(_ audio: Audio, by gainDb: Double) -> Audio {
        let factor = Float(pow(10, gainDb / 20))
        var result = audio
        result.samples = audio.samples.map { min(max($0 * factor, -1), 1) }
        return result
    }

    enum Noise: String, CaseIterable { case white, pink }

    /// `audio` with a steady noise of RMS `levelDb` dBFS added to every channel (seeded, so
    /// every run adds the same noise). Pink is Voss–McCartney: 12 rows of held random values,
    /// row k refreshed every 2^k samples, plus a white row; about 1/f above 5 Hz at 22 kHz.
    static func noisy(_ audio: Audio, _ noise: Noise, levelDb: Double, seed: UInt64) -> Audio {
        var rng = TestRandom(seed: seed)
        let frames = audio.samples.count / audio.channels
        var values = [Double](repeating: 0, count: frames)
        switch noise {
        case .white:
            for i in 0..<frames { values[i] = rng.uniform(-1...1) }
        case .pink:
            let rows = 12
            var held = (0..<rows).map { _ in rng.uniform(-1...1) }
            for i in 0..<frames {
                var sum = rng.uniform(-1...1)
                for k in 0..<rows {
                    if i & ((1 << k) - 1) == 0 { held[k] = rng.uniform(-1...1) }
                    sum += held[k]
                }
                values[i] = sum
            }
        }
        // Remove the mean, then scale to the wanted RMS.
        let mean = values.reduce(0, +) / Double(frames)
        var power = 0.0
        for i in 0..<frames {
            values[i] -= mean
            power += values[i] * values[i]
        }
        let scale = pow(10, levelDb / 20) / (power / Double(frames)).squareRoot()
        var result = audio
        for i in 0..<frames {
            let n = Float(values[i] * scale)
            for c in 0..<audio.channels { result.samples[i * audio.channels + c] += n }
        }
        return result
    }

    static func envelope(_ audio: Audio) -> LoudnessEnvelope {
        var builder = LoudnessEnvelopeBuilder(sampleRate: audio.sampleRate)
        builder.append(audio.samples, channels: audio.channels)
        return builder.finish()
    }

    static func plan(_ audio: Audio, maxFrames: Int) throws -> (plan: Plan, envelope: LoudnessEnvelope) {
        let envelope = envelope(audio)
        let plan = try SegmentPlanner.plan(
            samples: audio.samples.count / audio.channels, sampleRate: audio.sampleRate,
            channels: audio.channels, envelope: envelope,
            options: PlanningOptions(maxFrames: maxFrames))
        return (plan, envelope)
    }
}

/// The interior cut positions of a plan, in frames.
func cutFrames(_ plan: Plan) -> [Int] { plan.segments.dropFirst().map(\.startFrame) }

@Suite("Pause detection relative to the recording", .ownThreads)
struct PauseDetectionTests {
    /// Checks that `plan` cuts where `reference` does (same count, each within 2 frames), that
    /// every cut lies in a pause of the reference recording, and that every cut is at least
    /// 25 dB below the speech.
    static func expectSameCuts(
        _ plan: Plan, as reference: Plan, referencePauses: [ClosedRange<Double>],
        label: String
    ) {
        let cuts = cutFrames(plan), expected = cutFrames(reference)
        #expect(cuts.count == expected.count, "\(label): \(cuts) vs \(expected) at 0 dB")
        for (cut, want) in zip(cuts, expected) {
            #expect(abs(cut - want) <= 2, "\(label): cut at frame \(cut), \(want) at 0 dB")
        }
        for segment in plan.segments.dropFirst() {
            let t = segment.startTime
            #expect(referencePauses.contains { $0.contains(t) }, "\(label): cut at \(t) s is in no pause of the 0 dB audio")
            let relative = segment.cutLevelRelativeDb ?? 0
            #expect(relative < -25, "\(label): cut at \(t) s is only \(relative) dB below the speech")
        }
    }

    @Test(arguments: [721, 401, 321])
    func gainDoesNotMoveTheCuts(maxFrames: Int) throws {
        let audio = try RealSpeech.load()
        let (reference, envelope) = try RealSpeech.plan(audio, maxFrames: maxFrames)
        let pauses = PauseDetector.detect(envelope)
        let speech = try #require(reference.speechLevelDb)
        #expect(cutFrames(reference).count >= 2)
        for gain in [-40.0, -30, -20, 6] {
            let (plan, _) = try RealSpeech.plan(RealSpeech.gained(audio, by: gain), maxFrames: maxFrames)
            let label = "max \(maxFrames), gain \(gain) dB"
            Self.expectSameCuts(plan, as: reference, referencePauses: pauses, label: label)
            // The estimate follows the gain (clipping at +6 dB moves it a little).
            let level = try #require(plan.speechLevelDb)
            #expect(abs(level - (speech + gain)) <= (gain > 0 ? 0.5 : 0.05), "\(label): speech level \(level)")
            // ...so the cuts' levels relative to it do not move (where the gain keeps them
            // measurable: digital silence stays at −120 dBFS whatever the gain).
            for (a, b) in zip(plan.segments.dropFirst(), reference.segments.dropFirst())
            where a.startFrame == b.startFrame && (b.cutLoudnessDb ?? -120) + gain > -100 {
                #expect(abs((a.cutLevelRelativeDb ?? 0) - (b.cutLevelRelativeDb ?? 0)) <= (gain > 0 ? 0.5 : 0.05), "\(label)")
            }
        }
    }

    @Test(arguments: [721, 401, 321])
    func steadyNoiseDoesNotMoveTheCuts(maxFrames: Int) throws {
        let audio = try RealSpeech.load()
        let (reference, envelope) = try RealSpeech.plan(audio, maxFrames: maxFrames)
        let pauses = PauseDetector.detect(envelope)
        let speech = try #require(reference.speechLevelDb)
        for noise in RealSpeech.Noise.allCases {
            for below in [30.0, 35, 40] {
                let noisy = RealSpeech.noisy(audio, noise, levelDb: speech - below, seed: UInt64(below) + 7)
                let (plan, _) = try RealSpeech.plan(noisy, maxFrames: maxFrames)
                let label = "max \(maxFrames), \(noise) noise \(below) dB below the speech"
                Self.expectSameCuts(plan, as: reference, referencePauses: pauses, label: label)
                // The speech level hardly moves; the noise floor becomes the noise.
                let level = try #require(plan.speechLevelDb)
                #expect(abs(level - speech) < 0.5, "\(label): speech level \(level)")
                let floor = try #require(plan.noiseFloorDb)
                #expect(abs(floor - (speech - below)) < 4, "\(label): noise floor \(floor)")
            }
        }
    }

    /// The threshold sits 30 dB below the speech, rises to stay 6 dB above a close noise
    /// floor, and never comes within 25 dB of the speech.
    @Test func thresholdBetweenNoiseFloorAndSpeech() {
        let detector = PauseDetector()
        #expect(detector.quietThresholdDb(for: LevelEstimate(speechDb: -20, noiseFloorDb: -90)) == -50)
        #expect(detector.quietThresholdDb(for: LevelEstimate(speechDb: -60, noiseFloorDb: -120)) == -90)
        #expect(detector.quietThresholdDb(for: LevelEstimate(speechDb: -20, noiseFloorDb: -53)) == -47)
        #expect(detector.quietThresholdDb(for: LevelEstimate(speechDb: -20, noiseFloorDb: -48)) == -45)
        #expect(detector.quietThresholdDb(for: LevelEstimate(speechDb: -3, noiseFloorDb: -3)) == -28)
        #expect(detector.quietThresholdDb(for: nil) == LoudnessEnvelope.silenceFloorDb)
    }

    /// Synthetic speech at any gain: exactly the same pauses, and the same plan up to the levels.
    @Test func syntheticSpeechAtAnyGain() throws {
        var rng = TestRandom(seed: 42)
        let audio = PlannerSynth.speech(seconds: 300, voiced: 0.5...5, pause: 0.25...1.2, rng: &rng)
        let levels = audio.envelope.levelsDb
        let reference = try SegmentPlanner.plan(samples: 300 * 16000, sampleRate: 16000, channels: 1, envelope: audio.envelope)
        let referencePauses = PauseDetector.detect(audio.envelope)
        for gain: Float in [-40, -30, -20, -10, 6] {
            let shifted = LoudnessEnvelope(levelsDb: levels.map { $0 + gain })
            let pauses = PauseDetector.detect(shifted)
            #expect(pauses.count == referencePauses.count, "gain \(gain)")
            for (a, b) in zip(pauses, referencePauses) {
                #expect(abs(a.lowerBound - b.lowerBound) < 1e-9 && abs(a.upperBound - b.upperBound) < 1e-9, "gain \(gain)")
            }
            let plan = try SegmentPlanner.plan(samples: 300 * 16000, sampleRate: 16000, channels: 1, envelope: shifted)
            // Converting levels to mean squares and back moves them by ~1e-6 dB, so allow the
            // 2-frame tolerance rather than demanding identical plans.
            let cuts = cutFrames(plan), expected = cutFrames(reference)
            #expect(cuts.count == expected.count, "gain \(gain)")
            #expect(zip(cuts, expected).allSatisfy { abs($0 - $1) <= 2 }, "gain \(gain): \(cuts) vs \(expected)")
            let speech = try #require(plan.speechLevelDb), referenceSpeech = try #require(reference.speechLevelDb)
            #expect(abs(speech - (referenceSpeech + Double(gain))) <= 0.02, "gain \(gain)")
        }
    }

    /// A short blip just above the threshold (a noise peak, a click) does not split a pause;
    /// a longer or louder one does.
    @Test func blipsInsideAPause() {
        func pauses(blip: Int, levelDb: Float) -> [ClosedRange<Double>] {
            // Speech at −20 dBFS, then 300 ms of quiet at −70 with a blip in its middle.
            var levels = [Float](repeating: -20, count: 100)
            levels += [Float](repeating: -70, count: 15)
            levels += [Float](repeating: levelDb, count: blip)
            levels += [Float](repeating: -70, count: 15)
            levels += [Float](repeating: -20, count: 100)
            return PauseDetector.detect(LoudnessEnvelope(levelsDb: levels))
        }
        // The threshold is −50 dBFS (30 dB below the speech).
        let joined = pauses(blip: 2, levelDb: -46)
        #expect(joined.count == 1)
        #expect(joined.first.map { abs($0.lowerBound - 1.0) < 1e-9 && abs($0.upperBound - 1.32) < 1e-9 } == true)
        #expect(pauses(blip: 3, levelDb: -46).isEmpty, "150 ms either side is shorter than a pause")
        #expect(pauses(blip: 1, levelDb: -40).isEmpty, "10 dB above the threshold is not a blip")
        #expect(pauses(blip: 0, levelDb: 0).count == 1)
    }

    /// All digital silence: no estimate, one pause over everything, and a plan whose levels are null.
    @Test func allSilencePlans() throws {
        let silence = LoudnessEnvelope(hopDuration: 0.01, meanSquares: [Double](repeating: 0, count: 6000))
        #expect(LevelEstimate.estimate(silence) == nil)
        let pauses = PauseDetector.detect(silence)
        #expect(pauses.count == 1)
        #expect(pauses.first.map { $0.lowerBound == 0 && abs($0.upperBound - 60) < 1e-9 } == true)
        let plan = try SegmentPlanner.plan(samples: 60 * 16000, sampleRate: 16000, channels: 1, envelope: silence)
        checkPlanContract(plan, total: 1500, maxFrames: 721, price: 0.20, label: "silence")
        #expect(plan.speechLevelDb == nil && plan.noiseFloorDb == nil)
        #expect(plan.segments.allSatisfy { $0.cutLevelRelativeDb == nil })
        #expect(plan.segments.dropFirst().allSatisfy { $0.cutLoudnessDb == -120 })
        let text = String(decoding: try plan.jsonData(), as: UTF8.self)
        #expect(text.contains("\"speechLevelDb\" : null"))
        #expect(text.contains("\"noiseFloorDb\" : null"))
        #expect(text.contains("\"cutLevelRelativeDb\" : null"))
        #expect(try Plan.from(json: plan.jsonData()) == plan)
        #expect(!plan.renderTable().contains("speech level"))
    }

    /// A steady tone: speech level and noise floor are the tone's level, there are no pauses,
    /// and the plan has the fewest segments.
    @Test func allTonePlans() throws {
        let tone = PlannerSynth.tone(seconds: 120)
        let estimate = try #require(LevelEstimate.estimate(tone.envelope))
        #expect(abs(estimate.speechDb - -3.0103) < 0.011 && abs(estimate.noiseFloorDb - -3.0103) < 0.011)
        #expect(PauseDetector.detect(tone.envelope).isEmpty)
        let plan = try SegmentPlanner.plan(samples: 120 * 16000, sampleRate: 16000, channels: 1, envelope: tone.envelope)
        checkPlanContract(plan, total: 3000, maxFrames: 721, price: 0.20, label: "tone")
        #expect(plan.segments.count == 8)
        for segment in plan.segments.dropFirst() {
            #expect(abs((segment.cutLevelRelativeDb ?? 1) - 0) < 0.02)
        }
    }
}
