// Tests for EXIF orientation: the parser and turning pictures upright.

import Foundation
import Testing

@testable import InfiniPipeline

// MARK: - Orientation

@Suite("EXIF orientation", .ownThreads)
struct OrientationTests {
    /// Stored 3×2 image with distinct pixels:
    ///     a b c
    ///     d e f
    private static let a: UInt8 = 10, b: UInt8 = 20, c: UInt8 = 30, d: UInt8 = 40, e: UInt8 = 50, f: UInt8 = 60
    private static let stored = PixelBuffer(width: 3, height: 2, format: .gray8, bytes: [a, b, c, d, e, f])

    /// What each orientation must display, written out by hand from the EXIF definitions.
    private static let expected: [(ExifOrientation, Int, Int, [UInt8])] = [
        (.up, 3, 2, [a, b, c, d, e, f]),
        (.upMirrored, 3, 2, [c, b, a, f, e, d]),  // mirror horizontal
        (.down, 3, 2, [f, e, d, c, b, a]),  // rotate 180
        (.downMirrored, 3, 2, [d, e, f, a, b, c]),  // mirror vertical
        (.leftMirrored, 2, 3, [a, d, b, e, c, f]),  // transpose
        (.right, 2, 3, [d, a, e, b, f, c]),  // rotate 90° clockwise
        (.rightMirrored, 2, 3, [f, c, e, b, d, a]),  // transverse
        (.left, 2, 3, [c, f, b, e, a, d]),  // rotate 90° counter-clockwise
    ]

    @Test func allEightOrientationsOnAHandWrittenImage() {
        #expect(Self.expected.count == 8)
        for (orientation, w, h, pixels) in Self.expected {
            let out = Self.stored.applying(orientation)
            #expect(out.width == w && out.height == h && out.bytes == pixels, "\(orientation)")
        }
    }

    @Test("every orientation moves each pixel where the EXIF definition says", arguments: ExifOrientation.allCases)
    func coordinatesOnALargerRGBAImage(_ orientation: ExifOrientation) {
        let w = 7, h = 5
        var bytes: [UInt8] = []
        for y in 0..<h { for x in 0..<w { bytes += [UInt8(x), UInt8(y), UInt8(x * 10 + y), 255] } }
        let image = PixelBuffer(width: w, height: h, format: .rgba8, bytes: bytes)
        let out = image.applying(orientation)
        let swaps = [5, 6, 7, 8].contains(orientation.rawValue)
        #expect(out.width == (swaps ? h : w) && out.height == (swaps ? w : h) && out.format == .rgba8)
        for y in 0..<out.height {
            for x in 0..<out.width {
                // Displayed (x, y) shows stored (sx, sy), from the EXIF tag definitions.
                let (sx, sy): (Int, Int)
                switch orientation.rawValue {
                case 1: (sx, sy) = (x, y)
                case 2: (sx, sy) = (w - 1 - x, y)
                case 3: (sx, sy) = (w - 1 - x, h - 1 - y)
                case 4: (sx, sy) = (x, h - 1 - y)
                case 5: (sx, sy) = (y, x)
                case 6: (sx, sy) = (y, h - 1 - x)
                case 7: (sx, sy) = (w - 1 - y, h - 1 - x)
                default: (sx, sy) = (w - 1 - y, x)
                }
                let i = (y * out.width + x) * 4
                #expect(out.bytes[i] == UInt8(sx) && out.bytes[i + 1] == UInt8(sy), "\(orientation) at \(x),\(y)")
            }
        }
    }

    @Test func inversePairsRoundTrip() {
        let image = rgbImage(width: 5, height: 3) { x, y, c in UInt8(x * 40 + y * 7 + c) }
        #expect(image.applying(.right).applying(.left) == image)
        #expect(image.applying(.down).applying(.down) == image)
        #expect(image.applying(.leftMirrored).applying(.leftMirrored) == image)
        #expect(image.applying(.rightMirrored).applying(.rightMirrored) == image)
        #expect(image.applying(.upMirrored).applying(.upMirrored) == image)
        #expect(image.applying(.right).applying(.right) == image.applying(.down))
    }

    @Test func storedWindowMapsBackExactly() {
        // A one-pixel window in the upright image must map to the stored pixel that is shown there.
        let w = 7, h = 5
        for orientation in ExifOrientation.allCases {
            let uw = orientation.swapsDimensions ? h : w, uh = orientation.swapsDimensions ? w : h
            for y in 0..<uh {
                for x in 0..<uw {
                    let win = orientation.storedWindow(
                        ofUpright: Resampler.Window(x: Double(x), y: Double(y), width: 1, height: 1),
                        storedWidth: w, storedHeight: h)
                    let s = orientation.storedCoordinate(ofDisplayedX: x, y: y, storedWidth: w, storedHeight: h)
                    #expect(win == Resampler.Window(x: Double(s.x), y: Double(s.y), width: 1, height: 1), "\(orientation)")
                }
            }
        }
    }
}

// MARK: - EXIF parsing

@Suite("EXIF parser", .ownThreads)
struct ExifParserTests {
    /// A TIFF block holding IFD0 with a Make entry and an Orientation entry.
    static func tiff(bigEndian: Bool, orientation: Int, type: Int = 3) -> [UInt8] {
        func u16(_ v: Int) -> [UInt8] {
            bigEndian ? [UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] : [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)]
        }
        func u32(_ v: Int) -> [UInt8] { bigEndian ? u16(v >> 16) + u16(v & 0xFFFF) : u16(v & 0xFFFF) + u16(v >> 16) }
        var t: [UInt8] = bigEndian ? [0x4D, 0x4D] : [0x49, 0x49]
        t += u16(42) + u32(8)
        t += u16(2)
        t += u16(0x010F) + u16(2) + u32(4) + [0x41, 0x42, 0x43, 0]  // Make = "ABC"
        let value: [UInt8] = type == 3 ? u16(orientation) + [0, 0] : u32(orientation)
        t += u16(0x0112) + u16(type) + u32(1) + value  // Orientation
        t += u32(0)  // no next IFD
        return t
    }

    static func segment(_ marker: UInt8, _ payload: [UInt8]) -> [UInt8] {
        let length = payload.count + 2
        return [0xFF, marker, UInt8(length >> 8), UInt8(length & 0xFF)] + payload
    }

    static let exifHeader: [UInt8] = [0x45, 0x78, 0x69, 0x66, 0, 0]

    static func jpeg(_ tiffBlock: [UInt8], extraSegmentsFirst: [[UInt8]] = []) -> [UInt8] {
        var data: [UInt8] = [0xFF, 0xD8]
        data += segment(0xE0, Array("JFIF".utf8) + [0, 1, 1, 0, 0, 1, 0, 1, 0, 0])
        for s in extraSegmentsFirst { data += s }
        data += segment(0xE1, exifHeader + tiffBlock)
        data += segment(0xDB, [UInt8](repeating: 1, count: 65))
        data += [0xFF, 0xDA, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 0x12, 0x34, 0xFF, 0xD9]
        return data
    }

    @Test func littleEndian() {
        for value in 1...8 {
            let data = Self.jpeg(Self.tiff(bigEndian: false, orientation: value))
            #expect(ExifOrientation.exifOrientation(fromJPEG: data)?.rawValue == value)
        }
    }

    @Test func bigEndian() {
        for value in 1...8 {
            let data = Self.jpeg(Self.tiff(bigEndian: true, orientation: value))
            #expect(ExifOrientation.exifOrientation(fromJPEG: data)?.rawValue == value)
        }
    }

    @Test func longValueAndTIFFEntryPoint() {
        #expect(
            ExifOrientation.exifOrientation(fromJPEG: Self.jpeg(Self.tiff(bigEndian: true, orientation: 6, type: 4))) == .right)
        #expect(ExifOrientation.exifOrientation(fromTIFF: Self.tiff(bigEndian: false, orientation: 8)) == .left)
    }

    @Test func skipsXMPAndFillBytes() {
        let xmp = Self.segment(0xE1, Array("http://ns.adobe.com/xap/1.0/\0<x/>".utf8))
        var data = Self.jpeg(Self.tiff(bigEndian: false, orientation: 3), extraSegmentsFirst: [xmp])
        #expect(ExifOrientation.exifOrientation(fromJPEG: data) == .down)
        data.insert(contentsOf: [0xFF, 0xFF], at: 2)  // fill bytes before the first marker
        #expect(ExifOrientation.exifOrientation(fromJPEG: data) == .down)
    }

    @Test func absentOrInvalidGivesNil() {
        // No APP1 at all.
        let plain: [UInt8] = [0xFF, 0xD8] + Self.segment(0xE0, [1, 2, 3]) + [0xFF, 0xDA, 0, 2, 0xFF, 0xD9]
        #expect(ExifOrientation.exifOrientation(fromJPEG: plain) == nil)
        // Not a JPEG.
        #expect(ExifOrientation.exifOrientation(fromJPEG: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) == nil)
        #expect(ExifOrientation.exifOrientation(fromJPEG: []) == nil)
        // Out-of-range values.
        for value in [0, 9, 0xFFFF] {
            #expect(ExifOrientation.exifOrientation(fromJPEG: Self.jpeg(Self.tiff(bigEndian: false, orientation: value))) == nil)
        }
        // Wrong TIFF magic, IFD offset past the end, entry count running past the end.
        var bad = Self.tiff(bigEndian: false, orientation: 6)
        bad[2] = 43
        #expect(ExifOrientation.exifOrientation(fromJPEG: Self.jpeg(bad)) == nil)
        bad = Self.tiff(bigEndian: false, orientation: 6)
        bad[4] = 0xF0; bad[5] = 0xFF; bad[6] = 0xFF; bad[7] = 0x7F
        #expect(ExifOrientation.exifOrientation(fromJPEG: Self.jpeg(bad)) == nil)
        bad = Self.tiff(bigEndian: true, orientation: 6)
        bad[8] = 0xFF; bad[9] = 0xFF  // 65535 entries, only 2 present
        bad.replaceSubrange(10..<22, with: [UInt8](repeating: 0, count: 12))  // first entry no longer Orientation...
        bad.replaceSubrange(22..<34, with: [UInt8](repeating: 0, count: 12))  // ...nor the second
        #expect(ExifOrientation.exifOrientation(fromJPEG: Self.jpeg(bad)) == nil)
        // Exif segment whose declared length runs past the data.
        var overlong = Self.jpeg(Self.tiff(bigEndian: false, orientation: 6))
        let app1 = 2 + 18  // after SOI and the 18-byte APP0
        overlong[app1 + 2] = 0x7F
        #expect(ExifOrientation.exifOrientation(fromJPEG: overlong) == nil)
    }

    @Test func everyTruncationIsSafe() {
        let data = Self.jpeg(Self.tiff(bigEndian: false, orientation: 6))
        let app1End = 2 + 18 + 4 + Self.exifHeader.count + Self.tiff(bigEndian: false, orientation: 6).count
        for n in 0...data.count {
            let result = ExifOrientation.exifOrientation(fromJPEG: Array(data[0..<n]))
            if n < app1End { #expect(result == nil, "prefix \(n)") } else { #expect(result == .right, "prefix \(n)") }
        }
        let tiffBlock = Self.tiff(bigEndian: true, orientation: 6)
        for n in 0..<tiffBlock.count - 4 {
            // The SHORT value ends at byte 32; the trailing "next IFD" offset is not needed.
            let result = ExifOrientation.exifOrientation(fromTIFF: Array(tiffBlock[0..<n]))
            #expect(result == (n >= 32 ? .right : nil), "tiff prefix \(n)")
        }
    }

    static func pngChunk(_ type: String, _ payload: [UInt8]) -> [UInt8] {
        let n = payload.count
        return [UInt8(n >> 24 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)]
            + Array(type.utf8) + payload + [0, 0, 0, 0]  // CRC is not checked
    }

    static func png(exif: [UInt8]?) -> [UInt8] {
        var data: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        data += pngChunk("IHDR", [0, 0, 0, 64, 0, 0, 0, 64, 8, 2, 0, 0, 0])
        if let exif { data += pngChunk("eXIf", exif) }
        data += pngChunk("IDAT", [UInt8](repeating: 0x55, count: 40))
        data += pngChunk("IEND", [])
        return data
    }

    @Test func pngExifChunk() {
        #expect(ExifOrientation.exifOrientation(fromPNG: Self.png(exif: Self.tiff(bigEndian: true, orientation: 8))) == .left)
        #expect(
            ExifOrientation.exifOrientation(fromPNG: Self.png(exif: Self.tiff(bigEndian: false, orientation: 2))) == .upMirrored)
        #expect(ExifOrientation.exifOrientation(fromPNG: Self.png(exif: nil)) == nil)
        // The file-level entry point dispatches on the signature.
        #expect(
            ExifOrientation.exifOrientation(fromImageFile: Self.png(exif: Self.tiff(bigEndian: false, orientation: 5)))
                == .leftMirrored)
        #expect(
            ExifOrientation.exifOrientation(fromImageFile: Self.jpeg(Self.tiff(bigEndian: false, orientation: 7)))
                == .rightMirrored)
        #expect(ExifOrientation.exifOrientation(fromImageFile: Array("GIF89a".utf8)) == nil)
        // Every truncation is safe; the tag is readable once the whole eXIf chunk data is present.
        let full = Self.png(exif: Self.tiff(bigEndian: false, orientation: 6))
        let chunkDataEnd = 8 + 25 + 8 + Self.tiff(bigEndian: false, orientation: 6).count
        for n in 0...full.count {
            let result = ExifOrientation.exifOrientation(fromPNG: Array(full[0..<n]))
            #expect(result == (n >= chunkDataEnd ? .right : nil), "prefix \(n)")
        }
        // A chunk length running past the end.
        var overlong = full
        overlong[33] = 0x7F
        #expect(ExifOrientation.exifOrientation(fromPNG: overlong) == nil)
    }

    /// Seeded: see ``FuzzSeed``.
    @Test func randomGarbageNeverCrashes() throws {
        let seed = try FuzzSeed.value(default: 0x1234_5678)
        var rng = TestRandom(seed: seed)
        let valid = Self.jpeg(Self.tiff(bigEndian: false, orientation: 6))
        for round in 0..<3000 {
            var data: [UInt8]
            switch round % 3 {
            case 0:  // Pure noise.
                data = (0..<rng.int(0...400)).map { _ in rng.byte() }
            case 1:  // A plausible Exif APP1 header followed by noise.
                let body = Self.exifHeader + (0..<rng.int(0...300)).map { _ in rng.byte() }
                data = [0xFF, 0xD8] + Self.segment(0xE1, body)
                if rng.next() % 2 == 0 { data.removeLast(rng.int(0...min(10, data.count - 2))) }
            default:  // A valid file with a few random bytes changed.
                data = valid
                for _ in 0..<rng.int(1...6) { data[rng.int(0...(data.count - 1))] = rng.byte() }
            }
            let result = ExifOrientation.exifOrientation(fromJPEG: data)
            if let result { #expect((1...8).contains(result.rawValue), "round \(round), \(FuzzSeed.variable)=\(seed)") }
            _ = ExifOrientation.exifOrientation(fromPNG: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + data)
            _ = ExifOrientation.exifOrientation(fromImageFile: data)
            _ = ExifOrientation.exifOrientation(fromTIFF: data)
            _ = ExifOrientation.exifOrientation(fromTIFF: data.dropFirst(min(3, data.count)))
        }
    }
}
