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
