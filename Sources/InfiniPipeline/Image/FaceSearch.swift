// InfiniPipeline: finding the portrait's face for the crop (a small upright luma copy, searched
// with the Vision layer's FaceDetector).

/// Finds the frontal faces of a decoded picture, in its upright pixels.
enum FaceSearch {
    /// The frontal faces of `image` shown with `orientation`, in upright source pixels, largest
    /// first (empty when there is none).
    ///
    /// The picture is shrunk by a whole factor (box-averaged luma, alpha flattened over
    /// `background`) to less than twice the detector's ``FaceDetector/searchSize`` on its
    /// longer side, turned upright (the cascade finds upright faces only), searched (at the
    /// search size; boxes without a face's eyes are dropped), and the faces mapped back exactly
    /// through the shrink and the orientation. `passedOver` counts the boxes dropped for want
    /// of a face's eyes.
    /// - Throws: ``VisionError`` when there is no cascade file or OpenCV fails.
    static func faces(
        in image: PixelBuffer, orientation: ExifOrientation, background: RGBColor, cascadePath: String?
    ) throws -> (faces: [FaceDetector.Rect], passedOver: Int) {
        let detector = try FaceDetector(cascadePath: cascadePath)
        // A whole-factor shrink to between one and two search sizes; the detector's area
        // resize takes it the rest of the way, so every picture is searched at the same size.
        let factor = max(1, max(image.width, image.height) / max(1, detector.searchSize))
        let small = shrunkLuma(image, by: factor, background: background)
        // Too thin a picture to hold a face at the detector's smallest size.
        guard small.width >= 24, small.height >= 24 else { return ([], 0) }
        let upright = small.applying(orientation)
        let (found, passedOver) = try detector.search(gray: upright.bytes, width: upright.width, height: upright.height)
        let uprightW = orientation.swapsDimensions ? image.height : image.width
        let uprightH = orientation.swapsDimensions ? image.width : image.height
        let faces = found.map { found in
            // Upright small → stored small → stored full size → upright full size.
            let inSmall = orientation.storedWindow(
                ofUpright: Resampler.Window(
                    x: Double(found.x), y: Double(found.y), width: Double(found.width), height: Double(found.height)),
                storedWidth: small.width, storedHeight: small.height)
            let f = Double(factor)
            let stored = Resampler.Window(
                x: inSmall.x * f, y: inSmall.y * f, width: inSmall.width * f, height: inSmall.height * f)
            let window = orientation.inverse.storedWindow(ofUpright: stored, storedWidth: uprightW, storedHeight: uprightH)
            let x = Int(window.x.rounded()), y = Int(window.y.rounded())
            return FaceDetector.Rect(
                x: x, y: y,
                width: min(Int((window.x + window.width).rounded()), uprightW) - x,
                height: min(Int((window.y + window.height).rounded()), uprightH) - y)
        }
        return (faces, passedOver)
    }

    /// The luma of `image` (stored orientation), each `factor`×`factor` block averaged: a gray8
    /// picture of `width / factor` × `height / factor` (the partial blocks at the right and
    /// bottom edges are left out). Luma is BT.601 (`(77 R + 150 G + 29 B) / 256`); alpha is
    /// flattened over `background` first.
    static func shrunkLuma(_ image: PixelBuffer, by factor: Int, background: RGBColor) -> PixelBuffer {
        let outW = image.width / factor, outH = image.height / factor
        var out = [UInt8](repeating: 0, count: outW * outH)
        guard outW > 0, outH > 0 else { return PixelBuffer(width: outW, height: outH, format: .gray8, bytes: out) }
        let channels = image.format.channels, stride = image.rowStride
        let backgroundLuma =
            (77 * Int(background.red) + 150 * Int(background.green) + 29 * Int(background.blue) + 128) >> 8
        let area = factor * factor
        var sums = [Int](repeating: 0, count: outW)
        image.bytes.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                sums.withUnsafeMutableBufferPointer { sum in
                    for oy in 0..<outH {
                        for i in 0..<outW { sum[i] = 0 }
                        for y in (oy * factor)..<((oy + 1) * factor) {
                            var p = y * stride
                            for ox in 0..<outW {
                                var total = 0
                                for _ in 0..<factor {
                                    switch channels {
                                    case 1:
                                        total += Int(src[p])
                                    case 3:
                                        total += (77 * Int(src[p]) + 150 * Int(src[p + 1]) + 29 * Int(src[p + 2]) + 128) >> 8
                                    default:
                                        let luma = (77 * Int(src[p]) + 150 * Int(src[p + 1]) + 29 * Int(src[p + 2]) + 128) >> 8
                                        let alpha = Int(src[p + 3])
                                        total += (luma * alpha + backgroundLuma * (255 - alpha) + 127) / 255
                                    }
                                    p += channels
                                }
                                sum[ox] += total
                            }
                        }
                        for ox in 0..<outW { dst[oy * outW + ox] = UInt8((sum[ox] + area / 2) / area) }
                    }
                }
            }
        }
        return PixelBuffer(width: outW, height: outH, format: .gray8, bytes: out)
    }
}

extension ExifOrientation {
    /// The orientation that undoes this one: 6 and 8 swap; the others undo themselves.
    var inverse: ExifOrientation {
        switch self {
        case .right: return .left
        case .left: return .right
        default: return self
        }
    }
}
