import CFFmpeg

/// Owns one AVPacket; freed exactly once, in deinit. Never shared between tasks.
final class Packet {
    let pointer: UnsafeMutablePointer<AVPacket>

    /// - Throws: `MediaError` `.outOfMemory`.
    init() throws {
        pointer = try FFmpeg.allocated(av_packet_alloc(), "a packet")
    }

    deinit {
        var p: UnsafeMutablePointer<AVPacket>? = pointer
        av_packet_free(&p)
    }

    func unref() { av_packet_unref(pointer) }
}

/// Owns one AVFrame; freed exactly once, in deinit. Never shared between tasks.
final class Frame {
    let pointer: UnsafeMutablePointer<AVFrame>

    /// - Throws: `MediaError` `.outOfMemory`.
    init() throws {
        pointer = try FFmpeg.allocated(av_frame_alloc(), "a frame")
    }

    deinit {
        var p: UnsafeMutablePointer<AVFrame>? = pointer
        av_frame_free(&p)
    }

    func unref() { av_frame_unref(pointer) }

    /// Another frame sharing this one's (reference-counted) pixels.
    func newReference() throws -> Frame {
        let copy = try Frame()
        let rc = av_frame_ref(copy.pointer, pointer)
        if rc < 0 { throw MediaError.ffmpeg(.decodeFailed, file: nil, "cannot reference a decoded frame", rc) }
        return copy
    }

    /// Allocates a video frame buffer of the given size and pixel format.
    static func video(width: Int, height: Int, format: AVPixelFormat) throws -> Frame {
        let frame = try Frame()
        frame.pointer.pointee.width = Int32(width)
        frame.pointer.pointee.height = Int32(height)
        frame.pointer.pointee.format = format.rawValue
        let rc = av_frame_get_buffer(frame.pointer, 0)
        if rc < 0 { throw MediaError.ffmpeg(.encodeFailed, file: nil, "cannot allocate a \(width)x\(height) frame", rc) }
        return frame
    }
}
