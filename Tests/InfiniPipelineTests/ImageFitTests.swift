// Tests for the image-fit stage: aspect buckets, compositing, resampling and the ImageFitter
// that ties them together (EXIF orientation: ExifOrientationTests.swift).

import Foundation
import Testing

@testable import InfiniPipeline

// MARK: - Helpers

/// An rgb8 image whose channel `c` at (x, y) is `value(x, y, c)`.
func rgbImage(width: Int, height: Int, _ value: (Int, Int, Int) -> UInt8) -> PixelBuffer {
    var bytes = [UInt8](repeating: 0, count: width * height * 3)
    bytes.withUnsafeMutableBufferPointer { p in
        var i = 0
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<3 { p[i] = value(x, y, c); i += 1 }
            }
        }
    }
    return PixelBuffer(width: width, height: height, format: .rgb8, bytes: bytes)
}

/// Largest absolute difference between two equally long byte arrays
/// (unsafe buffers keep debug-build tests quick).
func maxAbsDifference(_ a: [UInt8], _ b: [UInt8]) -> Int {
    precondition(a.count == b.count)
    return a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            var worst = 0
            for i in 0..<pa.count { worst = max(worst, abs(Int(pa[i]) - Int(pb[i]))) }
            return worst
        }
    }
}

/// A smooth test pattern: low-frequency sines, different per channel, well inside 0…255.
func smoothValue(_ x: Double, _ y: Double, _ c: Int) -> Double {
    let phase = Double(c) * 0.9
    return 128 + 60 * sin(2 * Double.pi * x / 71 + phase) * cos(2 * Double.pi * y / 97)
        + 30 * sin(2 * Double.pi * (x + y) / 113 + phase)
}

/// The test's own Lanczos-3 kernel (kept independent of the code under test).
func lanczos3(_ x: Double) -> Double {
    let ax = abs(x)
    if ax < 1e-12 { return 1 }
    if ax >= 3 { return 0 }
    let px = Double.pi * ax
    return 3 * sin(px) * sin(px / 3) / (px * px)
}

/// Direct, slow 2-D evaluation of the anti-aliased Lanczos-3 resample: every output pixel is
/// the normalised sum over all source pixels of L(dx/fx)·L(dy/fy), with no separation and no
/// Float or byte rounding in between.
func referenceLanczos(
    _ image: PixelBuffer, window: Resampler.Window,
    width: Int, height: Int
) -> [Double] {
    let sx = window.width / Double(width), sy = window.height / Double(height)
    let fx = max(sx, 1), fy = max(sy, 1)
    var out = [Double](repeating: 0, count: width * height * 3)
    for j in 0..<height {
        let cy = window.y + (Double(j) + 0.5) * sy
        for i in 0..<width {
            let cx = window.x + (Double(i) + 0.5) * sx
            var acc = [0.0, 0.0, 0.0]
            var total = 0.0
            for y in 0..<image.height {
                let wy = lanczos3((Double(y) + 0.5 - cy) / fy)
                if wy == 0 { continue }
                for x in 0..<image.width {
                    let w = wy * lanczos3((Double(x) + 0.5 - cx) / fx)
                    if w == 0 { continue }
                    total += w
                    for c in 0..<3 { acc[c] += w * Double(image.bytes[(y * image.width + x) * 3 + c]) }
                }
            }
            for c in 0..<3 { out[(j * width + i) * 3 + c] = min(max(acc[c] / total, 0), 255) }
        }
    }
    return out
}

/// Peak signal-to-noise ratio of bytes against a real-valued reference.
func psnr(_ bytes: [UInt8], _ reference: [Double]) -> Double {
    precondition(bytes.count == reference.count)
    var mse = 0.0
    for i in 0..<bytes.count { mse += (Double(bytes[i]) - reference[i]) * (Double(bytes[i]) - reference[i]) }
    mse /= Double(bytes.count)
    return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
}

func meanAndStdDev(_ bytes: [UInt8]) -> (mean: Double, std: Double) {
    let mean = bytes.reduce(0.0) { $0 + Double($1) } / Double(bytes.count)
    let variance = bytes.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(bytes.count)
    return (mean, variance.squareRoot())
}

// MARK: - Aspect buckets

@Suite("Aspect buckets", .ownThreads)
struct AspectBucketTests {
    /// (width:height of the source, resolution, expected bucket width, height).
    @Test(
        "common and extreme shapes pick the reference bucket",
        arguments: [
            (16, 9, InfiniTalk.Resolution.p480, 896, 448), (16, 9, .p720, 1280, 704),
            (9, 16, .p480, 448, 832), (9, 16, .p720, 704, 1280),
            (1, 1, .p480, 640, 640), (1, 1, .p720, 960, 960),
            (4, 3, .p480, 704, 576), (4, 3, .p720, 1088, 832),
            (3, 4, .p480, 576, 704), (3, 4, .p720, 832, 1088),
            (3, 2, .p480, 768, 512), (3, 2, .p720, 1216, 768),
            (2, 3, .p480, 512, 768), (2, 3, .p720, 768, 1152),
            (10, 1, .p480, 1216, 320), (10, 1, .p720, 2048, 448),
            (1, 10, .p480, 320, 1280), (1, 10, .p720, 512, 1920),
            (21, 9, .p480, 1024, 384), (21, 9, .p720, 1408, 640),
        ])
    func commonShapes(w: Int, h: Int, resolution: InfiniTalk.Resolution, bw: Int, bh: Int) {
        let bucket = AspectBuckets.bucket(width: w, height: h, resolution: resolution)
        #expect(bucket.width == bw && bucket.height == bh, "\(w):\(h) at \(resolution.rawValue) gave \(bucket)")
    }

    @Test func tablesMatchTheReference() {
        #expect(AspectBuckets.table480p.count == 15)
        #expect(AspectBuckets.table720p.count == 21)
        for resolution in InfiniTalk.Resolution.allCases {
            let table = AspectBuckets.table(for: resolution)
            for (a, b) in zip(table, table.dropFirst()) { #expect(a.key < b.key) }
            for bucket in table {
                #expect(bucket.width % 64 == 0 && bucket.height % 64 == 0, "\(bucket)")
                // Each key is the rounded h/w of its own size, to within the table's 2 decimals.
                #expect(abs(Double(bucket.height) / Double(bucket.width) - bucket.key) < 0.05, "\(bucket)")
            }
        }
        #expect(AspectBuckets.table480p[0] == AspectBuckets.Bucket(key: 0.26, width: 1216, height: 320))
        #expect(AspectBuckets.table720p.last == AspectBuckets.Bucket(key: 3.75, width: 512, height: 1920))
    }

    @Test func exactKeysSelectThemselves() {
        for resolution in InfiniTalk.Resolution.allCases {
            for bucket in AspectBuckets.table(for: resolution) {
                #expect(AspectBuckets.bucket(forAspect: bucket.key, resolution: resolution) == bucket)
            }
        }
    }

    @Test func exactTieGoesToTheFirstBucketInTableOrder() {
        // 2.25 is exactly halfway between 2.00 and 2.50 in binary floating point.
        let tie = AspectBuckets.bucket(forAspect: 2.25, resolution: .p480)
        #expect(tie.key == 2.00 && tie.width == 448 && tie.height == 896)
        #expect(AspectBuckets.bucket(forAspect: 2.25.nextUp, resolution: .p480).key == 2.50)
        #expect(AspectBuckets.bucket(forAspect: 2.25.nextDown, resolution: .p480).key == 2.00)
        // Every midpoint between neighbours that is an exact tie in Double resolves to the smaller key,
        // as Python's min() does; the next representable value above goes to the larger key.
        var exactTies = 0
        for resolution in InfiniTalk.Resolution.allCases {
            let table = AspectBuckets.table(for: resolution)
            for (a, b) in zip(table, table.dropFirst()) {
                let mid = (a.key + b.key) / 2
                guard abs(a.key - mid) == abs(b.key - mid) else { continue }
                exactTies += 1
                #expect(AspectBuckets.bucket(forAspect: mid, resolution: resolution) == a)
            }
        }
        #expect(exactTies >= 1)
    }

    @Test func outOfRangeRatiosClampToTheEnds() {
        #expect(AspectBuckets.bucket(forAspect: 0.001, resolution: .p480).key == 0.26)
        #expect(AspectBuckets.bucket(forAspect: 1000, resolution: .p480).key == 4.00)
        #expect(AspectBuckets.bucket(forAspect: 0.001, resolution: .p720).key == 0.22)
        #expect(AspectBuckets.bucket(forAspect: 1000, resolution: .p720).key == 3.75)
    }
}

// MARK: - Geometry (the reference's resize_and_centercrop)

/// Expected values computed with the reference's Python arithmetic:
/// `math.ceil(scale * h)` and torchvision `center_crop`'s `int(round((H - th) / 2.0))`.
struct GeometryCase: Sendable, CustomStringConvertible {
    let resolution: InfiniTalk.Resolution
    let w, h, tw, th, coverW, coverH, left, top: Int
    init(_ r: InfiniTalk.Resolution, _ w: Int, _ h: Int, _ tw: Int, _ th: Int, _ cw: Int, _ ch: Int, _ l: Int, _ t: Int) {
        resolution = r; self.w = w; self.h = h; self.tw = tw; self.th = th
        coverW = cw; coverH = ch; left = l; top = t
    }
    var description: String { "\(w)x\(h)@\(resolution.rawValue)" }
}

@Suite("Fit geometry", .ownThreads)
struct FitGeometryTests {
    static let cases: [GeometryCase] = [
        GeometryCase(.p480, 1920, 1080, 896, 448, 896, 504, 0, 28),
        GeometryCase(.p480, 1080, 1920, 448, 832, 468, 832, 10, 0),
        GeometryCase(.p480, 6000, 4000, 768, 512, 768, 512, 0, 0),
        GeometryCase(.p480, 4000, 6000, 512, 768, 512, 768, 0, 0),
        GeometryCase(.p480, 1000, 750, 704, 576, 768, 576, 32, 0),
        GeometryCase(.p480, 750, 1000, 576, 704, 576, 768, 0, 32),
        GeometryCase(.p480, 1001, 1000, 640, 640, 641, 640, 0, 0),
        GeometryCase(.p480, 100, 101, 640, 640, 640, 647, 0, 4),
        GeometryCase(.p480, 64, 157, 384, 960, 392, 961, 4, 0),  // ceil overshoot; round(0.5) = 0
        GeometryCase(.p480, 64, 74, 576, 704, 609, 704, 16, 0),  // round(16.5) = 16
        GeometryCase(.p480, 64, 75, 576, 704, 601, 704, 12, 0),  // round(12.5) = 12
        GeometryCase(.p480, 4032, 3024, 704, 576, 768, 576, 32, 0),
        GeometryCase(.p480, 3024, 4032, 576, 704, 576, 768, 0, 32),
        GeometryCase(.p480, 1280, 720, 896, 448, 896, 504, 0, 28),
        GeometryCase(.p480, 512, 512, 640, 640, 640, 640, 0, 0),
        GeometryCase(.p480, 640, 480, 704, 576, 768, 576, 32, 0),
        GeometryCase(.p480, 2000, 200, 1216, 320, 3200, 320, 992, 0),
        GeometryCase(.p480, 200, 2000, 320, 1280, 320, 3200, 0, 960),
        GeometryCase(.p480, 2716, 1299, 896, 448, 937, 448, 20, 0),
        GeometryCase(.p480, 3298, 459, 1216, 320, 2300, 320, 542, 0),
        GeometryCase(.p480, 657, 4453, 320, 1280, 320, 2169, 0, 444),
        GeometryCase(.p480, 835, 3059, 320, 1152, 320, 1173, 0, 10),
        GeometryCase(.p480, 4220, 1822, 1024, 384, 1024, 443, 0, 30),
        GeometryCase(.p480, 371, 768, 448, 896, 448, 928, 0, 16),
        GeometryCase(.p480, 3616, 3489, 640, 640, 664, 640, 12, 0),
        GeometryCase(.p480, 636, 2035, 384, 1088, 384, 1229, 0, 70),
        GeometryCase(.p720, 1920, 1080, 1280, 704, 1280, 720, 0, 8),
        GeometryCase(.p720, 1080, 1920, 704, 1280, 720, 1280, 8, 0),
        GeometryCase(.p720, 6000, 4000, 1216, 768, 1216, 811, 0, 22),
        GeometryCase(.p720, 4000, 6000, 768, 1152, 768, 1152, 0, 0),
        GeometryCase(.p720, 1000, 750, 1088, 832, 1110, 832, 11, 0),
        GeometryCase(.p720, 750, 1000, 832, 1088, 832, 1110, 0, 11),
        GeometryCase(.p720, 1001, 1000, 960, 960, 961, 960, 0, 0),
        GeometryCase(.p720, 100, 101, 960, 960, 960, 970, 0, 5),
        GeometryCase(.p720, 64, 157, 640, 1472, 640, 1570, 0, 49),
        GeometryCase(.p720, 64, 74, 896, 1024, 896, 1036, 0, 6),
        GeometryCase(.p720, 64, 75, 896, 1024, 896, 1050, 0, 13),
        GeometryCase(.p720, 4032, 3024, 1088, 832, 1110, 832, 11, 0),
        GeometryCase(.p720, 2000, 200, 2048, 448, 4480, 449, 1216, 0),  // ceil overshoot
        GeometryCase(.p720, 200, 2000, 512, 1920, 512, 5120, 0, 1600),
        GeometryCase(.p720, 2716, 1299, 1408, 640, 1409, 674, 0, 17),
        GeometryCase(.p720, 657, 4453, 512, 1920, 512, 3471, 0, 776),
        GeometryCase(.p720, 835, 3059, 512, 1856, 512, 1876, 0, 10),
        GeometryCase(.p720, 4838, 539, 2048, 448, 4022, 449, 987, 0),
        GeometryCase(.p720, 371, 768, 640, 1408, 681, 1408, 20, 0),
        GeometryCase(.p720, 3616, 3489, 960, 960, 995, 960, 18, 0),
        GeometryCase(.p720, 636, 2035, 576, 1664, 576, 1844, 0, 90),
        GeometryCase(.p720, 4696, 1078, 2048, 448, 2048, 471, 0, 12),
    ]

    @Test("matches the reference's Python arithmetic", arguments: cases)
    func matchesReference(_ c: GeometryCase) {
        let g = ImageFitter(resolution: c.resolution, cropAnchor: .center).geometry(sourceWidth: c.w, sourceHeight: c.h)
        #expect(g.bucket.width == c.tw && g.bucket.height == c.th)
        #expect(g.coverWidth == c.coverW && g.coverHeight == c.coverH)
        #expect(g.cropX == c.left && g.cropY == c.top)
        // The source window is the crop expressed in source pixels.
        let sx = Double(c.w) / Double(c.coverW), sy = Double(c.h) / Double(c.coverH)
        #expect(abs(g.sourceWindow.x - Double(c.left) * sx) < 1e-9)
        #expect(abs(g.sourceWindow.width - Double(c.tw) * sx) < 1e-9)
        #expect(abs(g.sourceWindow.y - Double(c.top) * sy) < 1e-9)
        #expect(abs(g.sourceWindow.height - Double(c.th) * sy) < 1e-9)
        #expect(g.sourceWindow.x + g.sourceWindow.width <= Double(c.w) + 1e-9)
        #expect(g.sourceWindow.y + g.sourceWindow.height <= Double(c.h) + 1e-9)
    }

    @Test func cropAnchorPlacesTheWindow() {
        var fitter = ImageFitter(resolution: .p480, aspect: ImageFitter.Aspect(width: 1, height: 1))
        fitter.cropAnchor = ImageFitter.CropAnchor(x: 0, y: 0)
        var g = fitter.geometry(sourceWidth: 6000, sourceHeight: 4000)
        #expect(g.bucket.width == 640 && g.bucket.height == 640)
        #expect(g.coverWidth == 960 && g.coverHeight == 640)
        #expect(g.cropX == 0 && g.cropY == 0 && g.sourceWindow.x == 0 && g.sourceWindow.y == 0)
        #expect(abs(g.sourceWindow.width - 4000) < 1e-9 && abs(g.sourceWindow.height - 4000) < 1e-9)
        fitter.cropAnchor = ImageFitter.CropAnchor(x: 1, y: 1)
        g = fitter.geometry(sourceWidth: 6000, sourceHeight: 4000)
        #expect(g.cropX == 320 && abs(g.sourceWindow.x - 2000) < 1e-9)
        fitter.cropAnchor = .center
        g = fitter.geometry(sourceWidth: 6000, sourceHeight: 4000)
        #expect(g.cropX == 160 && abs(g.sourceWindow.x - 1000) < 1e-9)
        fitter.cropAnchor = ImageFitter.CropAnchor(x: 0.5, y: 0.3)
        g = fitter.geometry(sourceWidth: 4000, sourceHeight: 6000)
        #expect(g.cropX == 0 && g.cropY == 96)  // 0.3 · (960 − 640)
    }

    @Test func forcedAspectOverridesTheImageShape() {
        let fitter = ImageFitter(resolution: .p480, aspect: try! ImageFitter.Aspect(parsing: "16:9"))
        let g = fitter.geometry(sourceWidth: 1000, sourceHeight: 1000)
        #expect(g.bucket.width == 896 && g.bucket.height == 448)
        let tall = ImageFitter(resolution: .p720, aspect: ImageFitter.Aspect(width: 9, height: 16))
        #expect(tall.bucket(sourceWidth: 3000, sourceHeight: 1000).height == 1280)
    }
}

// MARK: - Compositing

@Suite("Compositing", .ownThreads)
struct CompositingTests {
    @Test func parsesColours() throws {
        #expect(try RGBColor(parsing: "#FF8000") == RGBColor(red: 255, green: 128, blue: 0))
        #expect(try RGBColor(parsing: "ff8000") == RGBColor(red: 255, green: 128, blue: 0))
        #expect(try RGBColor(parsing: " #0a0B0c ") == RGBColor(red: 10, green: 11, blue: 12))
        #expect(try RGBColor(parsing: "white") == .white)
        #expect(try RGBColor(parsing: "Black") == .black)
        #expect(try RGBColor(parsing: "10,20,30") == RGBColor(red: 10, green: 20, blue: 30))
        #expect(try RGBColor(parsing: " 0 , 255,7 ") == RGBColor(red: 0, green: 255, blue: 7))
        #expect(RGBColor(red: 255, green: 128, blue: 0).description == "#FF8000")
    }

    @Test(
        "rejects bad colours, naming the value",
        arguments: ["", "#FFF", "red", "256,0,0", "1,2", "1,2,3,4", "gg0000", "-1,0,0", "+1,2,3", "#12345", "1,,3", "0x123456"])
    func rejectsBadColours(_ text: String) {
        #expect(throws: ImageFitError.invalidColor(text)) { try RGBColor(parsing: text) }
        let error = ImageFitError.invalidColor(text)
        #expect(error.kind == .invalidColor && error.option == "background" && error.value == text)
        #expect(error.description.hasPrefix("background \"\(text)\": ") && !error.description.contains("\n"))
        #expect(!error.description.contains("--"))
    }

    @Test func grayAndRGBToRGB() {
        let gray = PixelBuffer(width: 2, height: 2, format: .gray8, bytes: [0, 7, 128, 255])
        let rgb = gray.flattenedToRGB()
        #expect(rgb.format == .rgb8 && rgb.width == 2 && rgb.height == 2)
        #expect(rgb.bytes == [0, 0, 0, 7, 7, 7, 128, 128, 128, 255, 255, 255])
        let already = PixelBuffer(width: 1, height: 1, format: .rgb8, bytes: [1, 2, 3])
        #expect(already.flattenedToRGB(over: .black) == already)
    }

    @Test func alphaIsFlattenedOverTheBackground() {
        let background = RGBColor(red: 10, green: 200, blue: 255)
        var bytes: [UInt8] = []
        for alpha in 0...255 { bytes += [200, 100, 0, UInt8(alpha)] }
        let image = PixelBuffer(width: 256, height: 1, format: .rgba8, bytes: bytes)
        let out = image.flattenedToRGB(over: background)
        #expect(out.format == .rgb8 && out.width == 256)
        for alpha in 0...255 {
            let a = Double(alpha) / 255
            let expected = [200.0 * a + 10 * (1 - a), 100.0 * a + 200 * (1 - a), 0.0 * a + 255 * (1 - a)]
            for c in 0..<3 {
                #expect(out.bytes[alpha * 3 + c] == UInt8(expected[c].rounded()), "alpha \(alpha) channel \(c)")
            }
        }
        #expect(Array(out.bytes[0..<3]) == [10, 200, 255])  // fully transparent → background
        #expect(Array(out.bytes[255 * 3..<256 * 3]) == [200, 100, 0])  // opaque → unchanged
    }
}

// MARK: - Resampler

@Suite("Resampler", .ownThreads)
struct ResamplerTests {
    private static let smooth = rgbImage(width: 97, height: 83) { x, y, c in
        UInt8(smoothValue(Double(x), Double(y), c).rounded())
    }

    @Test(
        "agrees with a direct 2-D Lanczos evaluation",
        arguments: [
            (40, 30, Resampler.Window(x: 0, y: 0, width: 97, height: 83)),  // shrink ≈ 2.4×
            (13, 11, Resampler.Window(x: 0, y: 0, width: 97, height: 83)),  // shrink ≈ 7.5×
            (150, 120, Resampler.Window(x: 0, y: 0, width: 97, height: 83)),  // enlarge
            (31, 25, Resampler.Window(x: 17.3, y: 9.6, width: 55.1, height: 47.7)),  // fractional window
        ])
    func matchesDirectReference(width: Int, height: Int, window: Resampler.Window) {
        let out = Resampler.resample(Self.smooth, window: window, width: width, height: height)
        #expect(out.width == width && out.height == height && out.format == .rgb8)
        let reference = referenceLanczos(Self.smooth, window: window, width: width, height: height)
        let quality = psnr(out.bytes, reference)
        #expect(quality >= 40, "PSNR \(quality) dB")
        // Separable Float evaluation should differ from the exact value by rounding only.
        let worst = zip(out.bytes, reference).map { abs(Double($0) - $1) }.max() ?? 0
        #expect(worst <= 0.51, "max deviation \(worst)")
    }

    @Test func downscaleApproximatesTheContinuousImage() {
        // Source pixel k is the pattern sampled at its centre; a 4× shrink of this low-frequency
        // pattern should land close to the pattern at the output pixel centres.
        let big = rgbImage(width: 388, height: 332) { x, y, c in
            UInt8(smoothValue(Double(x) / 4, Double(y) / 4, c).rounded())
        }
        let out = Resampler.resample(big, width: 97, height: 83)
        let reference = (0..<(97 * 83 * 3)).map { i -> Double in
            let c = i % 3, p = i / 3
            // Output centre (i + ½)·4 in edge coordinates is source index 4i + 1.5, pattern coordinate i + 0.375.
            return smoothValue(Double(p % 97) + 0.375, Double(p / 97) + 0.375, c)
        }
        let quality = psnr(out.bytes, reference)
        #expect(quality >= 40, "PSNR \(quality) dB")
    }

    @Test("same size and scale 1 is the identity", arguments: ResamplingFilter.allCases)
    func identity(_ filter: ResamplingFilter) {
        var rng = TestRandom(seed: 99)
        let noise = rgbImage(width: 37, height: 23) { _, _, _ in rng.byte() }
        #expect(Resampler.resample(noise, width: 37, height: 23, filter: filter) == noise)
        // An integer-offset window at scale 1 is an exact crop.
        let crop = Resampler.resample(
            noise, window: Resampler.Window(x: 5, y: 3, width: 20, height: 12),
            width: 20, height: 12, filter: filter)
        let expected = rgbImage(width: 20, height: 12) { x, y, c in noise.bytes[((y + 3) * 37 + x + 5) * 3 + c] }
        #expect(crop == expected)
    }

    @Test("a constant image stays constant", arguments: ResamplingFilter.allCases)
    func constant(_ filter: ResamplingFilter) {
        let flat = PixelBuffer(
            width: 301, height: 157, format: .rgb8,
            bytes: (0..<(301 * 157)).flatMap { _ in [UInt8(200), 3, 255] })
        for (w, h, window) in [
            (64, 33, nil), (700, 400, nil), (50, 50, Resampler.Window(x: 12.25, y: 7.5, width: 99.9, height: 61.3)),
            (5, 3, nil), (301, 157, Resampler.Window(x: 0.5, y: 0.5, width: 301, height: 157)),
        ] as [(Int, Int, Resampler.Window?)] {
            let out = Resampler.resample(flat, window: window, width: w, height: h, filter: filter)
            var ok = true
            for p in stride(from: 0, to: out.bytes.count, by: 3)
            where out.bytes[p] != 200 || out.bytes[p + 1] != 3 || out.bytes[p + 2] != 255 {
                ok = false
            }
            #expect(ok, "\(filter) \(w)x\(h)")
        }
    }

    @Test("a fine checkerboard shrinks to flat gray, without aliasing", arguments: ResamplingFilter.allCases)
    func checkerboardDoesNotAlias(_ filter: ResamplingFilter) {
        let width = 640, height = 601
        var bytes = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in stride(from: (y + 1) % 2, to: width, by: 2) {
                bytes[(y * width + x) * 3] = 255; bytes[(y * width + x) * 3 + 1] = 255; bytes[(y * width + x) * 3 + 2] = 255
            }
        }
        let board = PixelBuffer(width: width, height: height, format: .rgb8, bytes: bytes)
        for (w, h) in [(37, 41), (64, 64), (213, 150)] {
            let out = Resampler.resample(board, width: w, height: h, filter: filter)
            // Ignore a two-pixel border where edge renormalisation legitimately differs.
            var inner: [UInt8] = []
            for y in 2..<(h - 2) { for x in 2..<(w - 2) { inner += out.bytes[((y * w + x) * 3)..<((y * w + x) * 3 + 3)] } }
            let stats = meanAndStdDev(inner)
            #expect(abs(stats.mean - 127.5) < 1, "\(filter) \(w)x\(h) mean \(stats.mean)")
            #expect(stats.std < 1, "\(filter) \(w)x\(h) std \(stats.std)")
            #expect(inner.allSatisfy { (126...129).contains($0) }, "\(filter) \(w)x\(h)")
        }
    }

    @Test func grayAndAlphaSourcesConvertWhileReading() {
        // Converting row by row must match flattening to rgb8 first (to within the byte rounding
        // the flatten-first route adds).
        var rng = TestRandom(seed: 11)
        let w = 90, h = 70
        let gray = PixelBuffer(width: w, height: h, format: .gray8, bytes: (0..<(w * h)).map { _ in rng.byte() })
        let rgba = PixelBuffer(width: w, height: h, format: .rgba8, bytes: (0..<(w * h * 4)).map { _ in rng.byte() })
        let background = RGBColor(red: 30, green: 140, blue: 250)
        let window = Resampler.Window(x: 3.5, y: 2, width: 80, height: 61)
        for (image, size) in [(gray, (33, 25)), (gray, (150, 120)), (rgba, (33, 25)), (rgba, (150, 120))] {
            let direct = Resampler.resample(image, window: window, width: size.0, height: size.1, background: background)
            let viaRGB = Resampler.resample(
                image.flattenedToRGB(over: background), window: window,
                width: size.0, height: size.1)
            #expect(direct.format == .rgb8)
            #expect(maxAbsDifference(direct.bytes, viaRGB.bytes) <= 1, "\(image.format) → \(size)")
        }
    }

    @Test func kernelWidensWhenShrinking() {
        // 6000 → 640 is a 9.375× shrink: Lanczos-3 must span about 2·3·9.375 source pixels.
        let shrink = ResampleWeights(inSize: 6000, outSize: 640, origin: 0, span: 6000, filter: .lanczos3)
        #expect(shrink.stride >= 56 && shrink.stride <= 58)
        let enlarge = ResampleWeights(inSize: 100, outSize: 640, origin: 0, span: 100, filter: .lanczos3)
        #expect(enlarge.stride <= 6)
        // Every output's weights are normalised.
        for j in [0, 1, 320, 639] {
            let sum = (0..<shrink.counts[j]).reduce(Float(0)) { $0 + shrink.weights[j * shrink.stride + $1] }
            #expect(abs(sum - 1) < 1e-5)
        }
    }

    @Test func parallelAndSerialAgree() {
        var rng = TestRandom(seed: 5)
        var bytes = [UInt8](repeating: 0, count: 1200 * 900 * 3)
        bytes.withUnsafeMutableBufferPointer { p in
            for i in stride(from: 0, to: p.count, by: 8) {
                var v = rng.next()
                for k in i..<min(i + 8, p.count) { p[k] = UInt8(truncatingIfNeeded: v); v >>= 8 }
            }
        }
        let noise = PixelBuffer(width: 1200, height: 900, format: .rgb8, bytes: bytes)
        let window = Resampler.Window(x: 100.5, y: 33, width: 900, height: 700)
        let serial = Resampler.resample(noise, window: window, width: 331, height: 257, parallel: false)
        let parallel = Resampler.resample(noise, window: window, width: 331, height: 257, parallel: true)
        #expect(serial == parallel)
    }

    @Test func windowEqualsResizeThenCrop() {
        // Resampling the crop window directly equals resizing to the covering size and cropping.
        let source = Self.smooth
        let coverW = 61, coverH = 52, tw = 40, th = 30, left = 11, top = 9
        let full = Resampler.resample(source, width: coverW, height: coverH)
        let sx = 97.0 / Double(coverW), sy = 83.0 / Double(coverH)
        let direct = Resampler.resample(
            source,
            window: Resampler.Window(
                x: Double(left) * sx, y: Double(top) * sy,
                width: Double(tw) * sx, height: Double(th) * sy),
            width: tw, height: th)
        var worst = 0
        for y in 0..<th {
            for x in 0..<tw {
                for c in 0..<3 {
                    let a = Int(full.bytes[((y + top) * coverW + x + left) * 3 + c])
                    let b = Int(direct.bytes[(y * tw + x) * 3 + c])
                    worst = max(worst, abs(a - b))
                }
            }
        }
        #expect(worst <= 1)
    }
}

// MARK: - ImageFitter

@Suite("ImageFitter", .ownThreads)
struct ImageFitterTests {
    @Test func outputIsExactlyTheBucket() throws {
        let cases: [(Int, Int, PixelBuffer.Format, InfiniTalk.Resolution, Int, Int)] = [
            (320, 180, .rgb8, .p480, 896, 448),
            (180, 320, .gray8, .p480, 448, 832),
            (200, 200, .rgba8, .p720, 960, 960),
            (400, 300, .rgb8, .p720, 1088, 832),
            (1000, 100, .rgb8, .p480, 1216, 320),
        ]
        for (w, h, format, resolution, bw, bh) in cases {
            let image = PixelBuffer(width: w, height: h, format: format, fill: 90)
            let fitted = try ImageFitter(resolution: resolution).fit(image)
            #expect(fitted.pixels.format == .rgb8)
            #expect(fitted.pixels.width == bw && fitted.pixels.height == bh, "\(w)x\(h)")
            #expect(fitted.bucket.width == bw && fitted.bucket.height == bh)
            #expect(fitted.sourceWidth == w && fitted.sourceHeight == h)
            if format != .rgba8 {
                #expect(maxAbsDifference(fitted.pixels.bytes, [UInt8](repeating: 90, count: fitted.pixels.bytes.count)) == 0)
            }
        }
    }

    @Test func transparentPixelsTakeTheBackground() throws {
        let clear = PixelBuffer(width: 100, height: 100, format: .rgba8, fill: 0)
        let fitter = ImageFitter(resolution: .p480, background: try RGBColor(parsing: "#102030"))
        let fitted = try fitter.fit(clear)
        #expect(fitted.pixels.width == 640)
        for p in stride(from: 0, to: fitted.pixels.bytes.count, by: 3) {
            guard fitted.pixels.bytes[p] == 0x10, fitted.pixels.bytes[p + 1] == 0x20, fitted.pixels.bytes[p + 2] == 0x30 else {
                Issue.record("pixel \(p / 3) is not the background"); return
            }
        }
        #expect(ImageFitter(resolution: .p480).background == .white)
    }

    @Test("orientation folded into resampling equals orienting first", arguments: ExifOrientation.allCases)
    func orientationEquivalence(_ orientation: ExifOrientation) throws {
        let stored = rgbImage(width: 150, height: 90) { x, y, c in
            UInt8((smoothValue(Double(x) * 1.7, Double(y) * 2.3, c) + Double(x % 7) * 3).rounded())
        }
        // Bilinear keeps this debug-build test quick; the window mapping is the same for every kernel.
        let fitter = ImageFitter(resolution: .p480, cropAnchor: ImageFitter.CropAnchor(x: 0.2, y: 0.7), filter: .bilinear)
        let folded = try fitter.fit(stored, orientation: orientation)
        let upright = stored.applying(orientation)
        let reference = try fitter.fit(upright)
        #expect(folded.sourceWidth == upright.width && folded.sourceHeight == upright.height)
        #expect(
            folded.bucket == reference.bucket && folded.pixels.width == reference.pixels.width
                && folded.pixels.height == reference.pixels.height)
        // Only the order of Float sums differs, so bytes may differ by one at most.
        let worst = maxAbsDifference(folded.pixels.bytes, reference.pixels.bytes)
        #expect(worst <= 1, "\(orientation): max difference \(worst)")
    }

    @Test func portraitFromARotatedPhoneShot() throws {
        // Stored landscape 160x90 with EXIF 6 is an upright 90x160 portrait.
        let stored = PixelBuffer(width: 160, height: 90, format: .rgb8, fill: 40)
        let fitted = try ImageFitter(resolution: .p480).fit(stored, orientation: .right)
        #expect(fitted.sourceWidth == 90 && fitted.sourceHeight == 160)
        #expect(fitted.pixels.width == 448 && fitted.pixels.height == 832)
    }

    @Test func cropAnchorChoosesWhichPartSurvives() throws {
        // Four vertical stripes, 100 px each: red, green, blue, white. Forced 1:1 keeps one quarter.
        let stripes: [[UInt8]] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]
        let image = rgbImage(width: 400, height: 100) { x, _, c in stripes[x / 100][c] }
        let square = ImageFitter.Aspect(width: 1, height: 1)
        func centreColumn(_ fitted: FittedImage) -> [UInt8] {
            let p = fitted.pixels, i = (p.height / 2 * p.width + p.width / 4) * 3
            return Array(p.bytes[i..<(i + 3)])
        }
        let left = try ImageFitter(resolution: .p480, aspect: square, cropAnchor: ImageFitter.CropAnchor(x: 0, y: 0)).fit(image)
        #expect(left.geometry.cropX == 0)
        #expect(centreColumn(left) == stripes[0])
        let right = try ImageFitter(resolution: .p480, aspect: square, cropAnchor: ImageFitter.CropAnchor(x: 1, y: 0)).fit(image)
        #expect(centreColumn(right) == stripes[3])
        // Top-left anchor on a tall image keeps the top rows.
        let bands = rgbImage(width: 100, height: 400) { _, y, c in stripes[y / 100][c] }
        let top = try ImageFitter(resolution: .p480, aspect: square, cropAnchor: ImageFitter.CropAnchor(x: 0, y: 0)).fit(bands)
        let p = top.pixels, i = (p.height / 4 * p.width + p.width / 2) * 3
        #expect(Array(p.bytes[i..<(i + 3)]) == stripes[0])
        // The whole left region survives with a 0,0 anchor: compare with a direct resample of it.
        let direct = Resampler.resample(
            image, window: Resampler.Window(x: 0, y: 0, width: 100, height: 100), width: 640, height: 640)
        #expect(left.pixels == direct)
    }

    @Test func refusesTinyImagesNamingTheSize() {
        let fitter = ImageFitter(resolution: .p480)
        #expect(throws: ImageFitError.imageTooSmall(width: 63, height: 500)) {
            try fitter.fit(PixelBuffer(width: 63, height: 500, format: .rgb8))
        }
        // The size named is the upright one.
        #expect(throws: ImageFitError.imageTooSmall(width: 40, height: 300)) {
            try fitter.fit(PixelBuffer(width: 300, height: 40, format: .gray8), orientation: .left)
        }
        let error = ImageFitError.imageTooSmall(width: 63, height: 500)
        #expect(error.description == "image is 63x500 pixels; it must be at least 64 pixels on each side")
        #expect(error.kind == .imageTooSmall && error.option == nil && error.file == nil)
        #expect(throws: Never.self) { try fitter.fit(PixelBuffer(width: 64, height: 64, format: .rgb8)) }
    }

    @Test func parsesAspect() throws {
        let a = try ImageFitter.Aspect(parsing: "16:9")
        #expect(a.width == 16 && a.height == 9 && abs(a.heightOverWidth - 0.5625) < 1e-12)
        #expect(a.description == "16:9")
        #expect(try ImageFitter.Aspect(parsing: " 2.39 : 1 ").width == 2.39)
        for bad in ["16x9", "16:", ":9", "0:1", "-1:2", "a:b", "16:9:1", "inf:1", "nan:1", ""] {
            #expect(throws: ImageFitError.invalidAspect(bad)) { try ImageFitter.Aspect(parsing: bad) }
        }
        let error = ImageFitError.invalidAspect("16x9")
        #expect(error.description == "aspect \"16x9\": expected W:H with two positive numbers, e.g. 16:9")
        #expect(error.kind == .invalidAspect && error.option == "aspect")
    }

    @Test func parsesCropAnchor() throws {
        let a = try ImageFitter.CropAnchor(parsing: "0.5,0.3")
        #expect(a.x == 0.5 && a.y == 0.3)
        #expect(try ImageFitter.CropAnchor(parsing: "0,0") == ImageFitter.CropAnchor(x: 0, y: 0))
        #expect(try ImageFitter.CropAnchor(parsing: " 1 , 1 ") == ImageFitter.CropAnchor(x: 1, y: 1))
        // The default finds the face; its fallback is the centre.
        #expect(ImageFitter(resolution: .p480).cropAnchor == .face)
        #expect(ImageFitter.CropAnchor.face.x == 0.5 && ImageFitter.CropAnchor.face.y == 0.5)
        for bad in ["2,0", "-0.1,0.5", "0.5,1.01"] {
            #expect(throws: ImageFitError.cropAnchorOutOfRange(bad)) { try ImageFitter.CropAnchor(parsing: bad) }
        }
        for bad in ["0.5", "a,b", "nan,0.5", "0.1,0.2,0.3", "", ",", "0.5;0.5"] {
            #expect(throws: ImageFitError.malformedCropAnchor(bad)) { try ImageFitter.CropAnchor(parsing: bad) }
        }
        let error = ImageFitError.cropAnchorOutOfRange("2,0")
        #expect(error.description == "cropAnchor \"2,0\": each fraction must be between 0 and 1")
        #expect(error.kind == .cropAnchorOutOfRange && error.option == "cropAnchor")
        let malformed = ImageFitError.malformedCropAnchor("a,b")
        #expect(malformed.kind == .malformedCropAnchor && malformed.option == "cropAnchor")
        switch malformed as any Error {
        case ImageFitError.Kind.malformedCropAnchor: break
        default: Issue.record("\(malformed) did not match .malformedCropAnchor")
        }
        #expect(!(ImageFitError.Kind.cropAnchorOutOfRange ~= malformed))
    }
}
