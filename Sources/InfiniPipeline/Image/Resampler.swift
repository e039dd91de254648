// InfiniPipeline: separable, anti-aliased resampling to rgb8.

import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The reconstruction kernel ``ImageFitter`` resamples with.
public enum ResamplingFilter: String, Sendable, Codable, CaseIterable {
    /// Lanczos windowed sinc with three lobes (support 3). Sharpest; the default.
    case lanczos3
    /// Catmull-Rom cubic (Keys cubic with a = −0.5, support 2).
    case catmullRom
    /// Triangle (bilinear, support 1): what the reference's `PIL.Image.resize(BILINEAR)` uses.
    case bilinear

    /// Half-width of the kernel, in output pixels (source pixels when enlarging).
    var support: Double {
        switch self {
        case .lanczos3: return 3
        case .catmullRom: return 2
        case .bilinear: return 1
        }
    }

    /// The kernel's value at distance `x` (in units of the kernel's own pixel spacing).
    func weight(_ x: Double) -> Double {
        let ax = abs(x)
        switch self {
        case .lanczos3:
            if ax < 1e-12 { return 1 }
            if ax >= 3 { return 0 }
            let px = Double.pi * ax
            return 3 * sin(px) * sin(px / 3) / (px * px)
        case .catmullRom:
            if ax < 1 { return (1.5 * ax - 2.5) * ax * ax + 1 }
            if ax < 2 { return ((-0.5 * ax + 2.5) * ax - 4) * ax + 2 }
            return 0
        case .bilinear:
            return ax < 1 ? 1 - ax : 0
        }
    }
}

/// Per-axis resampling taps: for each output index, a run of consecutive source indices and
/// their normalised weights.
struct ResampleWeights: Sendable {
    /// First source index of each output's run.
    var starts: [Int]
    /// Number of taps in each output's run.
    var counts: [Int]
    /// Distance between consecutive outputs' weight runs in `weights`.
    var stride: Int
    /// `starts.count * stride` weights; entries past an output's `count` are zero.
    var weights: [Float]
    /// Smallest source index any output reads.
    var lowestSource: Int
    /// One past the largest source index any output reads.
    var highestSource: Int

    /// Builds the taps mapping `outSize` outputs onto the source span
    /// `[origin, origin + span)` of an axis with `inSize` pixels.
    ///
    /// Output `j` is centred at `origin + (j + ½)·span/outSize` in pixel-edge coordinates
    /// (source pixel `k` is centred at `k + ½`). When shrinking, the kernel is widened by the
    /// scale factor so it low-pass filters to the output's Nyquist limit. Taps that fall
    /// outside the image are dropped and the rest renormalised (edge clamp).
    init(inSize: Int, outSize: Int, origin: Double, span: Double, filter: ResamplingFilter) {
        precondition(inSize > 0 && outSize > 0 && span > 0)
        let scale = span / Double(outSize)
        let filterScale = max(scale, 1)
        let support = filter.support * filterScale
        let maxTaps = Int((2 * support).rounded(.up)) + 2
        var starts = [Int](repeating: 0, count: outSize)
        var counts = [Int](repeating: 0, count: outSize)
        var table = [Float](repeating: 0, count: outSize * maxTaps)
        var scratch = [Double](repeating: 0, count: maxTaps)
        var lowest = Int.max, highest = Int.min
        var widest = 1
        for j in 0..<outSize {
            let center = origin + (Double(j) + 0.5) * scale
            var lo = Int((center - support - 0.5).rounded(.down))
            var hi = Int((center + support - 0.5).rounded(.up))  // inclusive
            lo = max(lo, 0)
            hi = min(hi, inSize - 1)
            var first = -1, last = -1
            var total = 0.0
            if lo <= hi {
                for k in lo...hi {
                    let w = filter.weight((Double(k) + 0.5 - center) / filterScale)
                    scratch[k - lo] = w
                    if w != 0 {
                        if first < 0 { first = k }
                        last = k
                        total += w
                    }
                }
            }
            if first < 0 || abs(total) < 1e-12 {
                // No usable tap (the window lies off the image): take the nearest edge pixel.
                let k = min(max(Int(center.rounded(.down)), 0), inSize - 1)
                starts[j] = k
                counts[j] = 1
                table[j * maxTaps] = 1
                lowest = min(lowest, k)
                highest = max(highest, k + 1)
                continue
            }
            starts[j] = first
            counts[j] = last - first + 1
            widest = max(widest, counts[j])
            for k in first...last {
                table[j * maxTaps + (k - first)] = Float(scratch[k - lo] / total)
            }
            lowest = min(lowest, first)
            highest = max(highest, last + 1)
        }
        // Repack with the tightest stride.
        if widest < maxTaps {
            var packed = [Float](repeating: 0, count: outSize * widest)
            for j in 0..<outSize {
                for k in 0..<counts[j] { packed[j * widest + k] = table[j * maxTaps + k] }
            }
            table = packed
        }
        self.starts = starts
        self.counts = counts
        self.stride = widest
        self.weights = table
        self.lowestSource = lowest
        self.highestSource = highest
    }
}

/// High-quality separable resampling to rgb8.
///
/// Each output pixel is a normalised weighted sum of source pixels under the chosen
/// ``ResamplingFilter``; when shrinking, the kernel is widened by the shrink factor so the
/// result is free of aliasing. Work runs as a horizontal pass into a `Float` intermediate
/// restricted to the source rows the output needs, then a vertical pass, both split across
/// cores. Results are rounded to nearest and clamped to 0…255.
///
/// gray8 and rgba8 sources are converted while each row is read (gray widened to three
/// channels, straight alpha composited over a background), so no full-size rgb8 copy of a
/// large photo is ever made.
enum Resampler {
    /// A region of the source image in pixel-edge coordinates (pixel `(i, j)` covers
    /// `[i, i+1) × [j, j+1)`); fractional values are allowed.
    struct Window: Sendable, Hashable {
        /// Left edge, in source pixels.
        var x: Double
        /// Top edge, in source pixels.
        var y: Double
        /// Width, in source pixels (> 0).
        var width: Double
        /// Height, in source pixels (> 0).
        var height: Double
    }

    /// Resamples `window` of `image` to exactly `width` × `height` pixels.
    ///
    /// Output pixel `(i, j)` samples the source at
    /// `(window.x + (i + ½)·window.width/width, window.y + (j + ½)·window.height/height)`,
    /// so resampling a window of a larger virtual image equals resizing the whole image and
    /// cropping, without paying for the pixels that would be cropped away. Source pixels just
    /// outside the window still contribute through the kernel, exactly as they would before
    /// a crop.
    ///
    /// - Parameters:
    ///   - image: The source, any ``PixelBuffer/Format``, with at least one pixel.
    ///   - window: The source region to map onto the output; `nil` means the whole image.
    ///   - width: Output width (> 0).
    ///   - height: Output height (> 0).
    ///   - filter: The kernel; Lanczos-3 by default.
    ///   - background: What rgba8 pixels are composited over (`c·α + bg·(1 − α)`, before
    ///     filtering); ignored for other formats.
    ///   - parallel: Whether to split rows across cores (`false` for deterministic profiling;
    ///     results are identical either way).
    /// - Returns: An rgb8 image of `width` × `height`.
    /// - Precondition: A non-empty image, a finite window of positive
    ///   size, positive output size. A window reaching past the image edges is allowed: edge
    ///   taps are dropped and the rest renormalised.
    static func resample(
        _ image: PixelBuffer, window: Window? = nil,
        width: Int, height: Int,
        filter: ResamplingFilter = .lanczos3,
        background: RGBColor = .white,
        parallel: Bool = true
    ) -> PixelBuffer {
        precondition(image.width > 0 && image.height > 0, "Resampler: empty source image")
        precondition(width > 0 && height > 0, "Resampler: output size must be positive")
        let win = window ?? Window(x: 0, y: 0, width: Double(image.width), height: Double(image.height))
        precondition(
            win.width > 0 && win.height > 0 && win.width.isFinite && win.height.isFinite
                && win.x.isFinite && win.y.isFinite,
            "Resampler: window must be finite with positive size")

        let horizontal = ResampleWeights(
            inSize: image.width, outSize: width,
            origin: win.x, span: win.width, filter: filter)
        let vertical = ResampleWeights(
            inSize: image.height, outSize: height,
            origin: win.y, span: win.height, filter: filter)
        let firstRow = vertical.lowestSource
        let rowCount = vertical.highestSource - firstRow
        let rowLength = width * 3
        var intermediate = [Float](repeating: 0, count: rowCount * rowLength)
        var output = [UInt8](repeating: 0, count: width * height * 3)

        // Rough multiply-add counts decide whether threads are worth their start-up cost.
        let horizontalWork = rowCount * width * horizontal.stride
        let verticalWork = height * width * vertical.stride
        image.bytes.withUnsafeBufferPointer { source in
            intermediate.withUnsafeMutableBufferPointer { mid in
                output.withUnsafeMutableBufferPointer { out in
                    horizontal.withPointers { hStarts, hCounts, hWeights in
                        let job = HorizontalPass(
                            source: source.baseAddress!, channels: image.format.channels,
                            sourceStride: image.rowStride, firstRow: firstRow,
                            background: SIMD3(Float(background.red), Float(background.green), Float(background.blue)),
                            firstColumn: horizontal.lowestSource,
                            columnCount: horizontal.highestSource - horizontal.lowestSource,
                            mid: mid.baseAddress!, outWidth: width,
                            starts: hStarts, counts: hCounts, weights: hWeights, stride: horizontal.stride)
                        forEachChunk(of: rowCount, parallel: parallel && horizontalWork > 1 << 20) { rows in
                            job.run(rows)
                        }
                    }
                    vertical.withPointers { vStarts, vCounts, vWeights in
                        let job = VerticalPass(
                            mid: mid.baseAddress!, firstRow: firstRow, rowLength: rowLength, out: out.baseAddress!,
                            starts: vStarts, counts: vCounts, weights: vWeights, stride: vertical.stride)
                        forEachChunk(of: height, parallel: parallel && verticalWork > 1 << 20) { rows in
                            job.run(rows)
                        }
                    }
                }
            }
        }
        return PixelBuffer(width: width, height: height, format: .rgb8, bytes: output)
    }

    /// Runs `body` over `0..<count` split into contiguous chunks, concurrently if asked.
    private static func forEachChunk(of count: Int, parallel: Bool, _ body: @Sendable (Range<Int>) -> Void) {
        guard count > 0 else { return }
        guard parallel, count >= 2 else { body(0..<count); return }
        // More chunks than cores keeps both cores busy when one chunk runs slow.
        let chunks = min(count, 16)
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            body((count * c / chunks)..<(count * (c + 1) / chunks))
        }
    }
}

/// The horizontal pass: source rows `firstRow + r` → Float rows of `outWidth` rgb triples.
///
/// Holds raw pointers so chunks can run on several threads: every chunk only reads the
/// source and the tables and writes its own disjoint rows of `mid`, which makes sharing sound.
private struct HorizontalPass: @unchecked Sendable {
    let source: UnsafePointer<UInt8>
    /// Bytes per source pixel: 1 (gray8), 3 (rgb8) or 4 (rgba8).
    let channels: Int
    let sourceStride: Int
    let firstRow: Int
    /// The rgba8 compositing background, 0…255 per channel.
    let background: SIMD3<Float>
    /// First source column any output reads.
    let firstColumn: Int
    /// Number of source columns the outputs read, from `firstColumn`.
    let columnCount: Int
    let mid: UnsafeMutablePointer<Float>
    let outWidth: Int
    let starts: UnsafePointer<Int>
    let counts: UnsafePointer<Int>
    let weights: UnsafePointer<Float>
    let stride: Int

    func run(_ rows: Range<Int>) {
        // The used span of each source row is widened to Float once, so each tap is one
        // unaligned 4-lane load (r, g, b, next pixel's r: ignored) and one multiply-add.
        // One spare pixel keeps the last load inside the buffer.
        let floats = (columnCount + 1) * 3
        let row = UnsafeMutablePointer<Float>.allocate(capacity: floats)
        defer { row.deallocate() }
        row.initialize(repeating: 0, count: floats)
        let raw = UnsafeRawPointer(row)
        for r in rows {
            let srcRow = source + (firstRow + r) * sourceStride + firstColumn * channels
            widen(srcRow, into: row)
            var dst = mid + r * outWidth * 3
            for j in 0..<outWidth {
                var offset = (starts[j] - firstColumn) * 3 * MemoryLayout<Float>.stride
                let w = weights + j * stride
                let count = counts[j]
                // Two accumulators halve the add-latency chain.
                var even = SIMD4<Float>(), odd = SIMD4<Float>()
                var k = 0
                while k + 1 < count {
                    even += w[k] * raw.loadUnaligned(fromByteOffset: offset, as: SIMD4<Float>.self)
                    odd += w[k + 1] * raw.loadUnaligned(fromByteOffset: offset + 12, as: SIMD4<Float>.self)
                    offset += 24
                    k += 2
                }
                if k < count {
                    even += w[k] * raw.loadUnaligned(fromByteOffset: offset, as: SIMD4<Float>.self)
                }
                let sum = even + odd
                dst[0] = sum[0]
                dst[1] = sum[1]
                dst[2] = sum[2]
                dst += 3
            }
        }
    }

    /// Converts `columnCount` source pixels to interleaved Float rgb.
    @inline(__always)
    private func widen(_ src: UnsafePointer<UInt8>, into row: UnsafeMutablePointer<Float>) {
        switch channels {
        case 3:
            for i in 0..<(columnCount * 3) { row[i] = Float(src[i]) }
        case 1:
            for p in 0..<columnCount {
                let v = Float(src[p])
                row[3 * p] = v
                row[3 * p + 1] = v
                row[3 * p + 2] = v
            }
        default:
            let (bgR, bgG, bgB) = (background.x, background.y, background.z)
            for p in 0..<columnCount {
                let s = src + 4 * p
                let alpha = Float(s[3]) * (1 / 255)
                row[3 * p] = bgR + (Float(s[0]) - bgR) * alpha
                row[3 * p + 1] = bgG + (Float(s[1]) - bgG) * alpha
                row[3 * p + 2] = bgB + (Float(s[2]) - bgB) * alpha
            }
        }
    }
}

/// The vertical pass: Float rows → output rows, rounded to nearest and clamped to bytes.
///
/// Chunks only read `mid` and the tables and write disjoint rows of `out`.
private struct VerticalPass: @unchecked Sendable {
    let mid: UnsafeMutablePointer<Float>
    let firstRow: Int
    let rowLength: Int
    let out: UnsafeMutablePointer<UInt8>
    let starts: UnsafePointer<Int>
    let counts: UnsafePointer<Int>
    let weights: UnsafePointer<Float>
    let stride: Int

    func run(_ rows: Range<Int>) {
        let accumulator = UnsafeMutablePointer<Float>.allocate(capacity: rowLength)
        defer { accumulator.deallocate() }
        for i in rows {
            accumulator.initialize(repeating: 0, count: rowLength)
            let w = weights + i * stride
            let base = starts[i] - firstRow
            for k in 0..<counts[i] {
                let wk = w[k]
                let row = UnsafePointer(mid + (base + k) * rowLength)
                for x in 0..<rowLength {
                    accumulator[x] += wk * row[x]
                }
            }
            let dst = out + i * rowLength
            for x in 0..<rowLength {
                let v = min(max(accumulator[x], 0), 255)
                dst[x] = UInt8(v + 0.5)
            }
        }
    }
}

extension ResampleWeights {
    /// Calls `body` with stable pointers to the tables.
    func withPointers<R>(_ body: (UnsafePointer<Int>, UnsafePointer<Int>, UnsafePointer<Float>) -> R) -> R {
        starts.withUnsafeBufferPointer { s in
            counts.withUnsafeBufferPointer { c in
                weights.withUnsafeBufferPointer { w in
                    body(s.baseAddress!, c.baseAddress!, w.baseAddress!)
                }
            }
        }
    }
}
