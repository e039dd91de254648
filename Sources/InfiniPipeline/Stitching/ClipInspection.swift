import CFFmpeg
import Foundation
import NIOConcurrencyHelpers

/// What a generated clip holds, measured by reading it (never assumed from the request).
struct ClipInspection: Sendable, Equatable {
    /// The clip file.
    var path: String
    /// Video frames in the clip (packets of the video stream; every packet is one frame).
    var frameCount: Int
    /// Frame size.
    var width: Int
    /// Frame size.
    var height: Int
    /// Average frame rate the container declares.
    var frameRate: Rational
    /// Video codec name ("h264").
    var codecName: String
    /// The codec's out-of-band configuration; identical extradata means clips can be joined
    /// without re-encoding.
    var extradata: [UInt8]
    /// The video stream's time base.
    var timeBase: Rational
    /// FFmpeg's pixel format name ("yuv420p").
    var pixelFormat: String
    /// Whether the clip also carries audio (the stitcher never uses it).
    var hasAudio: Bool
    /// The colours its video stream says its YUV values stand for; nil when it says nothing.
    var color: VideoColor? = nil
    /// The video packets' presentation timestamps, sorted (the copy path cuts and shifts by
    /// them, and checks its cuts with them): the one scan of a clip's timestamps.
    var sortedPTS: [Int64] = []

    /// Whether the clip runs at the model's 25 fps.
    var isModelFrameRate: Bool {
        abs(frameRate.value - Double(ModelLimits.fps)) < 0.01
    }

    /// Reads a clip's streams and counts its frames; decodes its first frame to prove it decodes.
    /// - Throws: `MediaError` when the file is missing, not media, has no video, is cut off, or
    ///   its first frame does not decode.
    static func inspect(path: String) throws -> ClipInspection {
        let demuxer = try Demuxer(path: path)
        let video = try demuxer.bestStream(.video)
        if let turn = displayTransform(demuxer.avStream(video.index)) {
            // The stitcher joins and encodes the stored picture: players would show this clip
            // turned and the output not. Refused rather than stitched unturned without a word.
            throw MediaError(
                .unsupported, file: path,
                "its display matrix \(turn) the picture, which the stitcher would not: make the clip upright first")
        }
        let packet = try Packet()
        var pts: [Int64] = []
        while try demuxer.read(into: packet) {
            let p = packet.pointer.pointee
            if Int(p.stream_index) == video.index { pts.append(p.pts == FFmpeg.noPTS ? p.dts : p.pts) }
        }
        let frames = pts.count
        try demuxer.checkComplete()
        guard frames > 0 else { throw MediaError(.empty, file: path, "the video stream has no frames") }
        // The first frame must decode (one decoder thread: starting more costs more than a frame).
        let reader = try VideoReader(demuxer: Demuxer(path: path), pixelFormat: .yuv420p, threads: 1)
        guard try reader.nextDecodedFrame(into: try Frame()) else {
            throw MediaError(.invalidData, file: path, "no frame of the video decodes")
        }
        var rate = video.frameRate
        if rate.num == 0 || rate.den == 0 { rate = Rational(demuxer.avStream(video.index).pointee.r_frame_rate) }
        return ClipInspection(
            path: path, frameCount: frames, width: video.width, height: video.height, frameRate: rate,
            codecName: video.codecName, extradata: video.extradata, timeBase: video.timeBase,
            pixelFormat: video.formatName, hasAudio: demuxer.streams.contains { $0.kind == .audio },
            color: VideoColor(demuxer.avStream(video.index).pointee.codecpar), sortedPTS: pts.sorted())
    }

    /// What the stream's display matrix does to the picture, in words (`"turns (rotation 90°)"`,
    /// the angle as ffprobe shows it, or `"mirrors"`), or `nil` when it has none or it leaves the
    /// picture as stored.
    static func displayTransform(_ stream: UnsafeMutablePointer<AVStream>) -> String? {
        guard let m = CFFmpeg_stream_display_matrix(stream) else { return nil }
        // The 2×2 part in 16.16 fixed point: a positive diagonal alone leaves the picture upright.
        let (a, b, c, d) = (Int64(m[0]), Int64(m[1]), Int64(m[3]), Int64(m[4]))
        if b == 0 && c == 0 && a > 0 && d > 0 { return nil }
        if a * d - b * c < 0 { return "mirrors" }
        let degrees = av_display_rotation_get(m)
        guard degrees.isFinite else { return "transforms" }
        var angle = Int(degrees.rounded()) % 360
        if angle > 180 { angle -= 360 } else if angle <= -180 { angle += 360 }
        return "turns (rotation \(angle)°)"
    }

    /// Inspects several clips, as many at a time as there are cores; one result per path, in order.
    static func inspectAll(paths: [String]) -> [Result<ClipInspection, MediaError>] {
        // One slot per clip, filled from several threads.
        let results = NIOLockedValueBox([Result<ClipInspection, MediaError>?](repeating: nil, count: paths.count))
        DispatchQueue.concurrentPerform(iterations: paths.count) { i in
            let result: Result<ClipInspection, MediaError>
            do {
                result = .success(try inspect(path: paths[i]))
            } catch let error as MediaError {
                result = .failure(error)
            } catch {
                result = .failure(MediaError(.invalidData, file: paths[i], "\(error)"))
            }
            results.withLockedValue { $0[i] = result }
        }
        return results.withLockedValue { $0.map { $0! } }
    }
}
