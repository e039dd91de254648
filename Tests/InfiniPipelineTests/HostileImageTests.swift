import Foundation
import Testing

@testable import InfiniPipeline

/// PNG files built byte by byte: chunks with their CRC, and zlib streams made by hand (Foundation
/// on Linux has no zlib): stored blocks for arbitrary bytes, and one dynamic-Huffman block in
/// which a run of zeros costs 2 bits per 258 bytes, as much as deflate can squeeze. The same
/// encoder writes the image data, so a mistake in it fails the pixel checks.
enum PNGBuilder {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    static func be32(_ v: Int) -> [UInt8] {
        [UInt8(v >> 24 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
    }

    static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typed = Array(type.utf8) + data
        return be32(data.count) + typed + be32(Int(crc32(typed)))
    }

    static func ihdr(width: Int, height: Int, bitDepth: Int, colorType: Int, interlaced: Bool) -> [UInt8] {
        chunk("IHDR", be32(width) + be32(height) + [UInt8(bitDepth), UInt8(colorType), 0, 0, interlaced ? 1 : 0])
    }

    static func file(_ chunks: [[UInt8]]) -> [UInt8] { chunks.reduce(signature, +) }

    /// Writes bits least significant first; Huffman codes most significant first (RFC 1951).
    struct BitWriter {
        var bytes: [UInt8] = []
        private var buffer: UInt64 = 0
        private var count = 0

        mutating func bits(_ value: Int, _ n: Int) {
            buffer |= UInt64(value) << UInt64(count)
            count += n
            while count >= 8 {
                bytes.append(UInt8(buffer & 0xFF))
                buffer >>= 8
                count -= 8
            }
        }

        mutating func code(_ code: Int, _ n: Int) {
            var reversed = 0
            for i in 0..<n { reversed |= (code >> i & 1) << (n - 1 - i) }
            bits(reversed, n)
        }

        mutating func flush() { if count > 0 { bits(0, 8 - count) } }
    }

    /// A zlib stream that inflates to `prefix` followed by `zeros` zero bytes.
    static func zlib(_ prefix: [UInt8], zeros: Int = 0) -> [UInt8] {
        var w = BitWriter()
        if !prefix.isEmpty || zeros == 0 {
            // The prefix as stored blocks of at most 65535 bytes.
            var offset = 0
            repeat {
                let n = min(65535, prefix.count - offset)
                w.bits(offset + n == prefix.count && zeros == 0 ? 1 : 0, 1)  // final block?
                w.bits(0, 2)  // stored
                w.flush()
                w.bytes += [UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8(~n >> 8 & 0xFF)]
                w.bytes += prefix[offset..<(offset + n)]
                offset += n
            } while offset < prefix.count
        }
        if zeros > 0 {
            w.bits(1, 1)  // final block
            w.bits(2, 2)  // dynamic Huffman codes
            w.bits(29, 5)  // 286 literal/length code lengths
            w.bits(0, 5)  // 1 distance code length
            w.bits(14, 4)  // 18 code-length code lengths, in the order 16 17 18 0 8 7 9 6 10 5 11 4 12 3 13 2 14 1:
            for length in [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2] { w.bits(length, 3) }
            // Code-length codes: "zero run" (18) = 0, "length 1" = 10, "length 2" = 11.
            w.code(3, 2)  // literal 0: length 2
            w.code(0, 1); w.bits(138 - 11, 7)  // literals 1...138: unused
            w.code(0, 1); w.bits(117 - 11, 7)  // literals 139...255: unused
            w.code(3, 2)  // end of block: length 2
            w.code(0, 1); w.bits(28 - 11, 7)  // lengths 257...284: unused
            w.code(2, 2)  // length 285 (copy 258 bytes): length 1
            w.code(2, 2)  // distance code 0 (distance 1): length 1
            // Literal/length codes: 285 = 0, literal 0 = 10, end of block = 11; distance 1 = 0.
            var left = zeros
            if prefix.last != 0 {  // a zero to copy from
                w.code(2, 2)
                left -= 1
            }
            while left >= 258 {
                w.code(0, 1)
                w.code(0, 1)
                left -= 258
            }
            for _ in 0..<left { w.code(2, 2) }
            w.code(3, 2)
            w.flush()
        }
        var a = 1, b = 0  // Adler-32
        for byte in prefix {
            a = (a + Int(byte)) % 65521
            b = (b + a) % 65521
        }
        b = (b + zeros % 65521 * a) % 65521
        return [0x78, 0x01] + w.bytes + be32(b << 16 | a)
    }

    /// Filter-0 scanlines of `samples` (row-major, `channels` per pixel, values < 2^bitDepth
    /// for bit depth 8 or 16), in Adam7 pass order when interlaced.
    static func scanlines(width: Int, height: Int, channels: Int, bitDepth: Int, interlaced: Bool, samples: [Int]) -> [UInt8] {
        let passes =
            interlaced
            ? [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
            : [(0, 0, 1, 1)]
        var out: [UInt8] = []
        for (x0, y0, dx, dy) in passes where x0 < width && y0 < height {
            for y in stride(from: y0, to: height, by: dy) {
                out.append(0)
                for x in stride(from: x0, to: width, by: dx) {
                    for c in 0..<channels {
                        let v = samples[(y * width + x) * channels + c]
                        if bitDepth == 16 { out += [UInt8(v >> 8), UInt8(v & 0xFF)] } else { out.append(UInt8(v)) }
                    }
                }
            }
        }
        return out
    }
}

extension Serial {
    @Suite("Hostile and corrupt images")
    struct HostileImageTests {
        // MARK: - PNG full of compressed chunks

        static let bombWidth = 96, bombHeight = 64

        /// A 96x64 RGB PNG: the top half a gradient, the bottom half black, with an eXIf chunk
        /// (orientation 6) and then, before the image data, 450 zTXt, 450 iTXt and 900 iCCP chunks
        /// that each inflate to 7.9 MB (just under libpng's 8 MB default limit per chunk): 14 GB in
        /// 14 MB. libpng 1.6 inflates every such chunk before the first IDAT on every header read;
        /// the simplified-API decoder this replaced did that on each of the three header reads of a
        /// fit, 44 s of CPU per read of this file on the development machine (170 s of wall time
        /// while it was busy), so this test took minutes.
        static func compressedChunkBomb() -> (file: [UInt8], pixels: [UInt8]) {
            let w = bombWidth, h = bombHeight, inflated = 7_900_000
            var pixels = [UInt8](repeating: 0, count: w * h * 3)
            for y in 0..<(h / 2) {
                for x in 0..<w {
                    pixels[(y * w + x) * 3] = UInt8(x * 2)
                    pixels[(y * w + x) * 3 + 1] = UInt8(y * 4)
                    pixels[(y * w + x) * 3 + 2] = 128
                }
            }
            let top = PNGBuilder.scanlines(
                width: w, height: h / 2, channels: 3, bitDepth: 8, interlaced: false,
                samples: pixels[0..<(w * h / 2 * 3)].map(Int.init))
            let idat = PNGBuilder.zlib(top, zeros: (h - h / 2) * (1 + 3 * w))

            let zeros = PNGBuilder.zlib([], zeros: inflated)
            let ztxt = PNGBuilder.chunk("zTXt", Array("Comment".utf8) + [0, 0] + zeros)
            let itxt = PNGBuilder.chunk("iTXt", Array("Comment".utf8) + [0, 1, 0, 0, 0] + zeros)
            // An ICC header libpng accepts (size, version, display class, RGB, XYZ, "acsp"), no tags.
            var icc = PNGBuilder.be32(inflated) + [0, 0, 0, 0, 0x02, 0x10, 0, 0] + Array("mntrRGB XYZ ".utf8)
            icc += [UInt8](repeating: 0, count: 12) + Array("acsp".utf8)
            icc += [UInt8](repeating: 0, count: 132 - icc.count)
            let iccp = PNGBuilder.chunk("iCCP", Array("icc".utf8) + [0, 0] + PNGBuilder.zlib(icc, zeros: inflated - icc.count))

            var file = PNGBuilder.signature + PNGBuilder.ihdr(width: w, height: h, bitDepth: 8, colorType: 2, interlaced: false)
            file += PNGBuilder.chunk("eXIf", ExifParserTests.tiff(bigEndian: false, orientation: 6))
            file.reserveCapacity(file.count + 1800 * iccp.count + idat.count + 100)
            for _ in 0..<450 { file += ztxt; file += itxt; file += iccp; file += iccp }
            file += PNGBuilder.chunk("IDAT", idat) + PNGBuilder.chunk("IEND", [])
            return (file, pixels)
        }

        @Test(.timeLimit(.minutes(1)))
        func pngFullOfCompressedChunksDecodesWithoutInflatingThem() throws {
            let (file, pixels) = Self.compressedChunkBomb()
            #expect(file.count > 13_000_000 && file.count < 15_000_000)
            let header = try ImageCodec.readHeader(data: file, name: "bomb.png")
            #expect(
                header
                    == ImageHeader(format: .png, width: Self.bombWidth, height: Self.bombHeight, hasAlpha: false, isGray: false))
            let image = try ImageCodec.decode(data: file, name: "bomb.png")
            #expect(image.format == .rgb8 && image.width == Self.bombWidth && image.height == Self.bombHeight)
            #expect(image.bytes == pixels)

            // From a file: the probe, and the whole fit with the EXIF orientation read from the
            // raw bytes (the decoder skips eXIf).
            let dir = try TempDir()
            defer { dir.cleanup() }
            let path = dir.path("bomb.png")
            try Data(file).write(to: URL(fileURLWithPath: path))
            #expect(try ImageCodec.probe(path: path) == header)
            let fitter = ImageFitter(resolution: .p480)
            let fitted = try fitter.fit(path: path)
            #expect(fitted.sourceWidth == Self.bombHeight && fitted.sourceHeight == Self.bombWidth)
            let expected = try fitter.fit(
                PixelBuffer(width: Self.bombWidth, height: Self.bombHeight, format: .rgb8, bytes: pixels),
                orientation: .right)
            #expect(fitted.pixels == expected.pixels)
        }

        // MARK: - PNG formats through the regular libpng API

        /// Every colour type at 8 and 16 bits, interlaced or not, decodes to the samples written
        /// (16-bit ones scaled to 8 with rounding; no gAMA/sRGB chunk means sRGB, so no gamma change).
        @Test(arguments: [(0, 1), (2, 3), (4, 2), (6, 4)], [8, 16])
        func pngSamplesDecodeExactly(_ format: (colorType: Int, channels: Int), _ bitDepth: Int) throws {
            let w = 19, h = 13
            let samples = (0..<(w * h * format.channels)).map { i in (i * 37 + i / 7) % 256 }
            let wide = samples.map { bitDepth == 16 ? $0 * 257 : $0 }
            var decoded: [[UInt8]] = []
            for interlaced in [false, true] {
                let file = PNGBuilder.file([
                    PNGBuilder.ihdr(width: w, height: h, bitDepth: bitDepth, colorType: format.colorType, interlaced: interlaced),
                    PNGBuilder.chunk(
                        "IDAT",
                        PNGBuilder.zlib(
                            PNGBuilder.scanlines(
                                width: w, height: h, channels: format.channels, bitDepth: bitDepth, interlaced: interlaced,
                                samples: wide))),
                    PNGBuilder.chunk("IEND", []),
                ])
                let image = try ImageCodec.decode(data: file, name: "samples.png")
                #expect(image.width == w && image.height == h)
                decoded.append(image.bytes)
            }
            // Gray+alpha comes out as RGBA.
            var expected = samples.map { UInt8($0) }
            if format.colorType == 4 {
                expected = []
                for i in stride(from: 0, to: samples.count, by: 2) {
                    let gray = UInt8(samples[i])
                    expected += [gray, gray, gray, UInt8(samples[i + 1])]
                }
            }
            #expect(decoded[0] == expected, "non-interlaced")
            #expect(decoded[1] == expected, "interlaced")
        }

        /// A gAMA chunk is still honoured, the same way at 8 and 16 bits; and a palette with tRNS
        /// gives RGBA.
        @Test func pngGammaAndTransparencyAreHonoured() throws {
            let w = 16, h = 1
            let ramp = (0..<(w * 3)).map { $0 * 5 }
            func file(bitDepth: Int, gamma: Int) -> [UInt8] {
                PNGBuilder.file([
                    PNGBuilder.ihdr(width: w, height: h, bitDepth: bitDepth, colorType: 2, interlaced: false),
                    PNGBuilder.chunk("gAMA", PNGBuilder.be32(gamma)),
                    PNGBuilder.chunk(
                        "IDAT",
                        PNGBuilder.zlib(
                            PNGBuilder.scanlines(
                                width: w, height: h, channels: 3, bitDepth: bitDepth, interlaced: false,
                                samples: ramp.map { bitDepth == 16 ? $0 * 257 : $0 }))),
                    PNGBuilder.chunk("IEND", []),
                ])
            }
            let linear8 = try ImageCodec.decode(data: file(bitDepth: 8, gamma: 100_000), name: "linear8.png")
            let linear16 = try ImageCodec.decode(data: file(bitDepth: 16, gamma: 100_000), name: "linear16.png")
            // Linear light re-encoded as sRGB: brighter mid-tones.
            #expect(linear8.bytes[20] > UInt8(ramp[20]) + 30)
            #expect(zip(linear8.bytes, linear16.bytes).allSatisfy { abs(Int($0) - Int($1)) <= 1 })
            let srgb = try ImageCodec.decode(data: file(bitDepth: 8, gamma: 45455), name: "srgb.png")
            #expect(srgb.bytes == ramp.map { UInt8($0) })

            let palette = PNGBuilder.file([
                PNGBuilder.ihdr(width: 3, height: 1, bitDepth: 8, colorType: 3, interlaced: false),
                PNGBuilder.chunk("PLTE", [10, 20, 30, 40, 50, 60, 70, 80, 90]),
                PNGBuilder.chunk("tRNS", [0, 128]),
                PNGBuilder.chunk("IDAT", PNGBuilder.zlib([0, 2, 1, 0])),
                PNGBuilder.chunk("IEND", []),
            ])
            let image = try ImageCodec.decode(data: palette, name: "palette.png")
            #expect(image.format == .rgba8)
            #expect(image.bytes == [70, 80, 90, 255, 40, 50, 60, 128, 10, 20, 30, 0])
        }

        /// The 16-bit fixture has no gAMA chunk; it is the 8-bit portrait's picture, so it must
        /// decode to the same brightness as the 8-bit one of the same size (the simplified API took
        /// 16-bit samples without gAMA as linear light and brightened them: mean 155 against 114).
        @Test func sixteenBitFixtureMatchesTheEightBitOne() throws {
            let sixteen = try ImageCodec.decode(path: Fixture.path("portrait-16bit.png"))
            let eight = try ImageCodec.decode(path: Fixture.path("portrait-interlaced.png"))
            #expect(sixteen.width == eight.width && sixteen.height == eight.height && sixteen.format == eight.format)
            #expect(psnr(sixteen.bytes, eight.bytes) > 40)
        }

        // MARK: - JPEG

        /// Offset of the first SOF marker (FF C0...C2) of a JPEG.
        static func sofOffset(_ data: [UInt8]) -> Int {
            var i = 2
            while !(0xC0...0xC2).contains(data[i + 1]) { i += 2 + Int(data[i + 2]) << 8 + Int(data[i + 3]) }
            return i
        }

        /// The entropy-coded bytes of a JPEG's largest scan.
        static func largestScan(_ data: [UInt8]) -> Range<Int> {
            var best = 0..<0
            var i = 2
            while i + 3 < data.count {
                let marker = data[i + 1]
                if marker == 0xD9 { break }
                let start = i + 2 + Int(data[i + 2]) << 8 + Int(data[i + 3])
                if marker != 0xDA { i = start; continue }
                var end = start
                while !(data[end] == 0xFF && data[end + 1] != 0 && !(0xD0...0xD7).contains(data[end + 1])) { end += 1 }
                if end - start > best.count { best = start..<end }
                i = end
            }
            return best
        }

        static func expectRefused(
            _ data: [UInt8], _ name: String, _ reason: String, sourceLocation: SourceLocation = #_sourceLocation
        ) {
            do {
                _ = try ImageCodec.decode(data: data, name: name)
                Issue.record("\(name) decoded", sourceLocation: sourceLocation)
            } catch let error as MediaError {
                #expect(error.kind == .invalidData && error.isInputProblem, sourceLocation: sourceLocation)
                #expect(error.description.hasPrefix("\(name): invalid JPEG: "), "\(error)", sourceLocation: sourceLocation)
                #expect(error.description.contains(reason), "\(error)", sourceLocation: sourceLocation)
                #expect(!error.description.contains("\n"), sourceLocation: sourceLocation)
            } catch {
                Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
            }
        }

        /// A SOF that declares more pixels than the data holds used to decode to an image whose
        /// missing part libjpeg filled with gray.
        @Test(arguments: [
            ("portrait.jpg", 3840, 384, "corrupt data at row "), ("portrait.jpg", 384, 1536, "corrupt data at row "),
            ("portrait.jpg", 7000, 7000, "premature end of data segment"),
            ("portrait-progressive.jpg", 2560, 256, "premature end of data segment"),
        ])
        func jpegDeclaringMorePixelsThanItHoldsIsRefused(_ fixture: String, _ height: Int, _ width: Int, _ reason: String) throws
        {
            var data = try Fixture.bytes(fixture)
            let sof = Self.sofOffset(data)
            data.replaceSubrange(
                (sof + 5)..<(sof + 9), with: [UInt8(height >> 8), UInt8(height & 0xFF), UInt8(width >> 8), UInt8(width & 0xFF)])
            let header = try ImageCodec.readHeader(data: data, name: "enlarged.jpg")
            #expect(header.width == width && header.height == height)
            Self.expectRefused(data, "enlarged.jpg", reason)
        }

        @Test func jpegWithDamagedEntropyDataIsRefused() throws {
            let baseline = try Fixture.bytes("portrait.jpg")
            let scan = Self.largestScan(baseline)
            #expect(scan.count > 30000)
            // A lost 1 KB block in the middle of the scan.
            let middle = scan.lowerBound + scan.count / 2
            Self.expectRefused(
                Array(baseline[..<middle] + baseline[(middle + 1024)...]), "lost-block.jpg",
                "premature end of data segment")
            // A marker in the middle of the scan (here RST0, in a file without restart intervals).
            var marker = baseline
            marker.replaceSubrange(middle..<(middle + 2), with: [0xFF, 0xD0])
            Self.expectRefused(marker, "marker.jpg", "corrupt data at row ")
            // Garbage in a progressive scan: a run of one bits is no Huffman code.
            let progressive = try Fixture.bytes("portrait-progressive.jpg")
            let progressiveScan = Self.largestScan(progressive)
            var garbage = progressive
            let at = progressiveScan.lowerBound + progressiveScan.count / 2
            garbage.replaceSubrange(
                at..<(at + 64), with: [UInt8](repeating: 0, count: 64).enumerated().map { $0.offset % 2 == 0 ? 0xFF : 0 })
            Self.expectRefused(garbage, "garbage.jpg", "bad Huffman code")
        }

        /// Bytes libjpeg skips between header markers, and a little padding before EOI (some
        /// cameras write it), lose no pixel and are accepted; many bytes left over before EOI mean
        /// the decoder lost its place in the data.
        @Test func jpegPaddingIsAcceptedButLeftoverDataIsNot() throws {
            let original = try Fixture.bytes("portrait.jpg")
            let reference = try ImageCodec.decode(data: original, name: "portrait.jpg")
            #expect(original.suffix(2) == [0xFF, 0xD9])
            let padded = Array(original.dropLast(2)) + [0, 0, 0] + [0xFF, 0xD9]
            #expect(try ImageCodec.decode(data: padded, name: "padded.jpg") == reference)
            let headerGarbage = Array(original[..<20]) + [1, 2, 3, 4, 5] + Array(original[20...])  // after APP0
            #expect(try ImageCodec.decode(data: headerGarbage, name: "header-garbage.jpg") == reference)
            let leftover = Array(original.dropLast(2)) + [UInt8](repeating: 0x55, count: 40) + [0xFF, 0xD9]
            Self.expectRefused(leftover, "leftover.jpg", "extraneous bytes before marker 0xd9")
        }

        @Test(.timeLimit(.minutes(1))) func fitImageCommandRefusesCorruptImagesWithOneLine() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            var data = try Fixture.bytes("portrait.jpg")
            let sof = Self.sofOffset(data)
            data.replaceSubrange((sof + 5)..<(sof + 7), with: [0x0F, 0x00])  // 3840 rows
            let input = dir.path("tall.jpg"), output = dir.path("out.png")
            try Data(data).write(to: URL(fileURLWithPath: input))
            let result = try runProcess(infinistitchBinary, ["fit-image", input, "-o", output])
            #expect(result.status == 2)
            let err = String(decoding: result.stderr, as: UTF8.self)
            #expect(err.hasPrefix("infinistitch: \(input): invalid JPEG: corrupt data at row "), "\(err)")
            #expect(err.split(separator: "\n").count == 1)
            #expect(!FileManager.default.fileExists(atPath: output))
        }

        // MARK: - Probe

        @Test(arguments: [
            "portrait.png", "portrait.jpg", "portrait-16bit.png", "portrait-palette.png", "portrait-gray.jpg",
            "portrait-cmyk.jpg", "portrait-alpha.png", "portrait-gray-alpha.png", "portrait-exif6.jpg",
            "portrait-progressive.jpg", "truncated.jpg",
        ])
        func probeReadsTheHeaderOfEveryFixture(_ name: String) throws {
            #expect(
                try ImageCodec.probe(path: Fixture.path(name)) == ImageCodec.readHeader(data: Fixture.bytes(name), name: name))
        }

        @Test(arguments: [
            ("huge-header.png", MediaError.Kind.tooLarge, "over the limit"),
            ("not-an-image.png", .invalidData, "not a PNG or JPEG"),
            ("empty.png", .empty, "empty"), ("no-such-image.png", .cannotOpen, "no such file"),
            ("speech.mp3", .invalidData, "not a PNG"),
        ])
        func probeRefusesBadFiles(_ name: String, _ code: MediaError.Kind, _ reason: String) {
            let error = #expect(throws: MediaError.self) { try ImageCodec.probe(path: Fixture.path(name)) }
            #expect(error?.kind == code)
            #expect(
                error?.description.contains(name) == true && error?.description.contains(reason) == true,
                "\(String(describing: error))")
        }

        /// Headers further in than the first read (64 KB): the probe reads on until it has them.
        @Test func probeReadsOnPastLargeMetadata() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let jpeg = try Fixture.bytes("portrait.jpg")
            let comment = ExifParserTests.segment(0xFE, [UInt8](repeating: 0x41, count: 65000))
            let bigJPEG = Array(jpeg[..<2]) + Array(repeating: comment, count: 5).flatMap { $0 } + Array(jpeg[2...])
            try Data(bigJPEG).write(to: URL(fileURLWithPath: dir.path("big.jpg")))
            let jpegHeader = try ImageCodec.probe(path: dir.path("big.jpg"))
            #expect(jpegHeader.format == .jpeg && jpegHeader.width == 384 && jpegHeader.height == 384)

            let png = try Fixture.bytes("portrait.png")
            let text = PNGBuilder.chunk("tEXt", Array("Comment".utf8) + [0] + [UInt8](repeating: 0x41, count: 100_000))
            let bigPNG = Array(png[..<33]) + Array(repeating: text, count: 3).flatMap { $0 } + Array(png[33...])
            try Data(bigPNG).write(to: URL(fileURLWithPath: dir.path("big.png")))
            let pngHeader = try ImageCodec.probe(path: dir.path("big.png"))
            #expect(pngHeader.format == .png && pngHeader.width == 384 && pngHeader.height == 384)
            // Cut inside the header: refused, whatever the size of the first read.
            try Data(bigPNG[..<200_000]).write(to: URL(fileURLWithPath: dir.path("cut.png")))
            #expect(throws: MediaError.self) { try ImageCodec.probe(path: dir.path("cut.png")) }
        }
    }
}
