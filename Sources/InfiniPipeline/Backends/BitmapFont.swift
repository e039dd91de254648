/// A tiny built-in 5×7 bitmap font for the preview backend's captions (no font files needed).
enum BitmapFont {
    static let glyphWidth = 5
    static let glyphHeight = 7

    /// Each glyph: 7 rows, the low 5 bits of each byte, leftmost pixel in bit 4.
    static let glyphs: [Character: [UInt8]] = [
        "0": [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        "1": [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        "2": [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        "3": [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        "4": [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        "5": [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        "6": [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        "7": [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        "8": [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        "9": [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        "E": [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        "G": [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        "I": [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        "M": [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        "N": [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        "P": [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        "R": [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        "S": [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        "T": [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        "V": [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        "W": [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        ":": [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00],
        ".": [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C],
        "/": [0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00],
        "-": [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00],
        " ": [0, 0, 0, 0, 0, 0, 0],
    ]

    /// Width in pixels of `text` drawn at `scale` (one blank column between glyphs).
    static func width(of text: String, scale: Int) -> Int {
        text.isEmpty ? 0 : (text.count * (glyphWidth + 1) - 1) * scale
    }

    /// Draws `text` into an rgb8 buffer with its top-left corner at (x, y), clipped to the image.
    static func draw(_ text: String, into image: inout PixelBuffer, x: Int, y: Int, scale: Int, color: (UInt8, UInt8, UInt8)) {
        precondition(image.format == .rgb8)
        var cursor = x
        let w = image.width, h = image.height
        image.bytes.withUnsafeMutableBufferPointer { px in
            for ch in text.uppercased() {
                let rows = glyphs[ch] ?? glyphs[" "]!
                for (row, bits) in rows.enumerated() {
                    for col in 0..<glyphWidth where bits & (0x10 >> UInt8(col)) != 0 {
                        for dy in 0..<scale {
                            let py = y + row * scale + dy
                            guard py >= 0, py < h else { continue }
                            for dx in 0..<scale {
                                let pxx = cursor + col * scale + dx
                                guard pxx >= 0, pxx < w else { continue }
                                let i = (py * w + pxx) * 3
                                px[i] = color.0; px[i + 1] = color.1; px[i + 2] = color.2
                            }
                        }
                    }
                }
                cursor += (glyphWidth + 1) * scale
            }
        }
    }

    /// Darkens a rectangle (for caption backgrounds), clipped to the image.
    static func shade(_ image: inout PixelBuffer, x: Int, y: Int, width: Int, height: Int) {
        let x0 = max(0, x), y0 = max(0, y), x1 = min(image.width, x + width), y1 = min(image.height, y + height)
        guard x0 < x1, y0 < y1 else { return }
        let w = image.width
        image.bytes.withUnsafeMutableBufferPointer { px in
            for yy in y0..<y1 {
                for i in ((yy * w + x0) * 3)..<((yy * w + x1) * 3) { px[i] = px[i] / 3 }
            }
        }
    }

    /// Fills a rectangle with a colour, clipped to the image.
    static func fill(_ image: inout PixelBuffer, x: Int, y: Int, width: Int, height: Int, color: (UInt8, UInt8, UInt8)) {
        let x0 = max(0, x), y0 = max(0, y), x1 = min(image.width, x + width), y1 = min(image.height, y + height)
        guard x0 < x1, y0 < y1 else { return }
        let w = image.width
        image.bytes.withUnsafeMutableBufferPointer { px in
            for yy in y0..<y1 {
                for xx in x0..<x1 {
                    let i = (yy * w + xx) * 3
                    px[i] = color.0; px[i + 1] = color.1; px[i + 2] = color.2
                }
            }
        }
    }
}
