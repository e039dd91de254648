import CVision

/// A picture enlarged about a moved centre: the slow zoom and pan of the preview backend's
/// clips, on packed 8-bit RGB, by OpenCV's bilinear warp (edges repeated).
enum ZoomPan {
    /// Writes `source` (`width`×`height`, packed RGB) enlarged by `zoom` (1…8) about its centre
    /// moved by (`panX`, `panY`) (fractions of the width and height) into `output`, which is
    /// resized to match: output pixel centre i shows source position
    /// c + (i + ½ − size/2) / zoom − ½.
    /// - Throws: ``VisionError`` `.failed` on arguments out of range or an OpenCV error.
    static func rgb(
        _ source: [UInt8], width: Int, height: Int, zoom: Double, panX: Double, panY: Double,
        into output: inout [UInt8]
    ) throws {
        guard width > 0, height > 0, source.count == width * height * 3 else {
            throw VisionError.failed("a \(width)x\(height) RGB picture needs \(width * height * 3) bytes, not \(source.count)")
        }
        if output.count != source.count { output = [UInt8](repeating: 0, count: source.count) }
        var message = [CChar](repeating: 0, count: 256)
        let rc = source.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                cvision_zoom_pan_rgb(
                    input.baseAddress, out.baseAddress, Int32(width), Int32(height), zoom, panX, panY, &message,
                    message.count)
            }
        }
        if rc != 0 { throw VisionError.failed(YUV420.text(message)) }
    }
}
