import CFFmpeg

/// The sample rate and channel count of PCM audio.
///
/// Public because the audio analysis reports the format of the audio it read with it.
public struct AudioFormat: Sendable, Hashable, Codable {
    /// Samples per second per channel.
    public var sampleRate: Int
    /// Interleaved channels.
    public var channels: Int
    /// Creates a format.
    public init(sampleRate: Int, channels: Int) {
        self.sampleRate = sampleRate
        self.channels = channels
    }
}

/// Decodes the audio of any file FFmpeg reads (audio files, or the audio track of a video) to
/// interleaved 32-bit float PCM, optionally resampled and remixed with libswresample.
///
/// Sample counts are exact: encoder delay and padding that the container declares (MP3 LAME
/// headers, MP4 edit lists) are removed, so an MP3 decodes to the same number of samples as the
/// ffmpeg tool gives. Memory stays bounded: samples arrive in chunks.
package final class AudioReader {
    /// The file being read.
    package let source: String
    /// The audio stream's properties as the container declares them.
    package let stream: StreamInfo
    /// The format of the PCM this reader delivers.
    package let outputFormat: AudioFormat

    private let demuxer: Demuxer
    private let decoder: StreamDecoder
    private var consumed = false
    /// What the last ``read(_:)`` found odd but not wrong, one line each (for example a header
    /// that declares another duration than what decodes). Empty before reading.
    package private(set) var warnings: [String] = []

    /// Opens the best audio stream of a file.
    /// - Parameters:
    ///   - path: any container FFmpeg reads.
    ///   - sampleRate: output rate; nil keeps the source rate.
    ///   - channels: output channel count; nil keeps the source count.
    /// - Throws: `MediaError` naming the file: missing, empty, not media, or no audio stream.
    package convenience init(path: String, sampleRate: Int? = nil, channels: Int? = nil) throws {
        try self.init(demuxer: Demuxer(path: path), sampleRate: sampleRate, channels: channels)
    }

    /// Opens the best audio stream of media held in memory.
    package convenience init(data: [UInt8], name: String, sampleRate: Int? = nil, channels: Int? = nil) throws {
        try self.init(demuxer: Demuxer(data: data, name: name), sampleRate: sampleRate, channels: channels)
    }

    /// Opens the best audio stream of an open demuxer (which the reader then owns).
    package init(demuxer: Demuxer, sampleRate: Int? = nil, channels: Int? = nil) throws {
        self.demuxer = demuxer
        self.source = demuxer.source
        stream = try demuxer.bestStream(.audio)
        decoder = try StreamDecoder(demuxer: demuxer, streamIndex: stream.index)
        let ctx = decoder.context!.pointee
        let rate = sampleRate ?? Int(ctx.sample_rate)
        let count = channels ?? Int(ctx.ch_layout.nb_channels)
        guard rate > 0, count > 0 else {
            throw MediaError(.invalidData, file: source, "the audio stream declares no sample rate or channels")
        }
        guard rate <= 768_000, count <= 64 else {
            throw MediaError(.unsupported, file: source, "cannot output \(count) channels at \(rate) Hz")
        }
        outputFormat = AudioFormat(sampleRate: rate, channels: count)
    }

    /// Decodes the whole stream, calling `body` with chunks of interleaved samples
    /// (`chunk.count / outputFormat.channels` sample frames each). Returns the total number of
    /// sample frames delivered. A reader can be read once.
    /// - Throws: `MediaError` when the stream is corrupt, or anything `body` throws.
    @discardableResult
    package func read(_ body: (UnsafeBufferPointer<Float>) throws -> Void) throws -> Int {
        guard !consumed else { throw MediaError(.misuse, file: source, "an AudioReader can be read only once") }
        consumed = true
        var total = 0
        var converter: SampleConverter?
        var inputRate: Int32 = 0, inputChannels: Int32 = 0, inputSampleFormat: Int32 = -1
        let report = try decoder.decodeAll { frame in
            let f = frame.pointer
            if f.pointee.nb_samples <= 0 { return }
            if converter == nil {
                var layout = f.pointee.ch_layout
                if layout.nb_channels == 0 { layout.nb_channels = decoder.context!.pointee.ch_layout.nb_channels }
                converter = try SampleConverter(
                    input: layout, format: AVSampleFormat(rawValue: f.pointee.format),
                    inputRate: Int(f.pointee.sample_rate), outputChannels: outputFormat.channels,
                    outputRate: outputFormat.sampleRate, file: source)
                (inputRate, inputChannels, inputSampleFormat) = (
                    f.pointee.sample_rate, f.pointee.ch_layout.nb_channels, f.pointee.format
                )
            } else if f.pointee.sample_rate != inputRate || f.pointee.ch_layout.nb_channels != inputChannels
                || f.pointee.format != inputSampleFormat
            {
                throw MediaError(.unsupported, file: source, "the audio format changes in mid-stream")
            }
            let planes = UnsafeMutableRawPointer(f.pointee.extended_data!).assumingMemoryBound(to: UnsafePointer<UInt8>?.self)
            total += try converter!.convert(planes: planes, count: Int(f.pointee.nb_samples), body)
        }
        if let converter { total += try converter.flush(body) }
        if total == 0 {
            throw MediaError(.empty, file: source, "the audio stream holds no samples")
        }
        // The acceptance rule (``AudioAnalysis``, the planner and the stitcher all use it): data
        // that ends in the middle of a packet is a cut-off file; everything else that decodes
        // is accepted, and what decodes is the truth.
        try demuxer.checkComplete()
        if let reason = Self.truncation(codecName: stream.codecName, report: report) {
            throw MediaError(.invalidData, file: source, reason)
        }
        if report.failedPackets > 0 {
            warnings.append(
                "\(source): \(report.failedPackets) damaged audio packet\(report.failedPackets == 1 ? "" : "s") could not be decoded and were skipped"
            )
        }
        if let note = durationMismatch(samples: total) { warnings.append(note) }
        return total
    }

    /// Decodes everything into one array of interleaved samples (for short files and tests).
    package func readAll() throws -> [Float] {
        var all = [Float]()
        try read { all.append(contentsOf: $0) }
        return all
    }

    /// The acceptance rule for how a stream ends, shared by everything that reads audio (the
    /// stitcher's packet copy passes a report without decoding): the last packet failed to
    /// decode, or an MPEG audio frame is shorter than its own header says (FFmpeg's MP3
    /// demuxer hands over whatever bytes remain, and its decoder does not complain). Returns
    /// the reason, or nil when the stream ends whole.
    static func truncation(codecName: String, report: StreamDecoder.DecodeReport) -> String? {
        var cut = report.lastPacketFailed
        if ["mp1", "mp2", "mp3"].contains(codecName), let header = MPEGAudioHeader(report.lastPacketHead) {
            cut = cut || report.lastPacketSize < header.frameLength
        }
        return cut ? "the file ends early: its last audio packet is cut off (truncated?)" : nil
    }

    /// A header that declares another duration than what decodes (an Opus pre-skip, a VBR MP3
    /// without a Xing header whose duration is estimated, a streamed WAV's placeholder sizes) is
    /// worth a warning, not a refusal: the decoded length is the truth.
    private func durationMismatch(samples: Int) -> String? {
        guard let declared = stream.duration ?? demuxer.duration, declared > 0 else { return nil }
        let decoded = Double(samples) / Double(outputFormat.sampleRate)
        guard abs(decoded - declared) > max(0.1, declared * 0.02) else { return nil }
        return String(
            format: "%@: the header says %.2f s of audio but %.2f s decode; using the decoded length",
            source, declared, decoded)
    }
}
