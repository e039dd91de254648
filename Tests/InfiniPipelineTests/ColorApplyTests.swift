import CFFmpeg
import Foundation
import Testing

@testable import InfiniPipeline

/// The colour correction's pixels (``LabColor/apply(_:to:)``: CVision's table of the map over a
/// 17×17×17 grid of YUV values, interpolated) against plain implementations written here in
/// double precision, on a real picture: Fixtures/portrait.png made into YUV 4:2:0.
@Suite("Colour correction: the pixels against plain references", .ownThreads)
struct ColorApplyTests {
    /// YUV code values ↔ R'G'B' (0…1) for one encoding, as the frame's properties say.
    struct Coding {
        let kr: Double, kb: Double, yOffset: Double, yScale: Double, cScale: Double
        var kg: Double { 1 - kr - kb }

        init(bt709: Bool, full: Bool) {
            (kr, kb) = bt709 ? (0.2126, 0.0722) : (0.299, 0.114)
            (yOffset, yScale, cScale) = full ? (0, 255, 255) : (16, 219, 224)
        }

        func rgb(_ y: Double, _ u: Double, _ v: Double) -> SIMD3<Double> {
            let yy = (y - yOffset) / yScale, cb = (u - 128) / cScale, cr = (v - 128) / cScale
            let r = yy + 2 * (1 - kr) * cr, b = yy + 2 * (1 - kb) * cb
            return SIMD3(r, (yy - kr * r - kb * b) / kg, b)
        }

        func yuv(_ rgb: SIMD3<Double>) -> SIMD3<Double> {
            let yy = kr * rgb.x + kg * rgb.y + kb * rgb.z
            return SIMD3(
                yOffset + yScale * yy, 128 + cScale * (rgb.z - yy) / (2 * (1 - kb)), 128 + cScale * (rgb.x - yy) / (2 * (1 - kr)))
        }
    }

    // sRGB primaries (rows: X, Y, Z of R, G, B and back), D65 white.
    static let toXYZ = [
        SIMD3(0.4124564, 0.3575761, 0.1804375), SIMD3(0.2126729, 0.7151522, 0.0721750), SIMD3(0.0193339, 0.1191920, 0.9503041),
    ]
    static let toRGB = [
        SIMD3(3.2404542, -1.5371385, -0.4985314), SIMD3(-0.9692660, 1.8760108, 0.0415560),
        SIMD3(0.0556434, -0.2040259, 1.0572252),
    ]
    static let white = SIMD3(0.95047, 1.0, 1.08883)

    /// The colour (y, u, v) mapped by `map` (rows of its matrix, offset) in Lab, exactly:
    /// R'G'B' → linear sRGB → XYZ → Lab (D65), the map, and back.
    static func exact(_ y: Double, _ u: Double, _ v: Double, _ map: [SIMD3<Double>], _ coding: Coding) -> SIMD3<Double> {
        func linear(_ c: Double) -> Double {
            let a = abs(c), l = a <= 0.04045 ? a / 12.92 : pow((a + 0.055) / 1.055, 2.4)
            return c < 0 ? -l : l
        }
        func encoded(_ l: Double) -> Double {
            let a = abs(l), c = a <= 0.0031308 ? a * 12.92 : 1.055 * pow(a, 1 / 2.4) - 0.055
            return l < 0 ? -c : c
        }
        let delta = 6.0 / 29.0
        func f(_ t: Double) -> Double { t > delta * delta * delta ? cbrt(t) : t / (3 * delta * delta) + 4.0 / 29.0 }
        func fInverse(_ f: Double) -> Double { f > delta ? f * f * f : 3 * delta * delta * (f - 4.0 / 29.0) }
        let e = coding.rgb(y, u, v), rgb = SIMD3(linear(e.x), linear(e.y), linear(e.z))
        let xyz = SIMD3((toXYZ[0] * rgb).sum(), (toXYZ[1] * rgb).sum(), (toXYZ[2] * rgb).sum()) / white
        let fs = SIMD3(f(xyz.x), f(xyz.y), f(xyz.z))
        let lab0 = SIMD3(116 * fs.y - 16, 500 * (fs.x - fs.y), 200 * (fs.y - fs.z))
        let lab = SIMD3((map[0] * lab0).sum(), (map[1] * lab0).sum(), (map[2] * lab0).sum()) + map[3]
        let fy = (lab.x + 16) / 116
        let back = white * SIMD3(fInverse(fy + lab.y / 500), fInverse(fy), fInverse(fy - lab.z / 200))
        let out = SIMD3((toRGB[0] * back).sum(), (toRGB[1] * back).sum(), (toRGB[2] * back).sum())
        return coding.yuv(SIMD3(encoded(out.x), encoded(out.y), encoded(out.z)))
    }

    /// `map` as `exact` takes it: the rows of its matrix, then its offset.
    static func rows(_ map: LabMap) -> [SIMD3<Double>] {
        (0..<3).map { SIMD3(map.matrix[3 * $0], map.matrix[3 * $0 + 1], map.matrix[3 * $0 + 2]) }
            + [SIMD3(map.offset[0], map.offset[1], map.offset[2])]
    }

    /// The map as the plain method does it: `exact` at the 17³ grid points, interpolated trilinearly.
    struct PlainTable {
        static let grid = 17
        let values: [SIMD3<Double>]

        init(_ map: LabMap, _ coding: Coding) {
            let n = Self.grid, step = 255.0 / Double(n - 1), rows = ColorApplyTests.rows(map)
            var values: [SIMD3<Double>] = []
            for iy in 0..<n {
                for iu in 0..<n {
                    for iv in 0..<n {
                        values.append(exact(Double(iy) * step, Double(iu) * step, Double(iv) * step, rows, coding))
                    }
                }
            }
            self.values = values
        }

        func callAsFunction(_ y: Double, _ u: Double, _ v: Double) -> SIMD3<Double> {
            let n = Self.grid
            func cell(_ x: Double) -> (Int, Double) {
                let p = x * Double(n - 1) / 255
                let i = min(n - 2, Int(p))
                return (i, p - Double(i))
            }
            let (iy, fy) = cell(y), (iu, fu) = cell(u), (iv, fv) = cell(v)
            func at(_ dy: Int, _ du: Int, _ dv: Int) -> SIMD3<Double> { values[((iy + dy) * n + iu + du) * n + iv + dv] }
            func plane(_ dy: Int) -> SIMD3<Double> {
                (at(dy, 0, 0) * (1 - fv) + at(dy, 0, 1) * fv) * (1 - fu) + (at(dy, 1, 0) * (1 - fv) + at(dy, 1, 1) * fv) * fu
            }
            return plane(0) * (1 - fy) + plane(1) * fy
        }
    }

    /// An 8-bit YUV 4:2:0 frame (its samples not yet written) whose properties say the encoding given.
    static func blank(width: Int, height: Int, bt709: Bool, full: Bool) throws -> Frame {
        let frame = try Frame.video(width: width, height: height, format: AV_PIX_FMT_YUV420P)
        frame.pointer.pointee.colorspace = bt709 ? AVCOL_SPC_BT709 : AVCOL_SPC_BT470BG
        frame.pointer.pointee.color_range = full ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG
        return frame
    }

    /// The portrait at half size (each pixel the mean of a 2×2 block), cropped to
    /// `width`×`height`, as an 8-bit YUV 4:2:0 frame in the encoding given (each chroma sample
    /// from its 2×2 block's mean R'G'B'), with the matching properties.
    static func frame(width: Int, height: Int, coding: Coding, bt709: Bool, full: Bool) throws -> Frame {
        let image = try ImageCodec.decode(path: Fixture.path("portrait.png"))
        #expect(image.format == .rgb8 && image.width >= 2 * width && image.height >= 2 * height)
        let rgb: [SIMD3<Double>] = (0..<(width * height)).map { k in
            var sum = SIMD3<Double>()
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let i = 3 * ((2 * (k / width) + dy) * image.width + 2 * (k % width) + dx)
                sum += SIMD3(Double(image.bytes[i]), Double(image.bytes[i + 1]), Double(image.bytes[i + 2]))
            }
            return sum / (4 * 255)
        }
        func byte(_ v: Double) -> UInt8 { UInt8(max(0, min(255, v.rounded()))) }
        let frame = try blank(width: width, height: height, bt709: bt709, full: full)
        frame.withPlanes { planes in
            for y in 0..<height {
                let row = planes.row(y, of: 0)
                for x in 0..<width { row[x] = byte(coding.yuv(rgb[y * width + x]).x) }
            }
            for cy in 0..<(height + 1) / 2 {
                for cx in 0..<(width + 1) / 2 {
                    let (x0, x1, y0, y1) = (2 * cx, min(2 * cx + 1, width - 1), 2 * cy, min(2 * cy + 1, height - 1))
                    let mean = (rgb[y0 * width + x0] + rgb[y0 * width + x1] + rgb[y1 * width + x0] + rgb[y1 * width + x1]) / 4
                    let yuv = coding.yuv(mean)
                    planes.row(cy, of: 1)[cx] = byte(yuv.y)
                    planes.row(cy, of: 2)[cx] = byte(yuv.z)
                }
            }
        }
        return frame
    }

    /// The three planes of `frame`, each tightly packed.
    static func planes(_ frame: Frame) -> [[UInt8]] {
        frame.withPlanes { planes in
            planes.sizes.enumerated().map { plane, size in (0..<size.rows).flatMap { Array(planes.row($0, of: plane)) } }
        }
    }

    /// The picture `planes` (`width`×`height`) mapped sample by sample with `value(y, u, v)`:
    /// each luma sample with its block's chroma, each chroma pair with its block's mean luma.
    static func mapped(
        _ planes: [[UInt8]], width: Int, height: Int, _ value: (Double, Double, Double) -> SIMD3<Double>
    ) -> [[UInt8]] {
        let cw = (width + 1) / 2
        func byte(_ v: Double) -> UInt8 { UInt8(max(0, min(255, v.rounded()))) }
        var out = planes
        for y in 0..<height {
            for x in 0..<width {
                let c = (y / 2) * cw + x / 2
                out[0][y * width + x] = byte(
                    value(Double(planes[0][y * width + x]), Double(planes[1][c]), Double(planes[2][c])).x)
            }
        }
        for cy in 0..<(height + 1) / 2 {
            for cx in 0..<cw {
                var sum = 0
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    sum += Int(planes[0][min(2 * cy + dy, height - 1) * width + min(2 * cx + dx, width - 1)])
                }
                let (u, v) = (Double(planes[1][cy * cw + cx]), Double(planes[2][cy * cw + cx]))
                let mapped = value(Double(sum) / 4, u, v)
                out[1][cy * cw + cx] = byte(mapped.y)
                out[2][cy * cw + cx] = byte(mapped.z)
            }
        }
        return out
    }

    /// The largest difference between two pictures' samples, and the share of samples that differ by more than 1.
    static func difference(_ a: [[UInt8]], _ b: [[UInt8]]) -> (largest: Int, overOne: Double) {
        var largest = 0, over = 0, count = 0
        for (p, q) in zip(a, b) {
            for (x, y) in zip(p, q) {
                let d = abs(Int(x) - Int(y))
                largest = max(largest, d)
                if d > 1 { over += 1 }
                count += 1
            }
        }
        return (largest, Double(over) / Double(max(1, count)))
    }

    /// Maps that move the picture's colours as drift corrections do: its mean by (dL, da, db)
    /// and its spread by `spread`, all the way or half of it.
    static func maps(for frame: Frame) throws -> [LabMap] {
        let stats = try LabColor.stats(of: frame, step: 1)
        return try [(-4.0, -3.0, -5.0, 0.8, 1.0), (3, 6, 8, 1.2, 0.5), (-10, -12, -15, 0.8, 1)].map {
            dL, da, db, spread, strength in
            var target = stats
            target.mean = [stats.mean[0] + dL, stats.mean[1] + da, stats.mean[2] + db]
            target.covariance = stats.covariance.map { $0 * spread }
            return try LabColor.transport(from: stats, to: target, strength: strength)
        }
    }

    /// Every sample of the corrected picture is within one code value of the plain table's
    /// (the same method, in double precision with pow and no shortcuts), in two encodings and
    /// at an odd size, and the map moves the picture: the shortcuts change nothing visible.
    @Test(arguments: [(false, false, 192, 192), (true, true, 191, 189)])
    func theCorrectionIsThePlainTablesWithinACodeValue(_ bt709: Bool, _ full: Bool, _ width: Int, _ height: Int) throws {
        let coding = Coding(bt709: bt709, full: full)
        let original = try Self.frame(width: width, height: height, coding: coding, bt709: bt709, full: full)
        let before = Self.planes(original)
        for map in try Self.maps(for: original) {
            // A second reference: the correction writes into a copy of the shared pixels.
            let frame = try original.newReference()
            try LabColor.apply(map, to: frame)
            let after = Self.planes(frame)
            let table = PlainTable(map, coding)
            let plain = Self.mapped(before, width: width, height: height) { table($0, $1, $2) }
            let (largest, _) = Self.difference(after, plain)
            #expect(largest <= 1, "\(map): a sample differs from the plain table's by \(largest)")
            #expect(Self.difference(after, before).largest >= 2, "\(map) must move the picture")
        }
        #expect(Self.planes(original) == before, "the shared pixels were changed")
    }

    /// Against the exact per-sample round trip through Lab, the table's interpolation error
    /// (of the 17³ grid) stays small: at most 6 code values for a strong map (ΔE ~20 of mean
    /// moved), at most 2 for a mild one (~ΔE 6), and over 1 for few samples.
    @Test func theCorrectionIsNearTheExactRoundTrip() throws {
        let coding = Coding(bt709: false, full: false)
        let frame = try Self.frame(width: 192, height: 192, coding: coding, bt709: false, full: false)
        let before = Self.planes(frame)
        for (index, map) in try Self.maps(for: frame).enumerated() {
            let copy = try frame.newReference()
            try LabColor.apply(map, to: copy)
            let rows = Self.rows(map)
            let exact = Self.mapped(before, width: 192, height: 192) { Self.exact($0, $1, $2, rows, coding) }
            let (largest, overOne) = Self.difference(Self.planes(copy), exact)
            #expect(largest <= (index == 0 ? 2 : 6) && overOne < 0.1, "\(map): \(largest), \(overOne) of samples over 1")
        }
    }

    /// The correction maps eight blocks at a time where the CPU has AVX2 and the rest of a row
    /// (its last blocks) one by one: both give the same samples. A picture repeating every 16
    /// luma columns (random samples, chroma as a face's) stays repeating once corrected, its
    /// last blocks (mapped one by one) equal to the first ones (eight at a time), in both encodings.
    @Test func everyBlockIsMappedAlikeWhereverItIs() throws {
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ range: ClosedRange<Int>) -> UInt8 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(range.lowerBound + Int(seed >> 33) % (range.count))
        }
        let (width, height, period) = (200, 36, 16)
        for (bt709, full) in [(false, false), (true, true)] {
            let coding = Coding(bt709: bt709, full: full)
            let frame = try Self.blank(width: width, height: height, bt709: bt709, full: full)
            frame.withPlanes { planes in
                for y in 0..<height {
                    let row = planes.row(y, of: 0)
                    for x in 0..<period { row[x] = next(0...255) }
                    for x in period..<width { row[x] = row[x - period] }
                }
                for plane in 1...2 {
                    for cy in 0..<height / 2 {
                        let row = planes.row(cy, of: plane)
                        for cx in 0..<period / 2 { row[cx] = next(plane == 1 ? 96...136 : 120...176) }
                        for cx in period / 2..<width / 2 { row[cx] = row[cx - period / 2] }
                    }
                }
            }
            let before = Self.planes(frame)
            let map = try Self.maps(for: try Self.frame(width: 64, height: 64, coding: coding, bt709: bt709, full: full))[2]
            try LabColor.apply(map, to: frame)
            let after = Self.planes(frame)
            #expect(Self.difference(after, before).largest >= 2, "the map must move the picture")
            for (plane, samples) in after.enumerated() {
                let (w, shift) = plane == 0 ? (width, period) : (width / 2, period / 2)
                let differing = (0..<samples.count).filter { $0 % w >= shift && samples[$0] != samples[$0 - shift] }
                #expect(differing.isEmpty, "plane \(plane): \(differing.count) samples differ from theirs a period before")
            }
        }
    }

    /// The identity map leaves every sample of every plane as it was (the frame is not touched).
    @Test func theIdentityLeavesThePictureBitIdentical() throws {
        for (bt709, full) in [(false, false), (true, true)] {
            let coding = Coding(bt709: bt709, full: full)
            let frame = try Self.frame(width: 191, height: 189, coding: coding, bt709: bt709, full: full)
            let before = Self.planes(frame)
            try LabColor.apply(LabMap(matrix: [1, 0, 0, 0, 1, 0, 0, 0, 1], offset: [0, 0, 0]), to: frame)
            #expect(Self.planes(frame) == before)
        }
    }

    /// A map that is not finite is refused with a reason, the frame left as it was.
    @Test func aMapThatIsNotFiniteIsRefused() throws {
        let coding = Coding(bt709: false, full: false)
        let frame = try Self.frame(width: 64, height: 64, coding: coding, bt709: false, full: false)
        let before = Self.planes(frame)
        let map = LabMap(matrix: [1, 0, 0, 0, .nan, 0, 0, 0, 1], offset: [0, 0, 0])
        #expect(throws: VisionError.self) { try LabColor.apply(map, to: frame) }
        #expect(Self.planes(frame) == before)
    }
}
