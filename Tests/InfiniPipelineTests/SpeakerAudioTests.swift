import Foundation
import Testing

@testable import InfiniPipeline

/// The audio a multi-speaker request carries: one channel of the source, or the mix with other
/// voices' stretches silenced.
@Suite(.ownThreads) struct SpeakerAudioTests {
    /// A stereo WAV: a 440 Hz tone on the left, 1 kHz on the right, `seconds` long at 16 kHz.
    static func stereoTones(seconds: Double, in dir: TempDir) throws -> String {
        let rate = 16_000, frames = Int(seconds * Double(rate))
        var samples = [Float](repeating: 0, count: frames * 2)
        for i in 0..<frames {
            let t = Double(i) / Double(rate)
            samples[2 * i] = Float(0.5 * sin(2 * .pi * 440 * t))
            samples[2 * i + 1] = Float(0.25 * sin(2 * .pi * 1000 * t))
        }
        let path = dir.url.appendingPathComponent("tones.wav").path
        try WAV.file(samples, sampleRate: rate, channels: 2).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func oneChannelIsWrittenAsMono() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let source = try Self.stereoTones(seconds: 4, in: dir)
        let files = try SegmentAudio.export(
            source: source, format: nil, samples: nil,
            cuts: [SegmentAudio.Cut(index: 0, startFrame: 25, numFrames: 41, channel: 1)],
            to: dir.url.appendingPathComponent("out"))
        let reader = try AudioReader(path: files[0]!.path)
        #expect(reader.outputFormat == AudioFormat(sampleRate: 16_000, channels: 1))
        let mono = try reader.readAll()
        let expected = SegmentAudio.sampleRange(startFrame: 25, numFrames: 41, sampleRate: 16_000)
        #expect(mono.count == expected.count)
        // The right channel's tone (0.25 peak, 1 kHz), from second 1 on: compare sample by sample.
        for (k, i) in [0, 100, 4_000, 9_000].enumerated() {
            let t = Double(expected.lowerBound + i) / 16_000
            #expect(abs(Double(mono[i]) - 0.25 * sin(2 * .pi * 1000 * t)) < 0.001, "sample \(k)")
        }
    }

    @Test func otherVoicesAreSilencedWithShortFades() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let source = try Self.stereoTones(seconds: 4, in: dir)
        // Segment from 0 s for 81 frames (3.24 s + tail); silence 1.0–2.0 s.
        let files = try SegmentAudio.export(
            source: source, format: nil, samples: nil,
            cuts: [SegmentAudio.Cut(index: 3, startFrame: 0, numFrames: 81, silenced: [1.0..<2.0])],
            to: dir.url.appendingPathComponent("out"))
        let reader = try AudioReader(path: files[3]!.path)
        #expect(reader.outputFormat.channels == 2)
        let pcm = try reader.readAll()
        func peak(_ from: Double, _ to: Double) -> Float {
            pcm[(Int(from * 16_000) * 2)..<(Int(to * 16_000) * 2)].map(abs).max() ?? 0
        }
        #expect(peak(1.0, 2.0) == 0)
        #expect(peak(0.2, 0.98) > 0.45)
        #expect(peak(2.02, 3.0) > 0.45)
        // The fade: 10 ms before the stretch the level climbs back from nothing.
        #expect(peak(0.995, 1.0) < 0.3)
    }

    @Test func aChannelTheFileLacksIsOneLine() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let source = try Self.stereoTones(seconds: 2, in: dir)
        #expect {
            try SegmentAudio.export(
                source: source, format: nil, samples: nil,
                cuts: [SegmentAudio.Cut(index: 0, startFrame: 0, numFrames: 41, channel: 2)],
                to: dir.url.appendingPathComponent("out"))
        } throws: { error in
            "\(error)".contains("channel 2") && "\(error)".contains("2 (0…1)")
        }
    }
}
