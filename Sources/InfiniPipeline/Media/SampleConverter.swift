import CFFmpeg

/// Owns one libswresample context: converts audio of any sample format, rate and layout to
/// interleaved 32-bit float at a chosen rate and channel count. One owner, freed once.
final class SampleConverter {
    private var context: OpaquePointer?
    /// Output channels (interleaved).
    let channels: Int
    private let file: String?
    private var output: [Float] = []

    /// A converter from `input` (an unknown-order layout is taken as FFmpeg's default for its
    /// channel count) in `format` at `inputRate`, to `outputChannels` at `outputRate`.
    /// - Throws: `MediaError` naming `file` when libswresample refuses the conversion.
    init(
        input: AVChannelLayout, format: AVSampleFormat, inputRate: Int, outputChannels: Int, outputRate: Int,
        file: String?
    ) throws {
        channels = outputChannels
        self.file = file
        var inputLayout = AVChannelLayout(), outputLayout = AVChannelLayout()
        var source = input
        if source.order == AV_CHANNEL_ORDER_UNSPEC || source.nb_channels == 0 {
            av_channel_layout_default(&inputLayout, source.nb_channels)
        } else {
            av_channel_layout_copy(&inputLayout, &source)
        }
        av_channel_layout_default(&outputLayout, Int32(outputChannels))
        defer {
            av_channel_layout_uninit(&inputLayout)
            av_channel_layout_uninit(&outputLayout)
        }
        var rc = swr_alloc_set_opts2(
            &context, &outputLayout, AV_SAMPLE_FMT_FLT, Int32(outputRate),
            &inputLayout, format, Int32(inputRate), 0, nil)
        let inCount = Int(inputLayout.nb_channels)
        if rc >= 0, inputLayout.order == AV_CHANNEL_ORDER_UNSPEC, inCount != outputChannels {
            // Channels with no known positions (a 12-channel WAV): every output channel is the
            // mean of them all, as libswresample cannot guess a downmix.
            let matrix = [Double](repeating: 1 / Double(inCount), count: inCount * outputChannels)
            rc = swr_set_matrix(context, matrix, Int32(inCount))
        }
        if rc >= 0 { rc = swr_init(context) }
        if rc < 0 {
            throw MediaError.ffmpeg(
                .decodeFailed, file: file,
                "cannot set up conversion from \(inputRate) to \(outputRate) Hz", rc)
        }
    }

    /// A converter for interleaved float samples, channels unchanged, from one rate to another.
    convenience init(interleavedChannels channels: Int, from inputRate: Int, to outputRate: Int, file: String?) throws {
        var layout = AVChannelLayout()
        av_channel_layout_default(&layout, Int32(channels))
        defer { av_channel_layout_uninit(&layout) }
        try self.init(
            input: layout, format: AV_SAMPLE_FMT_FLT, inputRate: inputRate, outputChannels: channels,
            outputRate: outputRate, file: file)
    }

    deinit { swr_free(&context) }

    /// Converts `count` input sample frames from `planes` (one pointer per plane; one for
    /// interleaved formats) and hands what comes out to `body`. Returns the frames produced.
    @discardableResult
    func convert(
        planes: UnsafeMutablePointer<UnsafePointer<UInt8>?>, count: Int,
        _ body: (UnsafeBufferPointer<Float>) throws -> Void
    ) throws -> Int {
        try run(planes, count, body)
    }

    /// Converts interleaved float samples (channels as the converter was made for).
    @discardableResult
    func convert(
        interleaved samples: UnsafeBufferPointer<Float>,
        _ body: (UnsafeBufferPointer<Float>) throws -> Void
    ) throws -> Int {
        guard let base = samples.baseAddress else { return 0 }
        var plane: UnsafePointer<UInt8>? = UnsafeRawPointer(base).assumingMemoryBound(to: UInt8.self)
        return try withUnsafeMutablePointer(to: &plane) { try run($0, samples.count / channels, body) }
    }

    /// Hands over everything the filter still holds. Returns the frames produced.
    @discardableResult
    func flush(_ body: (UnsafeBufferPointer<Float>) throws -> Void) throws -> Int {
        var total = 0
        while true {
            let produced = try run(nil, 0, body)
            if produced == 0 { return total }
            total += produced
        }
    }

    private func run(
        _ planes: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, _ count: Int,
        _ body: (UnsafeBufferPointer<Float>) throws -> Void
    ) throws -> Int {
        let capacity = Int(swr_get_out_samples(context, Int32(count))) + 32
        if capacity <= 0 { return 0 }
        if output.count < capacity * channels { output = [Float](repeating: 0, count: capacity * channels) }
        let produced: Int32 = output.withUnsafeMutableBytes { raw in
            var outPlane: UnsafeMutablePointer<UInt8>? = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
            return withUnsafeMutablePointer(to: &outPlane) { outPlanes in
                swr_convert(context, outPlanes, Int32(capacity), planes, Int32(count))
            }
        }
        if produced < 0 { throw MediaError.ffmpeg(.decodeFailed, file: file, "cannot convert the audio", produced) }
        if produced > 0 {
            try output.withUnsafeBufferPointer { all in
                try body(UnsafeBufferPointer(rebasing: all[0..<(Int(produced) * channels)]))
            }
        }
        return Int(produced)
    }
}
