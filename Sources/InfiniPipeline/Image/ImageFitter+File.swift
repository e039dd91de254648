// InfiniPipeline: fitting an image straight from a file (decode, read EXIF orientation, fit).

extension ImageFitter {
    /// Reads a PNG or JPEG file, decodes it, and fits it upright to its bucket.
    ///
    /// The EXIF orientation comes from the JPEG APP1 segment or the PNG `eXIf` chunk; files
    /// without one are taken as upright.
    /// - Parameters:
    ///   - path: The image file.
    ///   - maxPixels: Decoding refuses larger images before decoding any pixel.
    /// - Throws: `MediaError` naming the file: missing, empty, not an image, truncated, over
    ///   `maxPixels` (`.tooLarge`) or under 64 px on a side (`.tooSmall`).
    public func fit(path: String, maxPixels: Int = ImageCodec.defaultMaxPixels) throws -> FittedImage {
        let data = try ImageCodec.readFile(path)
        let image = try ImageCodec.decode(data: data, name: path, maxPixels: maxPixels)
        do {
            return try fit(image, orientation: ExifOrientation.exifOrientation(fromImageFile: data) ?? .up)
        } catch let error as ImageFitError {
            if case .imageTooSmall = error { throw MediaError(.tooSmall, file: path, error.description) }
            throw error
        }
    }
}
