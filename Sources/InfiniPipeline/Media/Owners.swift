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

    /// Another frame sharing this one's (reference-counted) pixels, held by the caller alone.
    func newReference() throws -> sending Frame {
        let copy = try Frame()
        let rc = av_frame_ref(copy.pointer, pointer)
        if rc < 0 { throw MediaError.ffmpeg(.decodeFailed, file: nil, "cannot reference a decoded frame", rc) }
        return Frame.unshared(copy)
    }

    /// `frame`, as a value that may be sent to another thread.
    ///
    /// The compiler cannot see into C: it assumes that a C call given pointers of two frames
    /// (`av_frame_ref`, a decoder filling a frame, CVision drawing into one) may have linked
    /// them, and so will not let either be sent while the other is used. FFmpeg and CVision
    /// keep no reference to a frame after such a call (pixels are shared only through FFmpeg's
    /// own reference counts). Only for a frame the caller made, or was sent, and refers to
    /// nowhere else.
    static func unshared(_ frame: Frame) -> sending Frame {
        UnsharedFrame(frame: frame).frame
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

/// Carries a frame out of the compiler's region analysis, for ``Frame/unshared(_:)`` alone.
/// `@unchecked Sendable`: see there.
private struct UnsharedFrame: @unchecked Sendable {
    let frame: Frame
}
