// Tests of the loudness envelope and its chunked builder.

import Foundation
import Testing

@testable import InfiniPipeline

@Suite("Loudness envelope", .ownThreads)
struct LoudnessEnvelopeTests {
    /// Interleaved stereo: a 1 kHz sine on the left, noise on the right, with a silent stretch.
    static func stereoSignal(frames: Int, sampleRate: Int) -> [Float] {
        var rng = TestRandom(seed: 1234)
        var samples = [Float](repeating: 0, count: frames * 2)
        for i in 0..<frames where i < frames / 3 || i > frames / 2 {
            samples[2 * i] = Float(0.7 * sin(2 * Double.pi * 1000 * Double(i) / Double(sampleRate)))
            samples[2 * i + 1] = Float(rng.uniform(-0.3...0.3))
        }
        return samples
    }

    static func envelope(_ samples: [Float], channels: Int, sampleRate: Int, chunk: Int) -> LoudnessEnvelope {
        var builder = LoudnessEnvelopeBuilder(sampleRate: sampleRate)
        var start = 0
        while start < samples.count {
            let end = min(start + chunk, samples.count)
            samples[start..<end].withUnsafeBufferPointer { builder.append($0, channels: channels) }
            start = end
        }
        return builder.finish()
    }

    @Test func chunkBoundariesDoNotMatter() {
        let sampleRate = 44100
        let signal = Self.stereoSignal(frames: 54_321, sampleRate: sampleRate)
        let reference = Self.envelope(signal, channels: 2, sampleRate: sampleRate, chunk: signal.count)
        #expect(reference.meanSquares.count == (54_321 + 440) / 441)
        for chunk in [1, 7, 441, 100_000] {
            #expect(Self.envelope(signal, channels: 2, sampleRate: sampleRate, chunk: chunk) == reference, "chunk \(chunk)")
        }
        var arrayBuilder = LoudnessEnvelopeBuilder(sampleRate: sampleRate)
        arrayBuilder.append(Array(signal[0..<1001]), channels: 2)
        arrayBuilder.append(Array(signal[1001...]), channels: 2)
        #expect(arrayBuilder.finish() == reference)
        #expect(arrayBuilder.framesConsumed == 54_321)
    }

    @Test func sineOfFullScaleIsMinus3dB() {
        // 1 kHz at 48 kHz: a hop (480 samples) holds exactly 10 periods.
        let sine = (0..<48_000).map { Float(sin(2 * Double.pi * 1000 * Double($0) / 48_000)) }
        let envelope = Self.envelope(sine, channels: 1, sampleRate: 48_000, chunk: 4096)
        #expect(envelope.hopDuration == 0.01)
        #expect(envelope.levelsDb.count == 100)
        #expect(envelope.levelsDb.allSatisfy { abs($0 - -3.0103) < 0.001 })
        let window = envelope.rmsDb(from: 0.2, to: 0.5)
        #expect(window.map { abs($0 - -3.0103) < 0.001 } == true)
    }

    @Test func stereoIsMixedToMono() {
        let frames = 4800
        let sine = (0..<frames).map { Float(sin(2 * Double.pi * 500 * Double($0) / 48_000)) }
        func interleave(_ left: [Float], _ right: [Float]) -> [Float] {
            zip(left, right).flatMap { [$0, $1] }
        }
        let same = Self.envelope(interleave(sine, sine), channels: 2, sampleRate: 48_000, chunk: 333)
        #expect(same.levelsDb.allSatisfy { abs($0 - -3.0103) < 0.001 })
        let opposite = Self.envelope(interleave(sine, sine.map { -$0 }), channels: 2, sampleRate: 48_000, chunk: 333)
        #expect(opposite.levelsDb.allSatisfy { $0 == -120 })
        // One channel only: the mono mix is half the sine, 6.02 dB lower.
        let oneSided = Self.envelope(
            interleave(sine, [Float](repeating: 0, count: frames)), channels: 2,
            sampleRate: 48_000, chunk: 333)
        #expect(oneSided.levelsDb.allSatisfy { abs($0 - -9.0309) < 0.001 })
    }

    @Test func silenceClampsToFloor() {
        let envelope = Self.envelope([Float](repeating: 0, count: 16_000), channels: 1, sampleRate: 16_000, chunk: 1000)
        #expect(envelope.levelsDb == [Float](repeating: -120, count: 100))
        #expect(envelope.rmsDb(from: 0, to: 1) == -120)
        #expect(LoudnessEnvelope.decibels(meanSquare: 1e-30) == -120)
        #expect(LoudnessEnvelope(levelsDb: [-120, -150]).meanSquares == [0, 0])
    }

    @Test func partialLastHopAndOddRates() {
        // 1000 frames at 48 kHz: hops of 480, 480 and 40 frames.
        let ones = [Float](repeating: 0.5, count: 1000)
        let envelope = Self.envelope(ones, channels: 1, sampleRate: 48_000, chunk: 300)
        #expect(envelope.meanSquares == [0.25, 0.25, 0.25])
        #expect(abs(envelope.duration - 1000.0 / 48_000) < 1e-15)
        // 22.05 kHz: 220.5 samples round to a 221-sample hop, and the envelope says so.
        let builder = LoudnessEnvelopeBuilder(sampleRate: 22_050)
        #expect(builder.hopLength == 221)
        #expect(builder.finish().hopDuration == 221.0 / 22_050)
        #expect(builder.finish().meanSquares.isEmpty)
    }

    @Test func windowedRms() throws {
        // Ten hops at −20 dBFS (mean square 0.01), then ten at −80 dBFS (1e-8).
        let envelope = LoudnessEnvelope(levelsDb: [Float](repeating: -20, count: 10) + [Float](repeating: -80, count: 10))
        let whole = try #require(envelope.rmsDb(from: 0, to: 0.2))
        #expect(abs(Double(whole) - 10 * log10((0.01 + 1e-8) / 2)) < 1e-4)
        // Half of hop 9 and half of hop 10 weigh the same.
        let straddle = try #require(envelope.rmsDb(from: 0.095, to: 0.105))
        #expect(abs(Double(straddle) - 10 * log10((0.01 + 1e-8) / 2)) < 1e-4)
        // Inside the quiet part; a window reaching past the end is clipped to it.
        #expect(abs((envelope.rmsDb(from: 0.12, to: 0.3) ?? 0) - -80) < 1e-3)
        #expect(envelope.rmsDb(from: 0.3, to: 0.4) == nil)
        #expect(envelope.rmsDb(from: -1, to: 0) == nil)
        // levelsDb round-trips through the mean squares.
        #expect(
            zip(envelope.levelsDb, [Float](repeating: -20, count: 10) + [Float](repeating: -80, count: 10))
                .allSatisfy { abs($0 - $1) < 1e-4 })
    }

    @Test func codableRoundTrip() throws {
        let envelope = LoudnessEnvelope(hopDuration: 0.01, meanSquares: [0.5, 0, 1e-9], duration: 0.025)
        let decoded = try JSONDecoder().decode(LoudnessEnvelope.self, from: JSONEncoder().encode(envelope))
        #expect(decoded == envelope)
    }

    @Test func pauseDetection() {
        // 1 s voiced, 0.3 s at −70, 1 s voiced, 0.15 s at −70 (too short), 1 s voiced, 0.5 s trailing silence.
        var levels = [Float](repeating: -20, count: 100)
        levels += [Float](repeating: -70, count: 30)
        levels += [Float](repeating: -22, count: 100)
        levels += [Float](repeating: -70, count: 15)
        levels += [Float](repeating: -18, count: 100)
        levels += [Float](repeating: -120, count: 50)
        let pauses = PauseDetector.detect(LoudnessEnvelope(levelsDb: levels))
        #expect(pauses.count == 2)
        #expect(abs(pauses[0].lowerBound - 1.0) < 1e-9 && abs(pauses[0].upperBound - 1.3) < 1e-9)
        #expect(abs(pauses[1].lowerBound - 3.45) < 1e-9 && abs(pauses[1].upperBound - 3.95) < 1e-9)
        // The speech level is −20 dBFS and the noise floor −70 (the trailing digital silence
        // takes no part), so the threshold is 30 dB below the speech.
        let envelope = LoudnessEnvelope(levelsDb: levels)
        #expect(LevelEstimate.estimate(envelope) == LevelEstimate(speechDb: -20, noiseFloorDb: -70))
        #expect(PauseDetector().quietThresholdDb(for: envelope) == -50)
        // A loud recording: speech at −5 dBFS over a floor at −36 (11 % of the hops): the
        // threshold rises to 6 dB above the floor, capped 25 dB below the speech, −30.
        let loud = [Float](repeating: -5, count: 100) + [Float](repeating: -36, count: 25) + [Float](repeating: -5, count: 100)
        #expect(PauseDetector().quietThresholdDb(for: LoudnessEnvelope(levelsDb: loud)) == -30)
        #expect(PauseDetector.detect(LoudnessEnvelope(levelsDb: loud)).count == 1)
        // The same speech 40 dB quieter has the same pauses (they used to vanish below −50 dBFS).
        let quiet = PauseDetector.detect(LoudnessEnvelope(levelsDb: levels.map { $0 <= -120 ? $0 : $0 - 40 }))
        #expect(quiet.count == 2)
        #expect(
            zip(quiet, pauses).allSatisfy {
                abs($0.lowerBound - $1.lowerBound) < 1e-9 && abs($0.upperBound - $1.upperBound) < 1e-9
            })
    }

    @Test func levelHistogramPercentiles() throws {
        // 1000 hops from −90.00 to −80.01 dBFS in 0.01 dB steps, and 500 of digital silence.
        let ramp = (0..<1000).map { Float(-90) + Float($0) / 100 }
        let histogram = LevelHistogram(levels: ramp + [Float](repeating: -120, count: 500))
        #expect(histogram.silentHops == 500 && histogram.soundingHops == 1000)
        // Each level is its bin's lower edge, to within float rounding of the bin index.
        #expect(abs((histogram.percentile(0.02) ?? 0) - -89.81) <= 0.0101)
        #expect(abs((histogram.percentile(0.5) ?? 0) - -85.01) <= 0.0101)
        #expect(abs((histogram.percentile(1) ?? 0) - -80.01) <= 0.0101)
        #expect(abs((histogram.percentile(0) ?? 0) - -90) <= 0.0101)
        // Median of the hops above −85: −84.99 … −80.01, 499 hops, the 250th is −82.5.
        #expect(abs((histogram.median(above: -85) ?? 0) - -82.5) <= 0.03)
        #expect(histogram.median(above: -70) == nil)
        #expect(LevelHistogram(levels: []).percentile(0.5) == nil)
        #expect(LevelHistogram(levels: [-120, -130]).percentile(0.5) == nil)
        // Levels beyond the histogram count in its end bins; NaN counts as silence.
        let odd = LevelHistogram(levels: [.infinity, 55, .nan, -.infinity])
        #expect(odd.soundingHops == 2 && odd.silentHops == 2)
        #expect(odd.percentile(1) == LevelHistogram.ceilingDb)
    }

    @Test func levelEstimateFollowsTheRecording() throws {
        var rng = TestRandom(seed: 8)
        // Speech at −20 ± 6 dBFS for 80 % of the hops, a floor at −65 ± 1 between.
        var levels: [Float] = []
        for i in 0..<20_000 {
            levels.append(i % 500 < 400 ? Float(-20 + rng.uniform(-6...6)) : Float(-65 + rng.uniform(-1...1)))
        }
        let estimate = try #require(LevelEstimate.estimate(LoudnessEnvelope(levelsDb: levels)))
        #expect(abs(estimate.speechDb - -20) < 0.3)
        #expect(abs(estimate.noiseFloorDb - -65.9) < 0.2)
        // A gain moves both estimates by exactly that much (to the 0.01 dB bins).
        for gain: Float in [-40, -30, -20, 6] {
            let moved = try #require(LevelEstimate.estimate(LoudnessEnvelope(levelsDb: levels.map { $0 + gain })))
            #expect(abs(moved.speechDb - (estimate.speechDb + gain)) <= 0.02, "gain \(gain)")
            #expect(abs(moved.noiseFloorDb - (estimate.noiseFloorDb + gain)) <= 0.02, "gain \(gain)")
        }
        // Digital silence, however much of it (zero or vanishing mean squares), changes nothing.
        var withSilence = LoudnessEnvelope(levelsDb: levels)
        withSilence.meanSquares += [Double](repeating: 0, count: 30_000) + [Double](repeating: 1e-300, count: 1000)
        #expect(LevelEstimate.estimate(withSilence) == estimate)
        // Nothing but silence, or nothing at all: no estimate.
        #expect(LevelEstimate.estimate(LoudnessEnvelope(meanSquares: [0, 0, 1e-20])) == nil)
        #expect(LevelEstimate.estimate(LoudnessEnvelope(meanSquares: [])) == nil)
    }
}
