import CFFmpeg

/// Pixel layouts the video reader delivers and the video encoder takes as plain bytes.
package enum VideoPixelFormat: String, Sendable, Codable {
    /// Packed 8-bit RGB, one plane.
    case rgb24
    /// Planar 8-bit YUV 4:2:0 (Y, then U and V at half width and height), three planes.
    case yuv420p

    var av: AVPixelFormat {
        switch self {
        case .rgb24: return AV_PIX_FMT_RGB24
        case .yuv420p: return AV_PIX_FMT_YUV420P
        }
    }

    /// The tightly packed planes of a `width`×`height` picture in this layout.
    func planeSizes(width: Int, height: Int) -> [PlaneSize] {
        PlaneSize.planes(of: av, width: width, height: height)
    }
}

/// One video frame as plain bytes, safe to keep and to pass between tasks: what the reader
/// delivers and what the writer takes (an image stage converts its own pixel buffers to it).
package struct VideoFrame: Sendable, Equatable {
    /// Width in pixels.
    package var width: Int
    /// Height in pixels.
    package var height: Int
    /// The layout of `planes`.
    package var pixelFormat: VideoPixelFormat
    /// Tightly packed planes: one for rgb24; Y, U, V for yuv420p.
    package var planes: [[UInt8]]
    /// Presentation time in seconds, when the stream has timestamps.
    package var time: Double?
    /// Whether the decoder marked it a key frame.
    package var isKeyFrame: Bool

    /// A frame of the given planes (their sizes are checked when the frame is encoded).
    package init(
        width: Int, height: Int, pixelFormat: VideoPixelFormat, planes: [[UInt8]], time: Double? = nil,
        isKeyFrame: Bool = false
    ) {
        self.width = width
        self.height = height
        self.pixelFormat = pixelFormat
        self.planes = planes
        self.time = time
        self.isKeyFrame = isKeyFrame
    }

    /// A frame of packed RGB bytes: `height` rows of `width * 3` bytes, top row first.
    package init(width: Int, height: Int, rgb24 bytes: [UInt8]) {
        self.init(width: width, height: height, pixelFormat: .rgb24, planes: [bytes])
    }
}

/// Decodes the frames of a video stream, converting them to RGB or YUV with libswscale.
package final class VideoReader {
    /// The file being read.
    package let source: String
    /// The video stream's properties as the container declares them.
    package let stream: StreamInfo
    /// The pixel format of the frames delivered.
    package let pixelFormat: VideoPixelFormat

    let demuxer: Demuxer
    private let decoder: StreamDecoder
    private let packet: Packet
    private let decoded: Frame
    private var scaler: OpaquePointer?
    private var scalerKey: (Int32, Int32, Int32) = (0, 0, -1)
    /// Converts frames of another format to 8-bit YUV 4:2:0 (``nextDecodedYUV420Frame(into:)``).
    private lazy var toYUV420 = YUV420Converter(file: source)
    private var inputDone = false
    private var drained = false
    private var errors = 0

    /// Opens the best video stream of a file.
    /// - Throws: `MediaError` naming the file when it is missing, not media, or has no video.
    package convenience init(path: String, pixelFormat: VideoPixelFormat = .rgb24) throws {
        try self.init(demuxer: Demuxer(path: path), pixelFormat: pixelFormat)
    }

    /// Opens the best video stream of an open demuxer (which the reader then owns); `fast`
    /// decodes without the deblocking filter (for measuring, not for showing).
    package init(demuxer: Demuxer, pixelFormat: VideoPixelFormat = .rgb24, threads: Int = 0, fast: Bool = false) throws {
        self.demuxer = demuxer
        source = demuxer.source
        stream = try demuxer.bestStream(.video)
        decoder = try StreamDecoder(demuxer: demuxer, streamIndex: stream.index, threads: threads, fast: fast)
        self.pixelFormat = pixelFormat
        packet = try Packet()
        decoded = try Frame()
    }

    deinit {
        sws_freeContext(scaler)
    }

    /// The next frame, decoded into a new FFmpeg frame that the caller alone holds, without
    /// conversion; nil after the last frame.
    func nextDecodedFrame() throws -> sending Frame? {
        let frame = try Frame()
        guard try nextDecodedFrame(into: frame) else { return nil }
        // The decoder filled the frame and keeps no reference to it.
        return Frame.unshared(frame)
    }

    /// Decodes the next frame into `frame` (an FFmpeg frame owned by the caller), without
    /// conversion. Returns false after the last frame.
    func nextDecodedFrame(into frame: Frame) throws -> Bool {
        while true {
            if try decoder.receive(into: frame) { return true }
            if drained {
                try demuxer.checkComplete()
                return false
            }
            if inputDone {
                drained = true
                _ = try decoder.send(nil)
                continue
            }
            var sent = false
            while !sent {
                guard try demuxer.read(into: packet) else {
                    inputDone = true
                    break
                }
                guard Int(packet.pointer.pointee.stream_index) == stream.index else { continue }
                do {
                    if !(try decoder.send(packet)) {
                        // Output must be drained first; this packet is retried after.
                        if try decoder.receive(into: frame) {
                            _ = try decoder.send(packet)
                            return true
                        }
                    }
                } catch let error as MediaError {
                    errors += 1
                    if errors > 8 { throw error }
                }
                sent = true
            }
        }
    }

    /// Decodes the next frame into `frame` as 8-bit YUV 4:2:0 (what the stitch works on and
    /// encodes): a frame of another format (10-bit, 4:2:2, 4:4:4, RGB) is converted, in the
    /// same colours (its matrix kept, limited range). Returns false after the last frame.
    func nextDecodedYUV420Frame(into frame: Frame) throws -> Bool {
        guard try nextDecodedFrame(into: frame) else { return false }
        let f = frame.pointer.pointee
        if f.format == AV_PIX_FMT_YUV420P.rawValue || f.format == AV_PIX_FMT_YUVJ420P.rawValue { return true }
        let converted = try Frame.video(width: Int(f.width), height: Int(f.height), format: AV_PIX_FMT_YUV420P)
        try toYUV420.convert(frame.pointer, into: converted, matrix: YUV420Converter.coefficients(of: frame.pointer))
        av_frame_copy_props(converted.pointer, frame.pointer)
        converted.pointer.pointee.color_range = AVCOL_RANGE_MPEG
        frame.unref()
        av_frame_move_ref(frame.pointer, converted.pointer)
        return true
    }

    /// The next frame as ``nextDecodedYUV420Frame(into:)`` makes it, in a new FFmpeg frame that
    /// the caller alone holds; nil after the last frame.
    func nextDecodedYUV420Frame() throws -> sending Frame? {
        let frame = try Frame()
        guard try nextDecodedYUV420Frame(into: frame) else { return nil }
        return Frame.unshared(frame)
    }

    /// Converts an FFmpeg frame to this reader's pixel format at its own size.
    func convert(_ frame: Frame) throws -> VideoFrame {
        let f = frame.pointer.pointee
        let width = Int(f.width), height = Int(f.height)
        if scaler == nil || scalerKey != (f.width, f.height, f.format) {
            sws_freeContext(scaler)
            scaler = sws_getContext(
                f.width, f.height, AVPixelFormat(rawValue: f.format), f.width, f.height,
                pixelFormat.av, SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, nil, nil, nil)
            scalerKey = (f.width, f.height, f.format)
            guard scaler != nil else {
                throw MediaError(.unsupported, file: source, "cannot convert \(width)x\(height) frames to \(pixelFormat)")
            }
        }
        let sizes = pixelFormat.planeSizes(width: width, height: height)
        var buffer = [UInt8](repeating: 0, count: sizes.reduce(0) { $0 + $1.byteCount })
        let rc: Int32 = buffer.withUnsafeMutableBufferPointer { all in
            var dst: [UnsafeMutablePointer<UInt8>?] = []
            var offset = 0
            for size in sizes {
                dst.append(all.baseAddress! + offset)
                offset += size.byteCount
            }
            while dst.count < 4 { dst.append(nil) }
            var strides: [Int32] = sizes.map { Int32($0.bytesPerRow) } + [Int32](repeating: 0, count: 4 - sizes.count)
            return frame.withPlanes { input in
                sws_scale(scaler, input.source, input.linesize, 0, f.height, &dst, &strides)
            }
        }
        var planes: [[UInt8]] = []
        var offset = 0
        for size in sizes {
            planes.append(Array(buffer[offset..<offset + size.byteCount]))
            offset += size.byteCount
        }
        if rc < 0 { throw MediaError.ffmpeg(.decodeFailed, file: source, "cannot convert a frame", rc) }
        var time: Double? = nil
        let pts = f.best_effort_timestamp
        if pts != FFmpeg.noPTS { time = Double(pts) * stream.timeBase.value }
        return VideoFrame(
            width: width, height: height, pixelFormat: pixelFormat, planes: planes, time: time,
            isKeyFrame: CFFmpeg_frame_is_key(frame.pointer) != 0)
    }

    /// The next frame, converted; nil after the last one.
    /// - Throws: `MediaError` when the stream is corrupt beyond a few bad packets.
    package func nextFrame() throws -> VideoFrame? {
        guard try nextDecodedFrame(into: decoded) else { return nil }
        return try convert(decoded)
    }

    /// Counts the frames that decode, without converting them.
    package func countFrames() throws -> Int {
        var n = 0
        while try nextDecodedFrame(into: decoded) { n += 1 }
        return n
    }
}
