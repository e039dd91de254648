// InfiniPipeline: fitting an image straight from a file (decode, read EXIF orientation, fit).

extension ImageFitter {
    /// The largest image, in pixels, ``fit(path:maxPixels:)`` decodes unless told otherwise
    /// (50 megapixels): a tiny compressed PNG can claim 20000×20000 pixels.
    public static let defaultMaxPixels = ImageCodec.defaultMaxPixels

    /// Reads a PNG or JPEG file, decodes it, and fits it upright to its bucket.
    ///
    /// The result's face box and crop window are in the full-size upright picture's pixels;
    /// its warnings name the file.
    ///
    /// The EXIF orientation comes from the JPEG APP1 segment or the PNG `eXIf` chunk; files
    /// without one are taken as upright.
    /// - Parameters:
    ///   - path: The image file.
    ///   - maxPixels: Decoding refuses larger images before decoding any pixel.
    /// - Throws: `MediaError` naming the file when it is missing, empty, not an image,
    ///   truncated or over `maxPixels` (`.tooLarge`); ``ImageFitError`` of kind `imageTooSmall`
    ///   naming the file when the image is under ``minimumSide`` pixels on a side.
    ///
    /// A large JPEG is decoded shrunk in the DCT domain (by 2, 4 or 8) while it stays at least
    /// 1.25 times the size the fit scales it to (the Lanczos pass then still filters), so a
    /// 24-megapixel photo is not decoded in full; the bucket is still chosen from the full
    /// size, as the model does.
    public func fit(path: String, maxPixels: Int = ImageFitter.defaultMaxPixels) throws -> FittedImage {
        let data = try ImageCodec.readFile(path)
        let orientation = ExifOrientation.exifOrientation(fromImageFile: data) ?? .up
        let header = try ImageCodec.readHeader(data: data, name: path)
        let uprightW = orientation.swapsDimensions ? header.height : header.width
        let uprightH = orientation.swapsDimensions ? header.width : header.height
        var fitter = self
        var minimum: (width: Int, height: Int)? = nil
        if uprightW >= Self.minimumSide, uprightH >= Self.minimumSide, header.pixelCount <= maxPixels {
            // 1.25 times the covering size, in stored (not upright) orientation.
            let g = geometry(sourceWidth: uprightW, sourceHeight: uprightH)
            let w = (g.coverWidth * 5 + 3) / 4 + 1, h = (g.coverHeight * 5 + 3) / 4 + 1
            minimum = orientation.swapsDimensions ? (h, w) : (w, h)
            // The bucket of the full-size image, whatever size it is decoded at.
            if fitter.aspect == nil { fitter.aspect = Aspect(width: Double(uprightW), height: Double(uprightH)) }
        }
        let image = try ImageCodec.decode(data: data, name: path, maxPixels: maxPixels, atLeast: minimum)
        do {
            var fitted = try fitter.fit(image, orientation: orientation)
            // Provenance in the full-size picture's pixels, however small it was decoded.
            let fx = Double(uprightW) / Double(fitted.sourceWidth)
            let fy = Double(uprightH) / Double(fitted.sourceHeight)
            if fx != 1 || fy != 1 {
                let w = fitted.geometry.sourceWindow
                fitted.geometry.sourceWindow = Resampler.Window(
                    x: w.x * fx, y: w.y * fy, width: w.width * fx, height: w.height * fy)
                fitted.face = fitted.face.map { face in
                    let x = Int((Double(face.x) * fx).rounded()), y = Int((Double(face.y) * fy).rounded())
                    return FaceDetector.Rect(
                        x: x, y: y,
                        width: min(Int((Double(face.x + face.width) * fx).rounded()), uprightW) - x,
                        height: min(Int((Double(face.y + face.height) * fy).rounded()), uprightH) - y)
                }
            }
            fitted.sourceWidth = uprightW
            fitted.sourceHeight = uprightH
            fitted.warnings = fitted.warnings.map { "\(path): \($0)" }
            return fitted
        } catch let error as ImageFitError {
            throw error.naming(file: path)
        }
    }
}
