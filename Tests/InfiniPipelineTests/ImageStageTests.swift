import Foundation
import Testing

@testable import InfiniPipeline

extension Serial {
    /// The image stage on the committed fixtures: bucket, size and pixels against a float
    /// reference computed here, EXIF orientations, and every bad input.
    @Suite("Image stage on fixtures")
    struct ImageStageTests {
        /// Lanczos-3, written independently of the code under test.
        static func kernel(_ x: Double) -> Double {
            let ax = abs(x)
            if ax < 1e-12 { return 1 }
            if ax >= 3 { return 0 }
            return 3 * sin(Double.pi * ax) * sin(Double.pi * ax / 3) / (Double.pi * Double.pi * ax * ax)
        }

        /// Separable anti-aliased Lanczos-3 in Double precision over a source window.
        static func reference(_ rgb: [Double], width: Int, height: Int, window: Resampler.Window, outW: Int, outH: Int)
            -> [Double]
        {
            func weights(_ n: Int, _ start: Double, _ length: Double, _ size: Int) -> [[(Int, Double)]] {
                let scale = length / Double(n), support = max(scale, 1)
                return (0..<n).map { i in
                    let center = start + (Double(i) + 0.5) * scale
                    let lo = max(0, Int((center - 3 * support).rounded(.down))),
                        hi = min(size - 1, Int((center + 3 * support).rounded(.up)))
                    var taps: [(Int, Double)] = []
                    var sum = 0.0
                    for s in lo...hi {
                        let w = kernel((Double(s) + 0.5 - center) / support)
                        if w != 0 { taps.append((s, w)); sum += w }
                    }
                    return taps.map { ($0.0, $0.1 / sum) }
                }
            }
            let wx = weights(outW, window.x, window.width, width), wy = weights(outH, window.y, window.height, height)
            var horizontal = [Double](repeating: 0, count: outW * height * 3)
            for y in 0..<height {
                for i in 0..<outW {
                    for c in 0..<3 {
                        var acc = 0.0
                        for (s, w) in wx[i] { acc += w * rgb[(y * width + s) * 3 + c] }
                        horizontal[(y * outW + i) * 3 + c] = acc
                    }
                }
            }
            var out = [Double](repeating: 0, count: outW * outH * 3)
            for j in 0..<outH {
                for i in 0..<outW {
                    for c in 0..<3 {
                        var acc = 0.0
                        for (s, w) in wy[j] { acc += w * horizontal[(s * outW + i) * 3 + c] }
                        out[(j * outW + i) * 3 + c] = min(255, max(0, acc))
                    }
                }
            }
            return out
        }

        /// Decoded pixels as Double RGB, alpha flattened over white, written independently.
        static func rgbDoubles(_ image: PixelBuffer) -> [Double] {
            var out = [Double](repeating: 0, count: image.width * image.height * 3)
            for p in 0..<(image.width * image.height) {
                switch image.format {
                case .gray8:
                    for c in 0..<3 { out[p * 3 + c] = Double(image.bytes[p]) }
                case .rgb8:
                    for c in 0..<3 { out[p * 3 + c] = Double(image.bytes[p * 3 + c]) }
                case .rgba8:
                    let a = Double(image.bytes[p * 4 + 3]) / 255
                    for c in 0..<3 { out[p * 3 + c] = Double(image.bytes[p * 4 + c]) * a + 255 * (1 - a) }
                }
            }
            return out
        }

        static func psnrAgainst(_ bytes: [UInt8], _ reference: [Double]) -> Double {
            var mse = 0.0
            for i in 0..<bytes.count { mse += (Double(bytes[i]) - reference[i]) * (Double(bytes[i]) - reference[i]) }
            mse /= Double(bytes.count)
            return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
        }

        @Test(arguments: [
            ("portrait.png", 640, 640), ("portrait.jpg", 640, 640), ("portrait-wide.jpg", 896, 448),
            ("portrait-tall.png", 448, 832), ("portrait-alpha.png", 640, 640), ("portrait-gray.jpg", 640, 640),
            ("portrait-progressive.jpg", 640, 640), ("portrait-cmyk.jpg", 640, 640), ("portrait-16bit.png", 640, 640),
            ("portrait-palette.png", 640, 640), ("portrait-gray.png", 640, 640), ("portrait-gray-alpha.png", 640, 640),
            ("portrait-interlaced.png", 640, 640),
        ])
        func fixtureFitsItsBucketWithReferencePixels(_ name: String, _ width: Int, _ height: Int) throws {
            let fitter = ImageFitter(resolution: .p480, cropAnchor: .center)
            let fitted = try fitter.fit(path: Fixture.path(name))
            #expect(fitted.bucket.width == width && fitted.bucket.height == height)
            #expect(fitted.pixels.width == width && fitted.pixels.height == height && fitted.pixels.format == .rgb8)
            let decoded = try ImageCodec.decode(path: Fixture.path(name))
            let geometry = fitter.geometry(sourceWidth: decoded.width, sourceHeight: decoded.height)
            let reference = Self.reference(
                Self.rgbDoubles(decoded), width: decoded.width, height: decoded.height,
                window: geometry.sourceWindow, outW: width, outH: height)
            #expect(Self.psnrAgainst(fitted.pixels.bytes, reference) >= 40, "\(name)")
        }

        @Test func sevenTwentyPBuckets() throws {
            let fitter = ImageFitter(resolution: .p720)
            #expect(try fitter.fit(path: Fixture.path("portrait.jpg")).bucket.width == 960)
            let wide = try fitter.fit(path: Fixture.path("portrait-wide.jpg"))
            #expect(wide.bucket.width == 1280 && wide.bucket.height == 704)
        }

        @Test func everyExifOrientationGivesTheSameUprightResult() throws {
            let fitter = ImageFitter(resolution: .p480)
            let upright = try fitter.fit(path: Fixture.path("orient-upright.png"))
            for n in 1...8 {
                let fitted = try fitter.fit(path: Fixture.path("orient-\(n).jpg"))
                #expect(fitted.sourceWidth == 96 && fitted.sourceHeight == 64, "orient-\(n)")
                #expect(fitted.pixels.width == upright.pixels.width && fitted.pixels.height == upright.pixels.height)
                #expect(psnr(fitted.pixels.bytes, upright.pixels.bytes) > 30, "orient-\(n)")
            }
            let exif6 = try fitter.fit(path: Fixture.path("portrait-exif6.jpg"))
            #expect(exif6.sourceWidth == 384 && exif6.sourceHeight == 256)
        }

        @Test func aTinyImageFileIsRefusedNamingTheFile() {
            let path = Fixture.path("tiny.png")
            do {
                _ = try ImageFitter(resolution: .p480).fit(path: path)
                Issue.record("tiny.png was fitted")
            } catch let error as ImageFitError {
                #expect(error.kind == .imageTooSmall && error.file == path && error.option == nil)
                #expect(error.description.hasPrefix("\(path): image is "), "\(error)")
                #expect(error.description.hasSuffix("it must be at least 64 pixels on each side"))
            } catch {
                Issue.record("unexpected error \(error)")
            }
        }

        /// What an app gets without the codec: the fitted frame as PNG or JPEG bytes.
        @Test func fittedImagesEncodeAsPNGAndJPEG() throws {
            let fitted = try ImageFitter(resolution: .p480).fit(path: Fixture.path("portrait.png"))
            let png = try fitted.pngData()
            #expect(try ImageCodec.decode(data: [UInt8](png), name: "fitted.png") == fitted.pixels)
            let jpeg = try fitted.jpegData(quality: 95)
            let decoded = try ImageCodec.decode(data: [UInt8](jpeg), name: "fitted.jpg")
            #expect(decoded.width == fitted.pixels.width && decoded.height == fitted.pixels.height)
            #expect(psnr(decoded.bytes, fitted.pixels.bytes) > 35)
            // Out-of-range qualities are clamped, not passed to libjpeg.
            #expect(try fitted.jpegData(quality: 0).count < jpeg.count)
            #expect(try !fitted.jpegData(quality: 1000).isEmpty)
        }

        @Test(
            .timeLimit(.minutes(1)),
            arguments: [
                ("tiny.png", "at least 64 pixels"), ("huge-header.png", "over the limit"), ("truncated.jpg", "ends early"),
                ("truncated.png", "truncated.png"), ("not-an-image.png", "not a PNG or JPEG"), ("empty.png", "empty"),
                ("speech.mp3", "not a PNG or JPEG"), ("no-such.png", "no such file"),
            ])
        func badImagesGiveOneClearLine(_ name: String, _ reason: String) throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let out = dir.path("out.png")
            let result = try runProcess(infinistitchBinary, ["fit-image", Fixture.path(name), "-o", out])
            #expect(result.status == 2)
            let err = String(decoding: result.stderr, as: UTF8.self)
            #expect(err.contains(name) && err.contains(reason), "\(err)")
            #expect(err.split(separator: "\n").count == 1)
            #expect(!FileManager.default.fileExists(atPath: out))
        }

        @Test(.timeLimit(.minutes(1))) func fitImageCommandWritesPNGAndJPEG() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let png = try runProcess(
                infinistitchBinary, ["fit-image", Fixture.path("portrait-wide.jpg"), "-o", dir.path("a.png")])
            #expect(png.status == 0)
            #expect(String(decoding: png.stdout, as: UTF8.self).contains("896x448"))
            let a = try ImageCodec.decode(path: dir.path("a.png"))
            #expect(a.width == 896 && a.height == 448)
            let jpg = try runProcess(
                infinistitchBinary,
                [
                    "fit-image", Fixture.path("portrait.png"), "--resolution", "720p",
                    "--aspect", "9:16", "--crop-anchor", "0.5,0.2", "--quality", "80",
                    "-o", dir.path("b.jpg"),
                ])
            #expect(jpg.status == 0)
            let b = try ImageCodec.decode(path: dir.path("b.jpg"))
            #expect(b.width == 704 && b.height == 1280)
            let bad = try runProcess(
                infinistitchBinary, ["fit-image", Fixture.path("portrait.png"), "--crop-anchor", "2,0", "-o", dir.path("c.png")])
            #expect(bad.status == 2)
            #expect(String(decoding: bad.stderr, as: UTF8.self).contains("--crop-anchor"))
        }
    }
}

@Suite("Large JPEGs", .ownThreads)
struct LargeJPEGTests {
    /// A large photo is decoded shrunk in the DCT domain; the result must match fitting the
    /// full decode, with the bucket of the full size.
    @Test func shrunkDecodeMatchesFullDecode() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        var pixels = PixelBuffer(width: 3000, height: 2000, format: .rgb8)
        for y in 0..<2000 {
            for x in 0..<3000 {
                let i = (y * 3000 + x) * 3
                pixels.bytes[i] = UInt8(128 + 100 * sin(Double(x) / 97))
                pixels.bytes[i + 1] = UInt8(128 + 100 * cos(Double(y) / 61))
                pixels.bytes[i + 2] = UInt8((x + y) / 20 % 256)
            }
        }
        let path = dir.path("large.jpg")
        try Data(try ImageCodec.encodeJPEG(pixels, quality: 90)).write(to: URL(fileURLWithPath: path))
        let fitter = ImageFitter(resolution: .p480)
        let fast = try fitter.fit(path: path)
        let full = try fitter.fit(ImageCodec.decode(path: path))
        #expect(fast.bucket == full.bucket)
        #expect(fast.sourceWidth == 3000 && fast.sourceHeight == 2000)
        #expect(fast.pixels.width == full.pixels.width && fast.pixels.height == full.pixels.height)
        #expect(psnr(fast.pixels.bytes, full.pixels.bytes) > 35)
        let shrunk = try ImageCodec.decode(data: try Fixture.bytes("portrait.jpg"), name: "portrait.jpg", atLeast: (96, 96))
        #expect(shrunk.width == 96 && shrunk.height == 96)
    }
}
