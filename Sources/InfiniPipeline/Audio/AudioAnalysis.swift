// InfiniPipeline: the audio stage's result, its exact length and loudness, in one decoding pass.

import Foundation

/// What the planner needs to know about an audio file: its exact length and its loudness
/// over time. Made in one streaming pass; the samples themselves are not kept.
public struct AudioAnalysis: Sendable, Equatable {
    /// The file analysed.
    public var source: String
    /// The decoded format (the source's own rate and channel count).
    public var format: AudioFormat
    /// Exact decoded sample frames (per channel), after encoder delay and padding are removed.
    public var samples: Int
    /// RMS loudness per 10 ms hop, all channels mixed.
    public var envelope: LoudnessEnvelope
    /// What decoding found odd but accepted (damaged packets that were skipped, a header that
    /// declares another duration than what decodes), one line each.
    public var warnings: [String] = []

    /// Duration in seconds: samples / rate.
    public var duration: Double { Double(samples) / Double(format.sampleRate) }

    /// Decodes an audio file once and measures it.
    /// - Parameter path: Any container FFmpeg reads, or a video whose audio track is used.
    /// - Throws: `MediaError` naming the file: missing, empty, not audio, no audio stream, no
    ///   samples, or truncated.
    public static func analyze(path: String) throws -> AudioAnalysis {
        let reader = try AudioReader(path: path)
        var builder = LoudnessEnvelopeBuilder(sampleRate: reader.outputFormat.sampleRate)
        let channels = reader.outputFormat.channels
        let samples = try reader.read { chunk in builder.append(chunk, channels: channels) }
        return AudioAnalysis(
            source: path, format: reader.outputFormat, samples: samples, envelope: builder.finish(),
            warnings: reader.warnings)
    }
}
