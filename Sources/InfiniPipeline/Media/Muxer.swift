import CFFmpeg
import Foundation

/// Writes packets into a container file (MP4 by default, with the moov atom at the front).
/// Not `Sendable`; one task owns it.
final class Muxer {
    let path: String
    private(set) var context: UnsafeMutablePointer<AVFormatContext>?
    private var headerWritten = false
    private var finished = false
    private var streamTimeBases: [AVRational] = []

    /// Creates the muxer; nothing is written until `writeHeader`.
    init(path: String, format: String = "mp4") throws {
        _ = MediaLog.silenceByDefault
        self.path = path
        var ctx: UnsafeMutablePointer<AVFormatContext>? = nil
        let rc = avformat_alloc_output_context2(&ctx, nil, format, path)
        if rc < 0 || ctx == nil {
            throw MediaError.ffmpeg(.writeFailed, file: path, "cannot create a \(format) file", rc)
        }
        context = ctx
    }

    deinit {
        if let ctx = context {
            if CFFmpeg_oformat_is_nofile(ctx) == 0 && ctx.pointee.pb != nil {
                avio_closep(&ctx.pointee.pb)
            }
            avformat_free_context(ctx)
        }
    }

    /// Whether encoders feeding this muxer must put codec headers in extradata.
    var wantsGlobalHeader: Bool { CFFmpeg_oformat_wants_global_header(context) != 0 }

    /// Adds a stream fed by an encoder; returns its index.
    func addStream(encoder: CodecEncoder) throws -> Int {
        guard let stream = avformat_new_stream(context, nil) else {
            throw MediaError(.writeFailed, file: path, "cannot add a stream")
        }
        try encoder.copyParameters(to: stream.pointee.codecpar)
        stream.pointee.time_base = encoder.timeBase
        if let video = encoder as? VideoEncoder {
            stream.pointee.avg_frame_rate = AVRational(num: Int32(video.settings.frameRate), den: 1)
        }
        streamTimeBases.append(encoder.timeBase)
        return Int(stream.pointee.index)
    }

    /// Adds a stream whose packets are copied from `demuxer`'s stream `index` without re-encoding.
    func addStream(copying index: Int, of demuxer: Demuxer) throws -> Int {
        let source = demuxer.avStream(index)
        guard let stream = avformat_new_stream(context, nil) else {
            throw MediaError(.writeFailed, file: path, "cannot add a stream")
        }
        let rc = avcodec_parameters_copy(stream.pointee.codecpar, source.pointee.codecpar)
        if rc < 0 { throw MediaError.ffmpeg(.writeFailed, file: path, "cannot copy stream parameters", rc) }
        stream.pointee.codecpar.pointee.codec_tag = 0  // let the muxer pick its own tag
        stream.pointee.time_base = source.pointee.time_base
        stream.pointee.avg_frame_rate = source.pointee.avg_frame_rate
        streamTimeBases.append(source.pointee.time_base)
        return Int(stream.pointee.index)
    }

    /// Adds a `mov_text` (3GPP timed text) subtitle stream in milliseconds, tagged with
    /// `language` (ISO 639-2, `und` when unknown); returns its index. Feed it with
    /// ``writeSubtitle(_:start:end:stream:)``.
    func addSubtitleStream(language: String) throws -> Int {
        guard let stream = avformat_new_stream(context, nil) else {
            throw MediaError(.writeFailed, file: path, "cannot add a subtitle stream")
        }
        let par = stream.pointee.codecpar!
        par.pointee.codec_type = AVMEDIA_TYPE_SUBTITLE
        par.pointee.codec_id = AV_CODEC_ID_MOV_TEXT
        let entry = MovText.sampleEntry
        guard let extradata = av_mallocz(entry.count + Int(AV_INPUT_BUFFER_PADDING_SIZE)) else {
            throw MediaError(.outOfMemory, file: path, "cannot allocate the subtitle description")
        }
        extradata.copyMemory(from: entry, byteCount: entry.count)
        par.pointee.extradata = extradata.assumingMemoryBound(to: UInt8.self)
        par.pointee.extradata_size = Int32(entry.count)
        stream.pointee.time_base = MovText.timeBase
        av_dict_set(&stream.pointee.metadata, "language", language, 0)
        streamTimeBases.append(MovText.timeBase)
        return Int(stream.pointee.index)
    }

    /// Writes one cue to the subtitle stream `stream`: `text` (lines separated by `\n`) shown
    /// from `start` to `end` seconds.
    func writeSubtitle(_ text: String, start: Double, end: Double, stream: Int) throws {
        let sample = MovText.sample(text)
        let packet = try Packet()
        let rc = av_new_packet(packet.pointer, Int32(sample.count))
        if rc < 0 { throw MediaError.ffmpeg(.outOfMemory, file: path, "cannot allocate a subtitle packet", rc) }
        sample.withUnsafeBytes {
            packet.pointer.pointee.data.update(from: $0.bindMemory(to: UInt8.self).baseAddress!, count: sample.count)
        }
        let from = MovText.milliseconds(start), to = max(MovText.milliseconds(end), from + 1)
        packet.pointer.pointee.pts = from
        packet.pointer.pointee.dts = from
        packet.pointer.pointee.duration = to - from
        packet.pointer.pointee.flags |= AV_PKT_FLAG_KEY
        try write(packet, stream: stream, timeBase: MovText.timeBase)
    }

    /// Opens the file and writes the header. `fastStart` moves the moov atom to the front.
    func writeHeader(fastStart: Bool = true) throws {
        guard let ctx = context else { return }
        if CFFmpeg_oformat_is_nofile(ctx) == 0 {
            let rc = avio_open(&ctx.pointee.pb, path, AVIO_FLAG_WRITE)
            if rc < 0 { throw MediaError.ffmpeg(.writeFailed, file: path, "cannot open for writing", rc) }
        }
        var options: OpaquePointer? = nil
        if fastStart { av_dict_set(&options, "movflags", "+faststart", 0) }
        av_dict_set(&options, "fflags", "+bitexact", 0)
        let rc = avformat_write_header(ctx, &options)
        av_dict_free(&options)
        if rc < 0 { throw MediaError.ffmpeg(.writeFailed, file: path, "cannot write the header", rc) }
        headerWritten = true
    }

    /// Opens the file and writes the header with the muxer and format options in `options`
    /// (e.g. `movflags`), and bit-exact output.
    func writeHeader(options given: [String: String]) throws {
        guard let ctx = context else { return }
        if CFFmpeg_oformat_is_nofile(ctx) == 0 {
            let rc = avio_open(&ctx.pointee.pb, path, AVIO_FLAG_WRITE)
            if rc < 0 { throw MediaError.ffmpeg(.writeFailed, file: path, "cannot open for writing", rc) }
        }
        var options: OpaquePointer? = nil
        for (key, value) in given.sorted(by: { $0.key < $1.key }) { av_dict_set(&options, key, value, 0) }
        av_dict_set(&options, "fflags", "+bitexact", 0)
        let rc = avformat_write_header(ctx, &options)
        av_dict_free(&options)
        if rc < 0 { throw MediaError.ffmpeg(.writeFailed, file: path, "cannot write the header", rc) }
        headerWritten = true
    }

    /// Writes one packet to `stream`, rescaling its timestamps from `timeBase`.
    /// The packet is consumed (left blank) by FFmpeg.
    func write(_ packet: Packet, stream: Int, timeBase: AVRational) throws {
        guard headerWritten, !finished else {
            throw MediaError(.misuse, file: path, "packet written before the header or after the trailer")
        }
        let p = packet.pointer
        p.pointee.stream_index = Int32(stream)
        let target = context!.pointee.streams[stream]!.pointee.time_base
        av_packet_rescale_ts(p, timeBase, target)
        p.pointee.pos = -1
        let rc = av_interleaved_write_frame(context, p)
        if rc < 0 { throw MediaError.ffmpeg(.writeFailed, file: path, "cannot write a packet", rc) }
    }

    /// Writes the trailer (the index) and closes the file.
    func finish() throws {
        guard let ctx = context, headerWritten, !finished else { return }
        finished = true
        var rc = av_write_trailer(ctx)
        if rc < 0 { throw MediaError.ffmpeg(.writeFailed, file: path, "cannot finish the file", rc) }
        if CFFmpeg_oformat_is_nofile(ctx) == 0 {
            rc = avio_closep(&ctx.pointee.pb)
            if rc < 0 { throw MediaError.ffmpeg(.writeFailed, file: path, "cannot close the file", rc) }
        }
    }
}
