// InfiniPipeline: background colour, alpha flattening, and conversion to rgb8.

/// An opaque 8-bit sRGB colour.
public struct RGBColor: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Red, 0…255.
    public var red: UInt8
    /// Green, 0…255.
    public var green: UInt8
    /// Blue, 0…255.
    public var blue: UInt8

    /// Creates a colour from its three components.
    /// - Parameters:
    ///   - red: Red, 0…255.
    ///   - green: Green, 0…255.
    ///   - blue: Blue, 0…255.
    public init(red: UInt8, green: UInt8, blue: UInt8) {
        self.red = red
        self.green = green
        self.blue = blue
    }

    /// 255, 255, 255.
    public static let white = RGBColor(red: 255, green: 255, blue: 255)
    /// 0, 0, 0.
    public static let black = RGBColor(red: 0, green: 0, blue: 0)

    /// `"#RRGGBB"` in upper-case hex.
    public var description: String {
        let digits = Array("0123456789ABCDEF")
        var text = "#"
        for v in [red, green, blue] {
            text.append(digits[Int(v >> 4)])
            text.append(digits[Int(v & 0xF)])
        }
        return text
    }

    /// Parses a colour written as text (a setting, a command-line value).
    ///
    /// Accepted forms (surrounding spaces ignored, case-insensitive): `"#RRGGBB"`, `"RRGGBB"`,
    /// `"white"`, `"black"`, and `"r,g,b"` with three decimal integers in 0…255.
    /// - Parameter text: The colour.
    /// - Throws: ``ImageFitError`` of kind `invalidColor`, option `background`, naming the text.
    public init(parsing text: String) throws {
        let trimmed = ImageFitText.trimmed(text).lowercased()
        switch trimmed {
        case "white": self = .white; return
        case "black": self = .black; return
        default: break
        }
        if trimmed.contains(",") {
            let parts = trimmed.split(separator: ",", omittingEmptySubsequences: false)
                .map { ImageFitText.trimmed(String($0)) }
            guard parts.count == 3 else { throw ImageFitError.invalidColor(text) }
            var values: [UInt8] = []
            for part in parts {
                guard !part.isEmpty, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                    part.count <= 3, let v = Int(part), v <= 255
                else {
                    throw ImageFitError.invalidColor(text)
                }
                values.append(UInt8(v))
            }
            self.init(red: values[0], green: values[1], blue: values[2])
            return
        }
        let hex = trimmed.hasPrefix("#") ? String(trimmed.dropFirst()) : trimmed
        guard hex.count == 6, hex.allSatisfy({ $0.isHexDigit && $0.isASCII }),
            let v = UInt32(hex, radix: 16)
        else {
            throw ImageFitError.invalidColor(text)
        }
        self.init(red: UInt8(v >> 16), green: UInt8((v >> 8) & 0xFF), blue: UInt8(v & 0xFF))
    }
}

extension PixelBuffer {
    /// This image as rgb8, with any alpha composited over `background`.
    ///
    /// gray8 is replicated into the three channels; rgb8 is returned unchanged (no copy);
    /// rgba8 (straight alpha) becomes `round((c·a + bg·(255 − a)) / 255)` per channel, in the
    /// stored sRGB values, as common image tools flatten.
    func flattenedToRGB(over background: RGBColor = .white) -> PixelBuffer {
        switch format {
        case .rgb8:
            return self
        case .gray8:
            var out = [UInt8](repeating: 0, count: width * height * 3)
            bytes.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    var d = 0
                    for v in src {
                        dst[d] = v; dst[d + 1] = v; dst[d + 2] = v
                        d += 3
                    }
                }
            }
            return PixelBuffer(width: width, height: height, format: .rgb8, bytes: out)
        case .rgba8:
            let bg = (UInt32(background.red), UInt32(background.green), UInt32(background.blue))
            var out = [UInt8](repeating: 0, count: width * height * 3)
            bytes.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    let pixels = width * height
                    var s = 0, d = 0
                    for _ in 0..<pixels {
                        let a = UInt32(src[s + 3])
                        let ia = 255 - a
                        // (v + 127) / 255 rounds to nearest: v / 255 is never exactly k + ½.
                        dst[d] = UInt8((UInt32(src[s]) * a + bg.0 * ia + 127) / 255)
                        dst[d + 1] = UInt8((UInt32(src[s + 1]) * a + bg.1 * ia + 127) / 255)
                        dst[d + 2] = UInt8((UInt32(src[s + 2]) * a + bg.2 * ia + 127) / 255)
                        s += 4; d += 3
                    }
                }
            }
            return PixelBuffer(width: width, height: height, format: .rgb8, bytes: out)
        }
    }
}
