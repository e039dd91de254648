import CFFmpeg

/// Converts decoded frames of any size, pixel format, colour matrix and range to 8-bit YUV
/// 4:2:0 of a given size in a given matrix, limited range, with libswscale (through RGB when the
/// matrices differ). It owns its libswscale context, made again when the frames change.
final class YUV420Converter {
    private var context: OpaquePointer?
    /// What the context converts: the source's size, format, matrix and range, the target's size and matrix.
    private struct Key: Equatable {
        var width, height, format: Int32
        var from: SIMD4<Int32>
        var full: Bool
        var targetWidth, targetHeight: Int32
        var to: SIMD4<Int32>
    }
    private var key: Key?
    /// The file the frames come from, for errors.
    private let file: String?

    init(file: String?) {
        self.file = file
    }

    deinit {
        sws_freeContext(context)
    }

    /// The YUV → RGB coefficients of an `AVColorSpace` value as libswscale has them (BT.601's
    /// for an unspecified or unknown one, as FFmpeg takes untagged video).
    static func coefficients(matrix: Int32) -> SIMD4<Int32> {
        let c = sws_getCoefficients(matrix)!
        return SIMD4(c[0], c[1], c[2], c[3])
    }

    /// The coefficients of `frame`'s own matrix.
    static func coefficients(of frame: UnsafePointer<AVFrame>) -> SIMD4<Int32> {
        coefficients(matrix: Int32(frame.pointee.colorspace.rawValue))
    }

    /// Whether `frame` is already what ``convert(_:into:matrix:)`` would make of it at its own size.
    static func isYUV420(_ frame: UnsafePointer<AVFrame>, matrix: SIMD4<Int32>) -> Bool {
        frame.pointee.format == AV_PIX_FMT_YUV420P.rawValue && !FFmpeg.isFullRange(frame) && coefficients(of: frame) == matrix
    }

    /// Converts `source` into `target` (an allocated yuv420p frame of the size wanted), from
    /// its own matrix and range to `matrix` (coefficients) and limited range.
    /// - Throws: `MediaError` when libswscale cannot convert such frames.
    func convert(_ source: UnsafeMutablePointer<AVFrame>, into target: Frame, matrix: SIMD4<Int32>) throws {
        let s = source.pointee, t = target.pointer.pointee
        let from = Self.coefficients(of: source), full = FFmpeg.isFullRange(source)
        let wanted = Key(
            width: s.width, height: s.height, format: s.format, from: from, full: full, targetWidth: t.width,
            targetHeight: t.height, to: matrix)
        if context == nil || key != wanted {
            sws_freeContext(context)
            context = sws_getContext(
                s.width, s.height, AVPixelFormat(rawValue: s.format), t.width, t.height, AV_PIX_FMT_YUV420P,
                SWS_BICUBIC | SWS_ACCURATE_RND, nil, nil, nil)
            key = wanted
            guard context != nil else {
                throw MediaError(.unsupported, file: file, "cannot convert \(s.width)x\(s.height) frames to YUV 4:2:0")
            }
            let rc = withUnsafeBytes(of: from) { f in
                withUnsafeBytes(of: matrix) { m in
                    sws_setColorspaceDetails(
                        context, f.baseAddress!.assumingMemoryBound(to: Int32.self), full ? 1 : 0,
                        m.baseAddress!.assumingMemoryBound(to: Int32.self), 0, 0, 1 << 16, 1 << 16)
                }
            }
            if rc < 0 {
                throw MediaError(.unsupported, file: file, "cannot convert the colours of \(s.width)x\(s.height) frames")
            }
        }
        let rc = FramePlanes.with(source) { input in
            target.withPlanes { output in
                sws_scale(context, input.source, input.linesize, 0, s.height, output.data, output.linesize)
            }
        }
        if rc < 0 { throw MediaError.ffmpeg(.invalidData, file: file, "cannot convert a frame to YUV 4:2:0", rc) }
    }
}
