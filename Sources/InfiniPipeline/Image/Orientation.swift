// InfiniPipeline: EXIF orientation: reading it from a JPEG and turning pixels upright.

/// How a stored image must be transformed to show its subject upright (EXIF tag 0x0112).
///
/// Case names follow the usual convention (`CGImagePropertyOrientation`): they describe where
/// the stored image's top row ends up. Raw values are the EXIF values 1…8.
public enum ExifOrientation: Int, Sendable, Codable, CaseIterable {
    /// 1: stored upright; nothing to do.
    case up = 1
    /// 2: mirrored left↔right.
    case upMirrored = 2
    /// 3: rotated 180°.
    case down = 3
    /// 4: mirrored top↔bottom.
    case downMirrored = 4
    /// 5: transposed (mirrored across the top-left → bottom-right diagonal).
    case leftMirrored = 5
    /// 6: must be rotated 90° clockwise to display.
    case right = 6
    /// 7: transversed (mirrored across the top-right → bottom-left diagonal).
    case rightMirrored = 7
    /// 8: must be rotated 90° counter-clockwise to display.
    case left = 8

    /// Whether displaying the image swaps its width and height (values 5…8).
    public var swapsDimensions: Bool { rawValue >= 5 }

    /// Maps a pixel of the upright (displayed) image back to the stored image.
    ///
    /// - Parameters:
    ///   - x: Column in the displayed image.
    ///   - y: Row in the displayed image.
    ///   - storedWidth: Width of the stored image.
    ///   - storedHeight: Height of the stored image.
    /// - Returns: The stored pixel shown at (`x`, `y`).
    func storedCoordinate(
        ofDisplayedX x: Int, y: Int,
        storedWidth w: Int, storedHeight h: Int
    ) -> (x: Int, y: Int) {
        switch self {
        case .up: return (x, y)
        case .upMirrored: return (w - 1 - x, y)
        case .down: return (w - 1 - x, h - 1 - y)
        case .downMirrored: return (x, h - 1 - y)
        case .leftMirrored: return (y, x)
        case .right: return (y, h - 1 - x)
        case .rightMirrored: return (w - 1 - y, h - 1 - x)
        case .left: return (w - 1 - y, x)
        }
    }
}

extension ExifOrientation {
    /// The region of the stored image that an upright-image window shows.
    ///
    /// Coordinates are pixel edges, so the mapping is exact: mirroring sends edge `u` to
    /// `size − u`, transposing swaps the axes.
    func storedWindow(
        ofUpright window: Resampler.Window,
        storedWidth w: Int, storedHeight h: Int
    ) -> Resampler.Window {
        let W = Double(w), H = Double(h)
        let x0 = window.x, x1 = window.x + window.width
        let y0 = window.y, y1 = window.y + window.height
        let xs: (Double, Double), ys: (Double, Double)
        switch self {
        case .up: xs = (x0, x1); ys = (y0, y1)
        case .upMirrored: xs = (W - x1, W - x0); ys = (y0, y1)
        case .down: xs = (W - x1, W - x0); ys = (H - y1, H - y0)
        case .downMirrored: xs = (x0, x1); ys = (H - y1, H - y0)
        case .leftMirrored: xs = (y0, y1); ys = (x0, x1)
        case .right: xs = (y0, y1); ys = (H - x1, H - x0)
        case .rightMirrored: xs = (W - y1, W - y0); ys = (H - x1, H - x0)
        case .left: xs = (W - y1, W - y0); ys = (x0, x1)
        }
        return Resampler.Window(x: xs.0, y: ys.0, width: xs.1 - xs.0, height: ys.1 - ys.0)
    }
}

extension PixelBuffer {
    /// This image transformed so its subject is upright, given the EXIF orientation it was stored with.
    ///
    /// Works for every ``PixelBuffer/Format``. Values 5…8 swap width and height.
    /// `.up` returns the buffer unchanged without copying.
    func applying(_ orientation: ExifOrientation) -> PixelBuffer {
        if orientation == .up { return self }
        let w = width, h = height, c = format.channels
        let outW = orientation.swapsDimensions ? h : w
        let outH = orientation.swapsDimensions ? w : h
        var out = [UInt8](repeating: 0, count: bytes.count)
        if out.isEmpty { return PixelBuffer(width: outW, height: outH, format: format, bytes: out) }
        // Express the transform as: stored index = base + dx * x + dy * y (in pixels).
        let origin = orientation.storedCoordinate(ofDisplayedX: 0, y: 0, storedWidth: w, storedHeight: h)
        let stepX: Int, stepY: Int
        do {
            let ax = orientation.storedCoordinate(ofDisplayedX: 1, y: 0, storedWidth: w, storedHeight: h)
            let ay = orientation.storedCoordinate(ofDisplayedX: 0, y: 1, storedWidth: w, storedHeight: h)
            stepX = (ax.y - origin.y) * w + (ax.x - origin.x)
            stepY = (ay.y - origin.y) * w + (ay.x - origin.x)
        }
        let base = origin.y * w + origin.x
        bytes.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                var d = 0
                for y in 0..<outH {
                    var s = base + stepY * y
                    switch c {
                    case 3:
                        for _ in 0..<outW {
                            let si = s * 3
                            dst[d] = src[si]; dst[d + 1] = src[si + 1]; dst[d + 2] = src[si + 2]
                            d += 3; s += stepX
                        }
                    case 1:
                        for _ in 0..<outW {
                            dst[d] = src[s]
                            d += 1; s += stepX
                        }
                    default:
                        for _ in 0..<outW {
                            let si = s * c
                            for k in 0..<c { dst[d + k] = src[si + k] }
                            d += c; s += stepX
                        }
                    }
                }
            }
        }
        return PixelBuffer(width: outW, height: outH, format: format, bytes: out)
    }
}

extension ExifOrientation {
    /// Reads the EXIF orientation (tag 0x0112 in IFD0) from a JPEG file's bytes.
    ///
    /// Scans the markers before the first start-of-scan for an APP1 segment that starts with
    /// `"Exif\0\0"` and parses its TIFF structure (either byte order). Every read is
    /// bounds-checked against the segment, so truncated or garbage input returns `nil`.
    ///
    /// - Returns: The orientation, or `nil` when the data is not a JPEG, carries no EXIF
    ///   orientation, or the value is outside 1…8.
    static func exifOrientation(fromJPEG data: [UInt8]) -> ExifOrientation? {
        let n = data.count
        guard n >= 4, data[0] == 0xFF, data[1] == 0xD8 else { return nil }
        var i = 2
        while i < n {
            // Every segment starts with 0xFF; any run of 0xFF is fill before the marker byte.
            guard data[i] == 0xFF else { return nil }
            while i < n && data[i] == 0xFF { i += 1 }
            guard i < n else { return nil }
            let marker = data[i]
            i += 1
            switch marker {
            case 0xD8, 0x01, 0xD0...0xD7:
                continue  // Stand-alone markers: no length field.
            case 0xD9, 0xDA:
                return nil  // End of image or start of scan: metadata is over.
            default:
                break
            }
            guard i + 2 <= n else { return nil }
            let length = Int(data[i]) << 8 | Int(data[i + 1])
            guard length >= 2, i + length <= n else { return nil }
            let payloadStart = i + 2
            let payloadEnd = i + length
            if marker == 0xE1, payloadEnd - payloadStart >= 6,
                data[payloadStart] == 0x45, data[payloadStart + 1] == 0x78,  // "Ex"
                data[payloadStart + 2] == 0x69, data[payloadStart + 3] == 0x66,  // "if"
                data[payloadStart + 4] == 0, data[payloadStart + 5] == 0
            {
                return exifOrientation(fromTIFF: data[(payloadStart + 6)..<payloadEnd])
            }
            i = payloadEnd
        }
        return nil
    }

    /// Reads the EXIF orientation from a PNG file's `eXIf` chunk.
    ///
    /// Walks the chunk list (length, type, data, CRC) up to `IEND`, bounds-checking every
    /// length; the CRC is not verified. Garbage or truncated input returns `nil`.
    static func exifOrientation(fromPNG data: [UInt8]) -> ExifOrientation? {
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        guard data.count >= 8, data[0..<8].elementsEqual(signature) else { return nil }
        var i = 8
        while i + 8 <= data.count {
            let length = Int(data[i]) << 24 | Int(data[i + 1]) << 16 | Int(data[i + 2]) << 8 | Int(data[i + 3])
            let type = (data[i + 4], data[i + 5], data[i + 6], data[i + 7])
            let start = i + 8
            guard length <= data.count - start else { return nil }
            switch type {
            case (0x65, 0x58, 0x49, 0x66):  // "eXIf"
                return exifOrientation(fromTIFF: data[start..<(start + length)])
            case (0x49, 0x45, 0x4E, 0x44):  // "IEND"
                return nil
            default:
                i = start + length + 4  // skip data and CRC
            }
        }
        return nil
    }

    /// Reads the EXIF orientation from a JPEG or PNG file, chosen by its signature.
    ///
    /// - Returns: The orientation, or `nil` for other formats and files without one
    ///   (callers treat `nil` as ``up``).
    static func exifOrientation(fromImageFile data: [UInt8]) -> ExifOrientation? {
        if data.count >= 2, data[0] == 0xFF, data[1] == 0xD8 { return exifOrientation(fromJPEG: data) }
        return exifOrientation(fromPNG: data)
    }

    /// Reads the orientation tag from a TIFF-structured EXIF block: the bytes after
    /// `"Exif\0\0"` in a JPEG APP1 segment, or the contents of a PNG `eXIf` chunk.
    ///
    /// Accepts the value stored as SHORT (the standard) or LONG. Bounds-checked: malformed
    /// input returns `nil`.
    static func exifOrientation<C: RandomAccessCollection>(fromTIFF block: C) -> ExifOrientation?
    where C.Element == UInt8, C.Index == Int {
        let start = block.startIndex
        let n = block.count
        guard n >= 8 else { return nil }
        let bigEndian: Bool
        switch (block[start], block[start + 1]) {
        case (0x49, 0x49): bigEndian = false  // "II"
        case (0x4D, 0x4D): bigEndian = true  // "MM"
        default: return nil
        }
        // Offsets are relative to the TIFF header; every read checks `offset + size <= n`.
        func u16(_ offset: Int) -> Int? {
            guard offset >= 0, offset <= n - 2 else { return nil }
            let a = Int(block[start + offset]), b = Int(block[start + offset + 1])
            return bigEndian ? (a << 8 | b) : (b << 8 | a)
        }
        func u32(_ offset: Int) -> Int? {
            guard let hi = u16(bigEndian ? offset : offset + 2),
                let lo = u16(bigEndian ? offset + 2 : offset)
            else { return nil }
            return hi << 16 | lo
        }
        guard u16(2) == 42, let ifd0 = u32(4), let count = u16(ifd0) else { return nil }
        for entry in 0..<count {
            let e = ifd0 + 2 + entry * 12
            guard let tag = u16(e) else { return nil }
            guard tag == 0x0112 else { continue }
            guard let type = u16(e + 2), let valueCount = u32(e + 4), valueCount >= 1 else { return nil }
            let value: Int?
            switch type {
            case 3: value = u16(e + 8)  // SHORT, stored left-justified in the value field.
            case 4: value = u32(e + 8)  // LONG.
            default: value = nil
            }
            return value.flatMap { ExifOrientation(rawValue: $0) }
        }
        return nil
    }
}
