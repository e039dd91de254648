import CMediaShims
import Foundation

/// The still-image file formats InfiniPipeline reads and writes.
package enum ImageFileFormat: String, Sendable, Codable {
    case png, jpeg

    /// The MIME type used when uploading.
    package var mimeType: String { self == .png ? "image/png" : "image/jpeg" }
}

/// What an image file's header says, read without decoding any pixels.
package struct ImageHeader: Sendable, Equatable {
    /// PNG or JPEG.
    package var format: ImageFileFormat
    /// Width in pixels as stored (before any EXIF orientation).
    package var width: Int
    /// Height in pixels as stored.
    package var height: Int
    /// Whether the image has an alpha channel.
    package var hasAlpha: Bool
    /// Whether the image is grayscale only.
    package var isGray: Bool
    /// Pixels in the image.
    package var pixelCount: Int { width * height }
}

/// Reads and writes PNG (libpng) and JPEG (libjpeg-turbo) images.
///
/// Corrupt, truncated or foreign data always comes back as a `MediaError` naming the file; no
/// input can make libjpeg or libpng end the process. A JPEG whose entropy-coded data libjpeg
/// reports as damaged (it would fill the gap with gray or garbage) is refused, not returned.
/// Nothing reads or decompresses a PNG's text, ICC or EXIF chunks (orientation is read from
/// the raw bytes by `ExifOrientation`), so a file stuffed with compressed chunks costs no
/// more than its size.
package enum ImageCodec {
    /// Images larger than this are refused before any pixel is decoded (a tiny compressed PNG
    /// can claim 20000×20000 pixels).
    package static let defaultMaxPixels = 50_000_000

    /// Identifies PNG and JPEG by their first bytes.
    package static func sniff(_ data: [UInt8]) -> ImageFileFormat? {
        if data.count >= 8 && data[0..<8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if data.count >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF { return .jpeg }
        return nil
    }

    /// Reads a file's bytes, refusing missing, unreadable and empty files with a clear error.
    static func readFile(_ path: String) throws -> [UInt8] {
        try Demuxer.checkReadable(path)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MediaError(.cannotOpen, file: path, "cannot read the file")
        }
        return [UInt8](data)
    }

    /// Reads the header of an image in memory; `name` is used in errors. Decodes no pixels and
    /// decompresses nothing, so it is cheap for any input (see `probe(path:maxPixels:)` for
    /// one that reads only the start of a file and checks the size limits too).
    /// - Throws: `MediaError` `.empty`, `.invalidData` (not PNG/JPEG, or a corrupt or truncated header).
    package static func readHeader(data: [UInt8], name: String) throws -> ImageHeader {
        // With the whole file there is no more data to ask for: nil cannot come back.
        guard let header = try readHeader(prefix: data, isWholeFile: true, name: name) else {
            throw MediaError(.invalidData, file: name, "the header is incomplete")
        }
        return header
    }

    /// Reads the header from the first bytes of a file, or returns nil when they end inside
    /// the header and more of the file exists (`isWholeFile` false).
    static func readHeader(prefix data: [UInt8], isWholeFile: Bool, name: String) throws -> ImageHeader? {
        if data.isEmpty { throw MediaError(.empty, file: name, "the file is empty") }
        var err = [CChar](repeating: 0, count: 256)
        switch sniff(data) {
        case .png:
            var info = CMediaShims_png_info()
            let rc = data.withUnsafeBufferPointer {
                CMediaShims_png_read_header($0.baseAddress!, $0.count, &info, &err, err.count)
            }
            if rc == CMEDIASHIMS_NEED_MORE_DATA && !isWholeFile { return nil }
            if rc != 0 { throw MediaError(.invalidData, file: name, "invalid PNG: \(FFmpeg.cString(err))") }
            return ImageHeader(
                format: .png, width: Int(info.width), height: Int(info.height),
                hasAlpha: info.has_alpha != 0, isGray: info.has_color == 0)
        case .jpeg:
            var info = CMediaShims_jpeg_info()
            let rc = data.withUnsafeBufferPointer {
                CMediaShims_jpeg_read_header($0.baseAddress!, $0.count, &info, &err, err.count)
            }
            if rc == CMEDIASHIMS_NEED_MORE_DATA && !isWholeFile { return nil }
            if rc != 0 { throw MediaError(.invalidData, file: name, "invalid JPEG: \(FFmpeg.cString(err))") }
            return ImageHeader(
                format: .jpeg, width: Int(info.width), height: Int(info.height),
                hasAlpha: false, isGray: info.output_components == 1)
        case nil:
            throw MediaError(.invalidData, file: name, "not a PNG or JPEG image")
        }
    }

    /// Reads only the start of an image file, as much as its header needs (the PNG chunks before
    /// the image data, the JPEG markers before the first scan; usually a few kilobytes), and
    /// checks the image against the size limits: the cheap "will this image be taken?" before
    /// any other work. Decodes no pixels; the file may still turn out corrupt further on.
    /// - Throws: `MediaError` naming the file: `.cannotOpen`, `.empty`, `.invalidData` (not PNG
    ///   or JPEG, or a corrupt or truncated header, or no pixels), `.tooLarge` (over `maxPixels`).
    package static func probe(path: String, maxPixels: Int = defaultMaxPixels) throws -> ImageHeader {
        try Demuxer.checkReadable(path)
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw MediaError(.cannotOpen, file: path, "cannot read the file")
        }
        defer { try? handle.close() }
        var prefix: [UInt8] = []
        var wanted = 64 * 1024
        while true {
            let more: Data?
            do {
                more = try handle.read(upToCount: wanted - prefix.count)
            } catch {
                throw MediaError(.cannotOpen, file: path, "cannot read the file (\(error.localizedDescription))")
            }
            prefix += more ?? Data()
            // Fewer bytes than asked for: that was the end of the file.
            if let header = try readHeader(prefix: prefix, isWholeFile: prefix.count < wanted, name: path) {
                try checkSize(header, name: path, maxPixels: maxPixels)
                return header
            }
            wanted *= 4
        }
    }

    /// Refuses an image with no pixels or more than `maxPixels`.
    static func checkSize(_ header: ImageHeader, name: String, maxPixels: Int) throws {
        guard header.width > 0, header.height > 0 else {
            throw MediaError(.invalidData, file: name, "the image has no pixels (\(header.width)x\(header.height))")
        }
        if header.pixelCount > maxPixels {
            throw MediaError(
                .tooLarge, file: name,
                String(
                    format: "the image is %dx%d (%.1f megapixels), over the limit of %.0f megapixels",
                    header.width, header.height, Double(header.pixelCount) / 1e6, Double(maxPixels) / 1e6))
        }
    }

    /// Decodes a PNG or JPEG held in memory to 8-bit pixels: gray8, rgb8, or rgba8 when the
    /// image has alpha. CMYK/YCCK JPEGs come back as RGB; 16-bit PNGs as 8-bit sRGB. EXIF
    /// orientation is not applied here (the image stage does that).
    /// - Throws: `MediaError` `.tooLarge` (over `maxPixels`, checked on the header before
    ///   decoding), `.invalidData` (corrupt or truncated), `.empty`.
    ///
    /// - Parameter atLeast: when given, a JPEG may be decoded shrunk by 2, 4 or 8 in the DCT
    ///   domain (much faster for large photos) as long as the result stays at least this size.
    package static func decode(
        data: [UInt8], name: String, maxPixels: Int = defaultMaxPixels,
        atLeast minimum: (width: Int, height: Int)? = nil
    ) throws -> PixelBuffer {
        let header = try readHeader(data: data, name: name)
        try checkSize(header, name: name, maxPixels: maxPixels)
        var err = [CChar](repeating: 0, count: 256)
        switch header.format {
        case .png:
            let format: PixelBuffer.Format = header.hasAlpha ? .rgba8 : (header.isGray ? .gray8 : .rgb8)
            var out = [UInt8](repeating: 0, count: header.pixelCount * format.channels)
            let rc = data.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    CMediaShims_png_decode(
                        src.baseAddress!, src.count, Int32(format.channels), dst.baseAddress!, dst.count,
                        &err, err.count)
                }
            }
            if rc != 0 { throw MediaError(.invalidData, file: name, "invalid PNG: \(FFmpeg.cString(err))") }
            return PixelBuffer(width: header.width, height: header.height, format: format, bytes: out)
        case .jpeg:
            let format: PixelBuffer.Format = header.isGray ? .gray8 : .rgb8
            var denominator = 1
            if let minimum {
                for d in [8, 4, 2]
                where (header.width + d - 1) / d >= minimum.width && (header.height + d - 1) / d >= minimum.height {
                    denominator = d
                    break
                }
            }
            let width = (header.width + denominator - 1) / denominator, height = (header.height + denominator - 1) / denominator
            var out = [UInt8](repeating: 0, count: width * height * format.channels)
            var info = CMediaShims_jpeg_info()
            let rc = data.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    CMediaShims_jpeg_decode(
                        src.baseAddress!, src.count, Int32(denominator), dst.baseAddress!, dst.count,
                        &info, &err, err.count)
                }
            }
            if rc != 0 { throw MediaError(.invalidData, file: name, "invalid JPEG: \(FFmpeg.cString(err))") }
            guard Int(info.width) == width, Int(info.height) == height else {
                throw MediaError(
                    .invalidData, file: name, "the JPEG decoded to \(info.width)x\(info.height), not \(width)x\(height)")
            }
            return PixelBuffer(width: width, height: height, format: format, bytes: out)
        }
    }

    /// Reads and decodes an image file. See `decode(data:name:maxPixels:)`.
    package static func decode(path: String, maxPixels: Int = defaultMaxPixels) throws -> PixelBuffer {
        try decode(data: readFile(path), name: path, maxPixels: maxPixels)
    }

    /// Encodes pixels as PNG, with no metadata.
    package static func encodePNG(_ image: PixelBuffer) throws -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        var err = [CChar](repeating: 0, count: 256)
        let rc = image.bytes.withUnsafeBufferPointer {
            CMediaShims_png_encode(
                $0.baseAddress!, Int32(image.width), Int32(image.height), Int32(image.format.channels),
                &out, &size, &err, err.count)
        }
        defer { CMediaShims_free(out) }
        if rc != 0 || out == nil { throw MediaError(.encodeFailed, file: nil, "PNG encoding failed: \(FFmpeg.cString(err))") }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }

    /// Encodes pixels as a baseline JPEG (quality 1…100), with no metadata. Alpha is dropped:
    /// flatten it first.
    package static func encodeJPEG(_ image: PixelBuffer, quality: Int = 92) throws -> [UInt8] {
        var source = image
        if image.format == .rgba8 {
            var rgb = [UInt8](repeating: 0, count: image.width * image.height * 3)
            for i in 0..<(image.width * image.height) {
                rgb[3 * i] = image.bytes[4 * i]
                rgb[3 * i + 1] = image.bytes[4 * i + 1]
                rgb[3 * i + 2] = image.bytes[4 * i + 2]
            }
            source = PixelBuffer(width: image.width, height: image.height, format: .rgb8, bytes: rgb)
        }
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        var err = [CChar](repeating: 0, count: 256)
        let rc = source.bytes.withUnsafeBufferPointer {
            CMediaShims_jpeg_encode(
                $0.baseAddress!, Int32(source.width), Int32(source.height), Int32(source.format.channels),
                Int32(quality), &out, &size, &err, err.count)
        }
        defer { CMediaShims_free(out) }
        if rc != 0 || out == nil { throw MediaError(.encodeFailed, file: nil, "JPEG encoding failed: \(FFmpeg.cString(err))") }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }
}
