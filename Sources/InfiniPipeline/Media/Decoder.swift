import CFFmpeg

/// Decodes one stream of a `Demuxer`. Keeps the demuxer alive, so the borrowed AVStream and its
/// codec parameters stay valid for as long as the decoder exists. Not `Sendable`.
final class StreamDecoder {
    let demuxer: Demuxer
    let streamIndex: Int
    private(set) var context: UnsafeMutablePointer<AVCodecContext>?
    private var flushed = false

    /// Opens the decoder for `streamIndex`. `threads` 0 lets FFmpeg choose.
    init(demuxer: Demuxer, streamIndex: Int, threads: Int = 0) throws {
        self.demuxer = demuxer
        self.streamIndex = streamIndex
        let stream = demuxer.avStream(streamIndex)
        let par = stream.pointee.codecpar!
        guard let codec = avcodec_find_decoder(par.pointee.codec_id) else {
            throw MediaError(.unsupported, file: demuxer.source,
                             "no decoder for codec \(FFmpeg.codecName(par.pointee.codec_id))")
        }
        guard let ctx = avcodec_alloc_context3(codec) else {
            throw MediaError(.misuse, file: demuxer.source, "out of memory")
        }
        context = ctx
        var rc = avcodec_parameters_to_context(ctx, par)
        if rc < 0 { throw MediaError.ffmpeg(.decodeFailed, file: demuxer.source, "cannot configure the decoder", rc) }
        ctx.pointee.pkt_timebase = stream.pointee.time_base
        ctx.pointee.thread_count = Int32(threads)
        rc = avcodec_open2(ctx, codec, nil)
        if rc < 0 { throw MediaError.ffmpeg(.decodeFailed, file: demuxer.source, "cannot open the decoder", rc) }
    }

    deinit {
        avcodec_free_context(&context)
    }

    /// Sends a packet (nil flushes). Returns false when the decoder wants its output drained
    /// first (EAGAIN); the packet was not consumed then.
    func send(_ packet: Packet?) throws -> Bool {
        if packet == nil {
            if flushed { return true }
            flushed = true
        }
        let rc = avcodec_send_packet(context, packet?.pointer)
        if rc == FFmpeg.eagain { return false }
        if rc == FFmpeg.eof { return true }
        if rc < 0 {
            throw MediaError.ffmpeg(.invalidData, file: demuxer.source, "corrupt data in stream \(streamIndex)", rc)
        }
        return true
    }

    /// Receives the next decoded frame into `frame`; false when the decoder needs more input
    /// or is fully drained.
    func receive(into frame: Frame) throws -> Bool {
        frame.unref()
        let rc = avcodec_receive_frame(context, frame.pointer)
        if rc == FFmpeg.eagain || rc == FFmpeg.eof { return false }
        if rc < 0 {
            throw MediaError.ffmpeg(.invalidData, file: demuxer.source, "cannot decode stream \(streamIndex)", rc)
        }
        return true
    }

    /// Reads packets of this stream from the demuxer and calls `body` with each decoded frame,
    /// then flushes the decoder. Packets of other streams are skipped.
    ///
    /// Corrupt packets are skipped like the ffmpeg tool does, but a stream where nothing
    /// decodes at all is an error; `tolerateErrors` bounds how many packets may fail.
    func decodeAll(tolerateErrors: Int = 8, _ body: (Frame) throws -> Void) throws {
        let packet = Packet()
        let frame = Frame()
        var errors = 0
        var decodedAny = false
        var lastError: MediaError?
        func drain() throws {
            while true {
                do {
                    guard try receive(into: frame) else { return }
                } catch let error as MediaError {
                    errors += 1
                    lastError = error
                    if errors > tolerateErrors { throw error }
                    continue
                }
                decodedAny = true
                try body(frame)
            }
        }
        while try demuxer.read(into: packet) {
            guard Int(packet.pointer.pointee.stream_index) == streamIndex else { continue }
            while true {
                let accepted: Bool
                do {
                    accepted = try send(packet)
                } catch let error as MediaError {
                    errors += 1
                    lastError = error
                    if errors > tolerateErrors { throw error }
                    break
                }
                try drain()
                if accepted { break }
            }
        }
        _ = try send(nil)
        try drain()
        if !decodedAny, let lastError { throw lastError }
    }
}
