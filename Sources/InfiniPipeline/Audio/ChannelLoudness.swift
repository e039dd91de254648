// InfiniPipeline: the loudness of each channel of an audio file on one common hop grid.

/// The loudness of each channel of an audio file, every channel on the same 10 ms hop grid
/// (the file is resampled to ``analysisRate``), so channels and files of any rate compare hop by
/// hop. Made in one streaming pass; the samples are not kept.
struct ChannelLoudness {
    /// The rate every file is resampled to before its loudness is measured (16 kHz: hops of
    /// exactly 160 samples, 10 ms).
    static let analysisRate = 16_000

    /// One envelope per channel (or a single one of the mono mix when read with `mono`).
    var channels: [LoudnessEnvelope]
    /// The decoded length in seconds.
    var duration: Double

    /// Decodes `path` and measures each channel.
    /// - Parameters:
    ///   - path: Any file the package reads audio from.
    ///   - mono: Mix the channels down to one first.
    /// - Throws: `MediaError` naming the file.
    static func read(path: String, mono: Bool = false) throws -> ChannelLoudness {
        let reader = try AudioReader(path: path, sampleRate: analysisRate, channels: mono ? 1 : nil)
        let count = reader.outputFormat.channels
        var builders = [LoudnessEnvelopeBuilder](
            repeating: LoudnessEnvelopeBuilder(sampleRate: analysisRate), count: count)
        var channel = [Float]()
        let frames = try reader.read { chunk in
            let length = chunk.count / count
            if count == 1 {
                builders[0].append(chunk, channels: 1)
                return
            }
            for c in 0..<count {
                channel.removeAll(keepingCapacity: true)
                var i = c
                for _ in 0..<length {
                    channel.append(chunk[i])
                    i += count
                }
                builders[c].append(channel, channels: 1)
            }
        }
        return ChannelLoudness(
            channels: builders.map { $0.finish() }, duration: Double(frames) / Double(analysisRate))
    }
}
