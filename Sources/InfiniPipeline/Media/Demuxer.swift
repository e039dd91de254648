import CFFmpeg
import Foundation

/// What a container says about one of its streams: a plain value, safe to keep and share.
///
/// Public because the fal client reports the video stream of a downloaded result with it;
/// the rest of the media layer is internal to the package.
package struct StreamInfo: Sendable, Equatable {
    /// The kind of a stream.
    package enum Kind: String, Sendable, Codable {
        /// An audio stream.
        case audio
        /// A video stream.
        case video
        /// A subtitle stream.
        case subtitle
        /// A data stream (timed metadata).
        case data
        /// Anything else (attachments, unknown).
        case other
    }

    /// Index of the stream in its container.
    package var index: Int
    /// Audio, video, or something else.
    package var kind: Kind
    /// FFmpeg's short codec name, e.g. "h264", "aac", "mp3".
    package var codecName: String
    /// Duration in seconds as the container declares it, when it does.
    package var duration: Double?
    /// The time base of the stream's timestamps.
    package var timeBase: Rational
    /// Average frame rate of a video stream (0/0 when unknown).
    package var frameRate: Rational
    /// Frame count as the container declares it (0 when unknown).
    package var declaredFrameCount: Int
    /// Video width in pixels (0 for audio).
    package var width: Int
    /// Video height in pixels (0 for audio).
    package var height: Int
    /// Audio sample rate (0 for video).
    package var sampleRate: Int
    /// Audio channel count (0 for video).
    package var channels: Int
    /// The codec's out-of-band configuration (e.g. H.264 SPS/PPS in avcC form).
    package var extradata: [UInt8]
    /// FFmpeg's codec profile number (-99 when unknown).
    package var profile: Int32
    /// FFmpeg's pixel format name for video ("yuv420p"), sample format name for audio.
    package var formatName: String
}

/// Opens a media container (any format FFmpeg reads) from a file or from bytes in memory, and
/// reads its packets.
///
/// A `Demuxer` is not `Sendable`: one task owns it. Decoders made from it keep it alive, so a
/// stream never outlives its container.
package final class Demuxer {
    /// The path, or a name given for in-memory data; used in error messages.
    package let source: String
    /// The streams of the container, in container order.
    package let streams: [StreamInfo]
    /// The container's format name, e.g. "mov,mp4,m4a,3gp,3g2,mj2" or "mp3".
    package let formatName: String
    /// The container's duration in seconds, when known.
    package let duration: Double?

    private(set) var context: UnsafeMutablePointer<AVFormatContext>?
    private var memory: MemoryInput?
    /// Set when reading stopped on an error at the end of the data (a cut-off file) rather
    /// than at a clean end of file.
    private(set) var endedEarly = false
    /// A WAV written to a pipe declares its sizes as 0xFFFFFFFF (or 0) and runs to the end of
    /// the file: its last packet is short by design, not because the file was cut.
    private var declaresUnknownLength = false

    /// Opens a file.
    /// - Throws: `MediaError` with `.cannotOpen` (missing or unreadable), `.empty` (0 bytes) or
    ///   `.invalidData` (not a format FFmpeg reads).
    package convenience init(path: String) throws {
        _ = MediaLog.silenceByDefault
        try Demuxer.checkReadable(path)
        var ctx: UnsafeMutablePointer<AVFormatContext>? = nil
        let rc = avformat_open_input(&ctx, path, nil, nil)
        if rc < 0 {
            throw MediaError(
                .invalidData, file: path,
                "not a media file FFmpeg can read (\(FFmpeg.errorString(rc)))", averror: rc)
        }
        try self.init(context: ctx!, memory: nil, source: path)
        if formatName == "wav", let handle = FileHandle(forReadingAtPath: path) {
            defer { try? handle.close() }
            let head = (try? handle.read(upToCount: 1 << 16)) ?? Data()
            declaresUnknownLength = Demuxer.wavDataSizeIsUnknown([UInt8](head))
        }
        if formatName == "ogg", let handle = FileHandle(forReadingAtPath: path) {
            defer { try? handle.close() }
            let size = (try? handle.seekToEnd()) ?? 0
            let start = size > UInt64(Ogg.tailLength) ? size - UInt64(Ogg.tailLength) : 0
            if (try? handle.seek(toOffset: start)) != nil, let tail = try? handle.readToEnd() {
                endedEarly = Ogg.endsInsidePage([UInt8](tail))
            }
        }
    }

    /// Whether a WAV's `data` chunk declares the streaming placeholder size 0xFFFFFFFF or 0,
    /// as ffmpeg and sox write when their output is a pipe.
    static func wavDataSizeIsUnknown(_ bytes: [UInt8]) -> Bool {
        func u32(_ at: Int) -> UInt32 {
            UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
        }
        guard bytes.count >= 12, bytes[0..<4].elementsEqual("RIFF".utf8), bytes[8..<12].elementsEqual("WAVE".utf8) else {
            return false
        }
        var offset = 12
        while offset + 8 <= bytes.count {
            let size = u32(offset + 4)
            if bytes[offset..<offset + 4].elementsEqual("data".utf8) { return size == 0xFFFF_FFFF || size == 0 }
            offset += 8 + Int(size) + Int(size & 1)
        }
        return false
    }

    /// Opens media held in memory; `name` is used in error messages.
    package convenience init(data: [UInt8], name: String) throws {
        _ = MediaLog.silenceByDefault
        if data.isEmpty { throw MediaError(.empty, file: name, "the data is empty") }
        let memory = MemoryInput(data)
        var ctx = try FFmpeg.allocated(avformat_alloc_context(), "a demuxer", file: name)
        let io: UnsafeMutablePointer<AVIOContext>
        do {
            io = try FFmpeg.allocated(memory.makeIOContext(), "an input buffer", file: name)
        } catch {
            avformat_free_context(ctx)
            throw error
        }
        ctx.pointee.pb = io
        var optional: UnsafeMutablePointer<AVFormatContext>? = ctx
        let rc = avformat_open_input(&optional, nil, nil, nil)
        if rc < 0 {
            // avformat_open_input frees the context on failure; the AVIO context is ours.
            memory.freeIOContext()
            throw MediaError(
                .invalidData, file: name,
                "not media FFmpeg can read (\(FFmpeg.errorString(rc)))", averror: rc)
        }
        ctx = optional!
        try self.init(context: ctx, memory: memory, source: name)
        if formatName == "wav" { declaresUnknownLength = Demuxer.wavDataSizeIsUnknown(Array(data.prefix(1 << 16))) }
        if formatName == "ogg" { endedEarly = Ogg.endsInsidePage(Array(data.suffix(Ogg.tailLength))) }
    }

    private init(context ctx: UnsafeMutablePointer<AVFormatContext>, memory: MemoryInput?, source: String) throws {
        self.source = source
        self.memory = memory
        self.context = ctx
        let rc = avformat_find_stream_info(ctx, nil)
        if rc < 0 {
            var c: UnsafeMutablePointer<AVFormatContext>? = ctx
            avformat_close_input(&c)
            memory?.freeIOContext()
            self.context = nil
            throw MediaError.ffmpeg(.invalidData, file: source, "cannot read stream information", rc)
        }
        var infos: [StreamInfo] = []
        for i in 0..<Int(ctx.pointee.nb_streams) {
            infos.append(StreamInfo(ctx.pointee.streams[i]!))
        }
        streams = infos
        formatName = String(cString: ctx.pointee.iformat.pointee.name)
        duration =
            ctx.pointee.duration == FFmpeg.noPTS || ctx.pointee.duration <= 0
            ? nil : Double(ctx.pointee.duration) / Double(AV_TIME_BASE)
    }

    deinit {
        if context != nil {
            avformat_close_input(&context)
        }
        memory?.freeIOContext()
    }

    /// The best stream of a kind, as FFmpeg chooses it (e.g. the main audio track).
    /// - Throws: `.noStream` naming what the container does have.
    package func bestStream(_ kind: StreamInfo.Kind) throws -> StreamInfo {
        let type: AVMediaType = kind == .audio ? AVMEDIA_TYPE_AUDIO : AVMEDIA_TYPE_VIDEO
        let index = av_find_best_stream(context, type, -1, -1, nil, 0)
        if index < 0 {
            let have =
                streams.isEmpty
                ? "no streams at all"
                : streams.map { "\($0.kind.rawValue) (\($0.codecName))" }.joined(separator: ", ")
            throw MediaError(.noStream, file: source, "no \(kind.rawValue) stream (the file has: \(have))")
        }
        return streams[Int(index)]
    }

    /// Reads the next packet of any stream into `packet`. Returns false at the end of the file.
    /// - Throws: `.invalidData` when the container is corrupt.
    func read(into packet: Packet) throws -> Bool {
        packet.unref()
        let rc = av_read_frame(context, packet.pointer)
        if rc == FFmpeg.eof { return false }
        if rc < 0 {
            // A truncated file often ends in an I/O error rather than a clean EOF.
            if let pb = context?.pointee.pb, avio_feof(pb) != 0 {
                endedEarly = true
                return false
            }
            throw MediaError.ffmpeg(.invalidData, file: source, "cannot read the next packet", rc)
        }
        if packet.pointer.pointee.flags & AV_PKT_FLAG_CORRUPT != 0 && !declaresUnknownLength {
            // A packet shorter than the index says: the data was cut off.
            endedEarly = true
        }
        return true
    }

    /// Throws when the file was cut off: the container promised more data than it holds.
    func checkComplete() throws {
        if endedEarly {
            throw MediaError(.invalidData, file: source, "the file ends early (truncated or corrupt)")
        }
    }

    /// The borrowed AVStream at `index`; valid while this demuxer lives.
    func avStream(_ index: Int) -> UnsafeMutablePointer<AVStream> {
        context!.pointee.streams[index]!
    }

    /// Seeks to a time (seconds) on a stream, landing on the key frame at or before it.
    func seek(stream index: Int, to seconds: Double) throws {
        let tb = avStream(index).pointee.time_base
        let ts = Int64((seconds * Double(tb.den) / Double(tb.num)).rounded(.down))
        let rc = av_seek_frame(context, Int32(index), ts, AVSEEK_FLAG_BACKWARD)
        if rc < 0 { throw MediaError.ffmpeg(.invalidData, file: source, "cannot seek to \(seconds) s", rc) }
    }

    static func checkReadable(_ path: String) throws {
        try FileChecks.requireRegularFile(path)
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw MediaError(.cannotOpen, file: path, "permission denied")
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? -1
        if size == 0 { throw MediaError(.empty, file: path, "the file is empty") }
    }
}

/// How an Ogg file ends (RFC 3533). FFmpeg's Ogg demuxer silently drops an incomplete last
/// page, so a cut-off Vorbis or Opus file would decode shorter without a word; the acceptance
/// rule refuses data that ends inside a packet, and for Ogg that is data ending inside a page.
enum Ogg {
    /// The largest page: 27 header bytes, 255 lacing values, 255 × 255 body bytes.
    static let maxPageLength = 27 + 255 + 255 * 255
    /// How much of the end of a file ``endsInsidePage(_:)`` needs: the whole of the last
    /// complete page even when a page of the largest size is cut off after it.
    static let tailLength = 2 * maxPageLength

    /// Whether the file whose last bytes are `tail` (at least ``tailLength`` bytes, or the whole
    /// file) ends inside a page.
    ///
    /// The capture pattern "OggS" may occur inside page data, so a page is trusted only when its
    /// CRC checks: the last such page is found scanning back from the end, and the pages after
    /// it are walked by their headers. The file is cut when that walk meets a page (or the start
    /// of a capture pattern) that runs past the end of the data. Bytes after the last page that
    /// are no page at all (a tag some tool appended) are not a cut, and a tail without any
    /// checked page is not judged.
    static func endsInsidePage(_ tail: [UInt8]) -> Bool {
        let n = tail.count
        var candidate = n - 4
        while candidate >= 0 {
            if isCapture(tail, at: candidate), let end = pageEnd(tail, at: candidate), end <= n,
                crcMatches(tail, page: candidate..<end)
            {
                return walkEndsInsidePage(tail, from: end)
            }
            candidate -= 1
        }
        return false
    }

    /// Walks page headers from `position` (just after a checked page) to the end of the data.
    private static func walkEndsInsidePage(_ tail: [UInt8], from position: Int) -> Bool {
        let n = tail.count
        var q = position
        while q < n {
            let remaining = n - q
            if remaining < 4 {
                // Cut inside the capture pattern itself?
                return zip(tail[q...], "OggS".utf8).allSatisfy { $0 == $1 }
            }
            guard isCapture(tail, at: q) else { return false }  // not a page: trailing bytes
            guard let end = pageEnd(tail, at: q) else {
                // The header or its lacing values run past the end (or the version is unknown).
                return remaining < 27 || tail[q + 4] == 0
            }
            if end > n { return true }
            q = end
        }
        return false
    }

    private static func isCapture(_ b: [UInt8], at i: Int) -> Bool {
        i + 4 <= b.count && b[i] == 0x4F && b[i + 1] == 0x67 && b[i + 2] == 0x67 && b[i + 3] == 0x53
    }

    /// Where the page starting at `i` ends, from its header and lacing values; nil when the
    /// header is incomplete or not version 0.
    private static func pageEnd(_ b: [UInt8], at i: Int) -> Int? {
        guard i + 27 <= b.count, b[i + 4] == 0 else { return nil }
        let segments = Int(b[i + 26])
        guard i + 27 + segments <= b.count else { return nil }
        var body = 0
        for k in 0..<segments { body += Int(b[i + 27 + k]) }
        return i + 27 + segments + body
    }

    /// Whether a page's stored CRC (bytes 22–25, little-endian) matches its bytes, computed with
    /// that field as zeros.
    private static func crcMatches(_ b: [UInt8], page: Range<Int>) -> Bool {
        let i = page.lowerBound
        let stored = UInt32(b[i + 22]) | UInt32(b[i + 23]) << 8 | UInt32(b[i + 24]) << 16 | UInt32(b[i + 25]) << 24
        var crc: UInt32 = 0
        for k in page {
            let byte = (k >= i + 22 && k < i + 26) ? 0 : b[k]
            crc = (crc << 8) ^ crcTable[Int((crc >> 24) ^ UInt32(byte))]
        }
        return crc == stored
    }

    /// The Ogg CRC-32: polynomial 0x04C11DB7, most significant bit first, initial value 0, no
    /// final inversion.
    private static let crcTable: [UInt32] = (0..<256).map { (i: UInt32) -> UInt32 in
        var r = i << 24
        for _ in 0..<8 { r = r & 0x8000_0000 != 0 ? (r << 1) ^ 0x04C1_1DB7 : r << 1 }
        return r
    }
}

extension StreamInfo {
    init(_ stream: UnsafeMutablePointer<AVStream>) {
        let par = stream.pointee.codecpar!.pointee
        let kind: Kind
        switch par.codec_type {
        case AVMEDIA_TYPE_AUDIO: kind = .audio
        case AVMEDIA_TYPE_VIDEO: kind = .video
        case AVMEDIA_TYPE_SUBTITLE: kind = .subtitle
        case AVMEDIA_TYPE_DATA: kind = .data
        default: kind = .other
        }
        let tb = stream.pointee.time_base
        var duration: Double? = nil
        if stream.pointee.duration != FFmpeg.noPTS && stream.pointee.duration > 0 && tb.den != 0 {
            duration = Double(stream.pointee.duration) * Double(tb.num) / Double(tb.den)
        }
        var extradata: [UInt8] = []
        if let e = par.extradata, par.extradata_size > 0 {
            extradata = Array(UnsafeBufferPointer(start: e, count: Int(par.extradata_size)))
        }
        var formatName = ""
        if kind == .video, let n = av_get_pix_fmt_name(AVPixelFormat(rawValue: par.format)) {
            formatName = String(cString: n)
        } else if kind == .audio, let n = av_get_sample_fmt_name(AVSampleFormat(rawValue: par.format)) {
            formatName = String(cString: n)
        }
        self.init(
            index: Int(stream.pointee.index), kind: kind, codecName: FFmpeg.codecName(par.codec_id),
            duration: duration, timeBase: Rational(tb), frameRate: Rational(stream.pointee.avg_frame_rate),
            declaredFrameCount: Int(stream.pointee.nb_frames), width: Int(par.width), height: Int(par.height),
            sampleRate: Int(par.sample_rate), channels: Int(par.ch_layout.nb_channels), extradata: extradata,
            profile: par.profile, formatName: formatName)
    }
}

/// Serves bytes in memory to FFmpeg through a custom AVIOContext.
private final class MemoryInput {
    let bytes: [UInt8]
    var position = 0
    private var io: UnsafeMutablePointer<AVIOContext>?

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func makeIOContext() -> UnsafeMutablePointer<AVIOContext>? {
        let size = 64 * 1024
        guard let buffer = av_malloc(size) else { return nil }
        let opaque = Unmanaged.passUnretained(self).toOpaque()
        io = avio_alloc_context(
            buffer.assumingMemoryBound(to: UInt8.self), Int32(size), 0, opaque,
            { opaque, buf, size in
                let me = Unmanaged<MemoryInput>.fromOpaque(opaque!).takeUnretainedValue()
                let n = min(Int(size), me.bytes.count - me.position)
                if n <= 0 { return CFFmpeg_AVERROR_EOF }
                me.bytes.withUnsafeBufferPointer { src in
                    buf!.update(from: src.baseAddress! + me.position, count: n)
                }
                me.position += n
                return Int32(n)
            }, nil,
            { opaque, offset, whence in
                let me = Unmanaged<MemoryInput>.fromOpaque(opaque!).takeUnretainedValue()
                if whence & AVSEEK_SIZE != 0 { return Int64(me.bytes.count) }
                let base: Int
                switch whence & ~AVSEEK_FORCE {
                case SEEK_SET: base = 0
                case SEEK_CUR: base = me.position
                case SEEK_END: base = me.bytes.count
                default: return Int64(CFFmpeg_AVERROR_EINVAL())
                }
                let target = base + Int(offset)
                if target < 0 || target > me.bytes.count { return Int64(CFFmpeg_AVERROR_EINVAL()) }
                me.position = target
                return Int64(target)
            })
        if io == nil { av_free(buffer) }
        return io
    }

    func freeIOContext() {
        guard io != nil else { return }
        // avio may have replaced its buffer: free the one it holds now.
        av_freep(&io!.pointee.buffer)
        avio_context_free(&io)
    }
}
