import CFFmpeg

/// Decodes one stream of a `Demuxer`. Keeps the demuxer alive, so the borrowed AVStream and its
/// codec parameters stay valid for as long as the decoder exists. Not `Sendable`.
final class StreamDecoder {
    let demuxer: Demuxer
    let streamIndex: Int
    private(set) var context: UnsafeMutablePointer<AVCodecContext>?
    private var flushed = false

    /// Opens the decoder for `streamIndex`. `threads` 0 lets FFmpeg choose; `fast` skips the
    /// deblocking filter and allows the codec's shortcuts (pictures to measure, not to show).
    init(demuxer: Demuxer, streamIndex: Int, threads: Int = 0, fast: Bool = false) throws {
        self.demuxer = demuxer
        self.streamIndex = streamIndex
        let stream = demuxer.avStream(streamIndex)
        let par = stream.pointee.codecpar!
        guard let codec = avcodec_find_decoder(par.pointee.codec_id) else {
            throw MediaError(
                .unsupported, file: demuxer.source,
                "no decoder for codec \(FFmpeg.codecName(par.pointee.codec_id))")
        }
        let ctx = try FFmpeg.allocated(avcodec_alloc_context3(codec), "a decoder", file: demuxer.source)
        context = ctx
        var rc = avcodec_parameters_to_context(ctx, par)
        if rc < 0 { throw MediaError.ffmpeg(.invalidData, file: demuxer.source, "cannot configure the decoder", rc) }
        ctx.pointee.pkt_timebase = stream.pointee.time_base
        ctx.pointee.thread_count = Int32(threads)
        if fast {
            ctx.pointee.skip_loop_filter = AVDISCARD_ALL
            ctx.pointee.flags2 |= AV_CODEC_FLAG2_FAST
        }
        rc = avcodec_open2(ctx, codec, nil)
        // The codec is there but refuses the stream's parameters: the file is at fault.
        if rc < 0 { throw MediaError.ffmpeg(.invalidData, file: demuxer.source, "cannot open the decoder", rc) }
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

    /// What went wrong while decoding a whole stream, short of failing.
    struct DecodeReport {
        /// Packets of the stream that failed to decode (skipped, as the ffmpeg tool skips them).
        var failedPackets = 0
        /// Whether the stream's last packet failed: the data ends in the middle of a packet.
        var lastPacketFailed = false
        /// The size and first bytes of the stream's last packet (for codec-level checks).
        var lastPacketSize = 0
        var lastPacketHead: [UInt8] = []

        /// Notes `packet` as the stream's last packet so far.
        mutating func noteLastPacket(_ packet: Packet) {
            let p = packet.pointer.pointee
            lastPacketSize = Int(p.size)
            lastPacketHead = p.data.map { Array(UnsafeBufferPointer(start: $0, count: min(Int(p.size), 4))) } ?? []
        }
    }

    /// Reads packets of this stream from the demuxer and calls `body` with each decoded frame,
    /// then flushes the decoder. Packets of other streams are skipped.
    ///
    /// Corrupt packets are skipped like the ffmpeg tool does, but a stream where nothing
    /// decodes at all is an error; `tolerateErrors` bounds how many packets may fail.
    @discardableResult
    func decodeAll(tolerateErrors: Int = 8, _ body: (Frame) throws -> Void) throws -> DecodeReport {
        let packet = try Packet()
        let frame = try Frame()
        var report = DecodeReport()
        var decodedAny = false
        var lastError: MediaError?
        var packets = 0
        var lastFailedPacket = -1
        func failed(_ error: MediaError) throws {
            if lastFailedPacket != packets {
                report.failedPackets += 1
                lastFailedPacket = packets
            }
            lastError = error
            if report.failedPackets > tolerateErrors { throw error }
        }
        func drain() throws {
            while true {
                do {
                    guard try receive(into: frame) else { return }
                } catch let error as MediaError {
                    try failed(error)
                    continue
                }
                decodedAny = true
                try body(frame)
            }
        }
        while try demuxer.read(into: packet) {
            guard Int(packet.pointer.pointee.stream_index) == streamIndex else { continue }
            packets += 1
            if packets % 256 == 0 { try BlockingWork.checkCancellation() }
            report.noteLastPacket(packet)
            while true {
                let accepted: Bool
                do {
                    accepted = try send(packet)
                } catch let error as MediaError {
                    try failed(error)
                    break
                }
                try drain()
                if accepted { break }
            }
        }
        // Errors while flushing belong to the last packet.
        _ = try send(nil)
        try drain()
        if !decodedAny, let lastError { throw lastError }
        report.lastPacketFailed = packets > 0 && lastFailedPacket == packets
        return report
    }
}
