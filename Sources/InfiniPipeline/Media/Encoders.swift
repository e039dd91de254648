import CFFmpeg

/// How to encode H.264 video with libx264. The media layer has no defaults of its own for
/// quality and speed: callers pass theirs (the package's defaults live with the stitch options,
/// a layer above).
package struct VideoEncoderSettings: Sendable, Equatable {
    /// Frame width in pixels (even).
    package var width: Int
    /// Frame height in pixels (even).
    package var height: Int
    /// Constant frame rate; frames are timestamped 0, 1, 2, … in units of 1/frameRate.
    package var frameRate: Int
    /// x264 constant rate factor: 0 lossless … 51 worst; 18 is visually transparent.
    package var crf: Int
    /// x264 preset, e.g. "ultrafast", "veryfast", "medium".
    package var preset: String
    /// Key frame interval in frames; nil lets x264 decide.
    package var keyFrameInterval: Int?
    /// Encoder threads; 0 lets x264 choose.
    package var threads: Int
    /// The colours the output is tagged with (limited range); untagged when nil, which players
    /// take as BT.601 at this size. Frames in another matrix or in full range are converted.
    package var color: VideoColor?

    /// Creates settings.
    package init(
        width: Int, height: Int, frameRate: Int, crf: Int, preset: String, keyFrameInterval: Int? = nil,
        threads: Int = 0, color: VideoColor? = nil
    ) {
        self.width = width
        self.height = height
        self.frameRate = frameRate
        self.crf = crf
        self.preset = preset
        self.keyFrameInterval = keyFrameInterval
        self.threads = threads
        self.color = color
    }
}

/// What a video's YUV values stand for, as its stream or frames say: the matrix, the primaries
/// and the transfer (FFmpeg's `AVColorSpace`, `AVColorPrimaries` and
/// `AVColorTransferCharacteristic` values).
package struct VideoColor: Sendable, Equatable {
    package var matrix: Int32
    package var primaries: Int32
    package var transfer: Int32

    package init(matrix: Int32, primaries: Int32, transfer: Int32) {
        self.matrix = matrix
        self.primaries = primaries
        self.transfer = transfer
    }

    /// The colours a stream's parameters say, or nil when they say nothing (untagged).
    package init?(_ par: UnsafePointer<AVCodecParameters>) {
        let p = par.pointee
        guard
            p.color_space != AVCOL_SPC_UNSPECIFIED || p.color_primaries != AVCOL_PRI_UNSPECIFIED
                || p.color_trc != AVCOL_TRC_UNSPECIFIED
        else { return nil }
        self.init(
            matrix: Int32(p.color_space.rawValue), primaries: Int32(p.color_primaries.rawValue),
            transfer: Int32(p.color_trc.rawValue))
    }
}

/// How to encode AAC-LC audio with FFmpeg's native encoder.
package struct AudioEncoderSettings: Sendable, Equatable {
    /// Samples per second.
    package var sampleRate: Int
    /// Channels.
    package var channels: Int
    /// Bits per second (no default here: the package's lives with the stitch options).
    package var bitRate: Int

    /// Creates settings.
    package init(sampleRate: Int, channels: Int, bitRate: Int) {
        self.sampleRate = sampleRate
        self.channels = channels
        self.bitRate = bitRate
    }
}

/// Shared by both encoders: owns an AVCodecContext and drains packets from it.
class CodecEncoder {
    private(set) var context: UnsafeMutablePointer<AVCodecContext>?
    let label: String
    private let packet: Packet
    private var flushed = false

    init(
        codecName: String, label: String, configure: (UnsafeMutablePointer<AVCodecContext>) throws -> Void,
        options: [String: String] = [:]
    ) throws {
        self.label = label
        packet = try Packet()
        _ = MediaLog.silenceByDefault
        guard let codec = avcodec_find_encoder_by_name(codecName) else {
            throw MediaError(.unsupported, file: nil, "the \(codecName) encoder is not in this FFmpeg build")
        }
        let ctx = try FFmpeg.allocated(avcodec_alloc_context3(codec), "the \(label) encoder")
        context = ctx
        try configure(ctx)
        var dict: OpaquePointer? = nil
        for (k, v) in options { av_dict_set(&dict, k, v, 0) }
        let rc = avcodec_open2(ctx, codec, &dict)
        av_dict_free(&dict)
        if rc < 0 { throw MediaError.ffmpeg(.encodeFailed, file: nil, "cannot open the \(label) encoder", rc) }
    }

    deinit {
        avcodec_free_context(&context)
    }

    /// The encoder's time base, in which packets come out.
    var timeBase: AVRational { context!.pointee.time_base }

    /// Sends a frame (nil flushes) and hands every finished packet to `sink`.
    func encode(_ frame: UnsafeMutablePointer<AVFrame>?, _ sink: (Packet) throws -> Void) throws {
        if frame == nil {
            if flushed { return }
            flushed = true
        }
        var rc = avcodec_send_frame(context, frame)
        if rc < 0 && rc != FFmpeg.eof {
            throw MediaError.ffmpeg(.encodeFailed, file: nil, "the \(label) encoder refused a frame", rc)
        }
        while true {
            packet.unref()
            rc = avcodec_receive_packet(context, packet.pointer)
            if rc == FFmpeg.eagain || rc == FFmpeg.eof { return }
            if rc < 0 { throw MediaError.ffmpeg(.encodeFailed, file: nil, "the \(label) encoder failed", rc) }
            try sink(packet)
        }
    }

    /// Copies the encoder's parameters (codec, size, extradata) into a stream's codecpar.
    func copyParameters(to par: UnsafeMutablePointer<AVCodecParameters>) throws {
        let rc = avcodec_parameters_from_context(par, context)
        if rc < 0 { throw MediaError.ffmpeg(.encodeFailed, file: nil, "cannot export \(label) parameters", rc) }
    }
}

/// Encodes frames to H.264 with libx264. Frames are numbered by the caller (pts in frames).
final class VideoEncoder: CodecEncoder {
    let settings: VideoEncoderSettings
    private let converter = YUV420Converter(file: nil)
    private var staging: Frame?
    /// The YUV → RGB coefficients of the output's matrix.
    private let coefficients: SIMD4<Int32>

    init(_ settings: VideoEncoderSettings, globalHeader: Bool) throws {
        guard settings.width > 0, settings.height > 0, settings.width % 2 == 0, settings.height % 2 == 0 else {
            throw MediaError(.misuse, file: nil, "H.264 needs an even frame size, not \(settings.width)x\(settings.height)")
        }
        guard (0...51).contains(settings.crf) else {
            throw MediaError(.misuse, file: nil, "CRF \(settings.crf) is outside 0…51")
        }
        self.settings = settings
        coefficients = YUV420Converter.coefficients(matrix: settings.color?.matrix ?? Int32(AVCOL_SPC_UNSPECIFIED.rawValue))
        var options = ["preset": settings.preset, "crf": String(settings.crf)]
        if settings.threads > 0 { options["threads"] = String(settings.threads) }
        try super.init(
            codecName: "libx264", label: "H.264",
            configure: { ctx in
                ctx.pointee.width = Int32(settings.width)
                ctx.pointee.height = Int32(settings.height)
                ctx.pointee.time_base = AVRational(num: 1, den: Int32(settings.frameRate))
                ctx.pointee.framerate = AVRational(num: Int32(settings.frameRate), den: 1)
                ctx.pointee.pix_fmt = AV_PIX_FMT_YUV420P
                ctx.pointee.sample_aspect_ratio = AVRational(num: 1, den: 1)
                if let color = settings.color {
                    ctx.pointee.colorspace = AVColorSpace(rawValue: UInt32(color.matrix))
                    ctx.pointee.color_primaries = AVColorPrimaries(rawValue: UInt32(color.primaries))
                    ctx.pointee.color_trc = AVColorTransferCharacteristic(rawValue: UInt32(color.transfer))
                    ctx.pointee.color_range = AVCOL_RANGE_MPEG
                }
                if let gop = settings.keyFrameInterval { ctx.pointee.gop_size = Int32(gop) }
                if globalHeader { CFFmpeg_codec_set_global_header(ctx) }
            }, options: options)
    }

    /// Encodes a decoded FFmpeg frame of any size and pixel format, scaling it to the encoder's
    /// size and converting it to the output's colours (its matrix, limited range) when needed;
    /// `index` becomes its pts.
    func encode(avFrame source: UnsafeMutablePointer<AVFrame>, index: Int64, _ sink: (Packet) throws -> Void) throws {
        let s = source.pointee
        if s.width == Int32(settings.width) && s.height == Int32(settings.height)
            && YUV420Converter.isYUV420(source, matrix: coefficients)
        {
            let savedPTS = source.pointee.pts
            let savedType = source.pointee.pict_type
            source.pointee.pts = index
            source.pointee.pict_type = AV_PICTURE_TYPE_NONE
            defer {
                source.pointee.pts = savedPTS
                source.pointee.pict_type = savedType
            }
            try encode(source, sink)
            return
        }
        let target = try stagingFrame()
        try converter.convert(source, into: target, matrix: coefficients)
        target.pointer.pointee.pts = index
        try encode(target.pointer, sink)
    }

    /// Encodes a frame given as plain bytes (rgb24 or yuv420p, at any size).
    ///
    /// The bytes are first copied into an FFmpeg-allocated frame: libswscale and libx264 read
    /// past the end of rows with SIMD and need FFmpeg's padded, aligned buffers.
    func encode(_ frame: VideoFrame, index: Int64, _ sink: (Packet) throws -> Void) throws {
        let staged = try Frame.video(width: frame.width, height: frame.height, format: frame.pixelFormat.av)
        let sizes = frame.pixelFormat.planeSizes(width: frame.width, height: frame.height)
        guard !sizes.isEmpty, frame.planes.count == sizes.count,
            zip(frame.planes, sizes).allSatisfy({ $0.count == $1.byteCount })
        else {
            throw MediaError(
                .misuse, file: nil, "a \(frame.width)x\(frame.height) \(frame.pixelFormat) frame has the wrong plane sizes")
        }
        staged.withPlanes { output in
            for (plane, size) in sizes.enumerated() {
                frame.planes[plane].withUnsafeBufferPointer { input in
                    av_image_copy_plane(
                        output.data[plane], output.linesize[plane], input.baseAddress, Int32(size.bytesPerRow),
                        Int32(size.bytesPerRow), Int32(size.rows))
                }
            }
        }
        let f = staged.pointer
        try encode(avFrame: f, index: index, sink)
    }

    /// Flushes delayed frames.
    func finish(_ sink: (Packet) throws -> Void) throws { try encode(nil, sink) }

    private func stagingFrame() throws -> Frame {
        if let staging, av_frame_is_writable(staging.pointer) != 0 { return staging }
        if let staging, av_frame_make_writable(staging.pointer) >= 0 { return staging }
        let f = try Frame.video(width: settings.width, height: settings.height, format: AV_PIX_FMT_YUV420P)
        staging = f
        return f
    }
}

/// Encodes interleaved float PCM to AAC-LC with FFmpeg's native encoder, in 1024-sample frames.
final class AudioEncoder: CodecEncoder {
    let settings: AudioEncoderSettings
    private var pending: [Float] = []
    private var pendingStart = 0
    private var samplesSent: Int64 = 0
    private var frameSize = 1024

    init(_ settings: AudioEncoderSettings, globalHeader: Bool) throws {
        guard settings.sampleRate > 0, (1...8).contains(settings.channels), settings.bitRate > 0 else {
            throw MediaError(
                .misuse, file: nil,
                "cannot encode AAC at \(settings.sampleRate) Hz, \(settings.channels) channels, \(settings.bitRate) b/s")
        }
        self.settings = settings
        try super.init(
            codecName: "aac", label: "AAC",
            configure: { ctx in
                ctx.pointee.sample_rate = Int32(settings.sampleRate)
                ctx.pointee.sample_fmt = AV_SAMPLE_FMT_FLTP
                ctx.pointee.bit_rate = Int64(settings.bitRate)
                ctx.pointee.time_base = AVRational(num: 1, den: Int32(settings.sampleRate))
                ctx.pointee.profile = FF_PROFILE_AAC_LOW
                av_channel_layout_uninit(&ctx.pointee.ch_layout)
                av_channel_layout_default(&ctx.pointee.ch_layout, Int32(settings.channels))
                if globalHeader { CFFmpeg_codec_set_global_header(ctx) }
            })
        frameSize = Int(context!.pointee.frame_size > 0 ? context!.pointee.frame_size : 1024)
    }

    /// Queues interleaved samples and encodes every whole frame.
    func append(_ samples: UnsafeBufferPointer<Float>, _ sink: (Packet) throws -> Void) throws {
        pending.append(contentsOf: samples)
        try encodeFrames(final: false, sink)
    }

    /// Encodes what is left (a short last frame) and flushes the encoder.
    func finish(_ sink: (Packet) throws -> Void) throws {
        try encodeFrames(final: true, sink)
        try encode(nil, sink)
    }

    private func encodeFrames(final: Bool, _ sink: (Packet) throws -> Void) throws {
        let channels = settings.channels
        while true {
            let available = (pending.count - pendingStart * channels) / channels
            let count = final ? min(available, frameSize) : (available >= frameSize ? frameSize : 0)
            if count == 0 { break }
            let frame = try Frame()
            let f = frame.pointer
            f.pointee.nb_samples = Int32(count)
            f.pointee.format = AV_SAMPLE_FMT_FLTP.rawValue
            f.pointee.sample_rate = Int32(settings.sampleRate)
            av_channel_layout_copy(&f.pointee.ch_layout, &context!.pointee.ch_layout)
            let rc = av_frame_get_buffer(f, 0)
            if rc < 0 { throw MediaError.ffmpeg(.encodeFailed, file: nil, "cannot allocate an audio frame", rc) }
            pending.withUnsafeBufferPointer { src in
                for c in 0..<channels {
                    let plane = UnsafeMutableRawPointer(f.pointee.extended_data[c]!).assumingMemoryBound(to: Float.self)
                    var s = pendingStart * channels + c
                    for i in 0..<count {
                        plane[i] = src[s]
                        s += channels
                    }
                }
            }
            pendingStart += count
            f.pointee.pts = samplesSent
            samplesSent += Int64(count)
            try encode(f, sink)
        }
        if pendingStart > 0 && (pendingStart * channels > 65536 || pendingStart * channels == pending.count) {
            pending.removeFirst(pendingStart * channels)
            pendingStart = 0
        }
    }
}

extension AudioEncoderSettings {
    /// The sample rates audio is encoded at: rates FFmpeg's AAC encoder and every
    /// common player take. A source at one of them keeps it; others go to the next one up
    /// (48 kHz at most: more is inaudible and AAC at 96 kHz is poorly supported).
    package static let aacRates = [8_000, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000]

    /// The channel counts to try for AAC, best first: the source's own (AAC takes up to 8),
    /// then stereo, then mono (libswresample mixes down).
    package static func aacChannelCandidates(forSource channels: Int) -> [Int] {
        var candidates: [Int] = []
        for n in [min(max(channels, 1), 8), 2, 1] where !candidates.contains(n) { candidates.append(n) }
        return candidates
    }

    /// The AAC sample rate for a source rate (see ``aacRates``).
    package static func aacRate(forSource rate: Int) -> Int {
        aacRates.first { $0 >= rate } ?? 48_000
    }
}
