import CFFmpeg

/// Owns one AVPacket; freed exactly once, in deinit. Never shared between tasks.
final class Packet {
    let pointer: UnsafeMutablePointer<AVPacket>

    init() {
        guard let p = av_packet_alloc() else { fatalError("av_packet_alloc: out of memory") }
        pointer = p
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

    init() {
        guard let p = av_frame_alloc() else { fatalError("av_frame_alloc: out of memory") }
        pointer = p
    }

    deinit {
        var p: UnsafeMutablePointer<AVFrame>? = pointer
        av_frame_free(&p)
    }

    func unref() { av_frame_unref(pointer) }

    /// Another frame sharing this one's (reference-counted) pixels.
    func newReference() throws -> Frame {
        let copy = Frame()
        let rc = av_frame_ref(copy.pointer, pointer)
        if rc < 0 { throw MediaError.ffmpeg(.decodeFailed, file: nil, "cannot reference a decoded frame", rc) }
        return copy
    }

    /// Allocates a video frame buffer of the given size and pixel format.
    static func video(width: Int, height: Int, format: AVPixelFormat) throws -> Frame {
        let frame = Frame()
        frame.pointer.pointee.width = Int32(width)
        frame.pointer.pointee.height = Int32(height)
        frame.pointer.pointee.format = format.rawValue
        let rc = av_frame_get_buffer(frame.pointer, 0)
        if rc < 0 { throw MediaError.ffmpeg(.encodeFailed, file: nil, "cannot allocate a \(width)x\(height) frame", rc) }
        return frame
    }
}
