// Seam transitions on decoded YUV 4:2:0 frames through CVision: the optical-flow morph, the
// punch-in zoom, and the sharpness measure the tests and benchmarks judge them by.
import CFFmpeg
import CVision
import Foundation

/// The dense optical flow between two pictures (the last frame before a transition window and
/// the first one after it), computed once, from which the in-between pictures are rendered.
///
/// Each in-between picture warps both ends toward the intermediate position along the flow
/// (DIS optical flow on the luma, both directions; the chroma planes follow with the flow
/// halved) and blends them, so a head moves from one pose to the other instead of dissolving.
final class SeamMorph {
    /// The longer side, in pixels, at which the flow is computed by default (then scaled up):
    /// the motion at seams is smooth, and at 256 px the synthetic seams still meet their
    /// targets (BENCHMARKS.md) while a 60-minute morph stitch stays within 1.1× the re-encode.
    static let defaultFlowSide = 256

    private let handle: OpaquePointer
    let width: Int
    let height: Int

    /// Computes the flow between `a` and `b` (the same size, 8-bit YUV 4:2:0).
    /// - Throws: ``VisionError`` `.failed` for another pixel format or size, or an OpenCV error.
    init(from a: Frame, to b: Frame, flowSide: Int = SeamMorph.defaultFlowSide) throws {
        var message = [CChar](repeating: 0, count: 256)
        let pointer = try YUV420.withInput(a) { ya in
            try YUV420.withInput(b) { yb in
                var ya = ya, yb = yb
                return cvision_morph_create(&ya, &yb, Int32(clamping: max(0, flowSide)), &message, message.count)
            }
        }
        guard let pointer else { throw VisionError.failed(YUV420.text(message)) }
        handle = pointer
        width = Int(a.pointer.pointee.width)
        height = Int(a.pointer.pointee.height)
    }

    deinit { cvision_morph_free(handle) }

    /// The mean length of the flow from the first picture to the second, in luma pixels.
    var meanMotion: Double { cvision_morph_mean_motion(handle) }

    /// Renders the picture at `t` (0 = the first, 1 = the second) into `frame`, which must be a
    /// writable 8-bit YUV 4:2:0 frame of the pictures' size.
    /// - Throws: ``VisionError`` `.failed`.
    func render(at t: Double, into frame: Frame) throws {
        var message = [CChar](repeating: 0, count: 256)
        let rc = try YUV420.withOutput(frame) { out in
            var out = out
            return cvision_morph_frame(handle, t, &out, &message, message.count)
        }
        if rc != 0 { throw VisionError.failed(YUV420.text(message)) }
    }

    /// The picture at `t`, rendered into a new frame of `like`'s size and format that the
    /// caller alone holds.
    /// - Throws: ``VisionError`` `.failed`, `MediaError` when the frame cannot be allocated.
    func picture(at t: Double, like: Frame) throws -> sending Frame {
        let frame = try YUV420.blankFrame(like: like)
        try render(at: t, into: frame)
        // CVision drew into the frame and keeps no reference to it.
        return Frame.unshared(frame)
    }
}

/// Helpers over CVision's YUV 4:2:0 pictures.
enum YUV420 {
    /// Whether `frame` is 8-bit planar YUV 4:2:0 (limited or full range) with pixels.
    static func isYUV420(_ frame: Frame) -> Bool {
        let f = frame.pointer.pointee
        return (f.format == AV_PIX_FMT_YUV420P.rawValue || f.format == AV_PIX_FMT_YUVJ420P.rawValue)
            && f.width > 1 && f.height > 1 && f.data.0 != nil && f.data.1 != nil && f.data.2 != nil
    }

    static func withInput<R>(_ frame: Frame, _ body: (cvision_yuv420) throws -> R) throws -> R {
        guard isYUV420(frame) else { throw VisionError.failed("a frame for a seam transition is not 8-bit YUV 4:2:0") }
        let f = frame.pointer.pointee
        let picture = cvision_yuv420(
            planes: (UnsafePointer(f.data.0), UnsafePointer(f.data.1), UnsafePointer(f.data.2)),
            strides: (f.linesize.0, f.linesize.1, f.linesize.2), width: f.width, height: f.height)
        return try body(picture)
    }

    static func withOutput<R>(_ frame: Frame, _ body: (cvision_yuv420_out) throws -> R) throws -> R {
        guard isYUV420(frame) else { throw VisionError.failed("a frame for a seam transition is not 8-bit YUV 4:2:0") }
        let f = frame.pointer.pointee
        let picture = cvision_yuv420_out(
            planes: (f.data.0, f.data.1, f.data.2), strides: (f.linesize.0, f.linesize.1, f.linesize.2),
            width: f.width, height: f.height)
        return try body(picture)
    }

    /// A new writable frame of `like`'s size and format, with its colour properties.
    static func blankFrame(like: Frame) throws -> sending Frame {
        let f = like.pointer.pointee
        let frame = try Frame.video(width: Int(f.width), height: Int(f.height), format: AVPixelFormat(rawValue: f.format))
        frame.pointer.pointee.color_range = f.color_range
        frame.pointer.pointee.colorspace = f.colorspace
        frame.pointer.pointee.color_primaries = f.color_primaries
        frame.pointer.pointee.color_trc = f.color_trc
        return frame
    }

    /// The text of a C error buffer.
    static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `frame` punched in by `scale` (≥ 1) around `center` (luma pixels; clamped so the window
    /// stays inside the picture), as a new frame that the caller alone holds.
    /// - Throws: ``VisionError`` `.failed`.
    static func zoomed(_ frame: Frame, scale: Double, center: (x: Double, y: Double)) throws -> sending Frame {
        let out = try blankFrame(like: frame)
        var message = [CChar](repeating: 0, count: 256)
        let rc = try withInput(frame) { input in
            try withOutput(out) { output in
                var input = input, output = output
                return cvision_zoom(&input, scale, center.x, center.y, &output, &message, message.count)
            }
        }
        if rc != 0 { throw VisionError.failed(text(message)) }
        // CVision read `frame` and drew into `out`, and keeps no reference to either.
        return Frame.unshared(out)
    }

    /// The luma plane of a frame, tightly packed.
    static func luma(of frame: Frame) -> (pixels: [UInt8], width: Int, height: Int) {
        frame.withPlanes { planes in
            guard let size = planes.sizes.first else { return ([], 0, 0) }
            var pixels = [UInt8](repeating: 0, count: size.byteCount)
            pixels.withUnsafeMutableBufferPointer { out in
                for y in 0..<size.rows {
                    let row = planes.row(y, of: 0)
                    for x in 0..<size.bytesPerRow { out[y * size.bytesPerRow + x] = row[x] }
                }
            }
            return (pixels, size.bytesPerRow, size.rows)
        }
    }
}

/// How sharp a picture is: the variance of its Laplacian after a Gaussian blur (σ = 1.5 px by
/// default, so that noise and the codec's grain do not count), the measure by which a seam
/// transition is judged (a crossfade's ghosting halves it; a good morph keeps it).
enum Sharpness {
    /// The blur before the Laplacian, in pixels.
    static let defaultSigma = 1.5

    /// The sharpness of `height` rows of `stride` bytes of 8-bit gray.
    /// - Throws: ``VisionError`` `.failed` for a picture too small or too short a buffer.
    static func measure(gray: [UInt8], width: Int, height: Int, stride: Int? = nil, sigma: Double = defaultSigma)
        throws -> Double
    {
        let rowBytes = stride ?? width
        guard width > 2, height > 2, rowBytes >= width, gray.count >= rowBytes * (height - 1) + width else {
            throw VisionError.failed("a \(width)×\(height) picture of \(gray.count) bytes cannot be measured")
        }
        var message = [CChar](repeating: 0, count: 256)
        let value = gray.withUnsafeBufferPointer {
            cvision_sharpness(
                $0.baseAddress, Int32(clamping: width), Int32(clamping: height), Int32(clamping: rowBytes), sigma, &message,
                message.count)
        }
        guard value >= 0 else { throw VisionError.failed(YUV420.text(message)) }
        return value
    }
}
