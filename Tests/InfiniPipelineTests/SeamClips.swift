import Foundation

@testable import InfiniPipeline

/// Synthetic clips for seam tests: an analytic texture (a sum of 28 cosines of random direction,
/// 18–110 px wavelength, most near the short end; no repeat in the frame), drawn moved, turned and scaled exactly (no
/// resampling), so every frame is equally sharp and the motion between frames is known.
struct SeamTexture {
    /// One cosine: cos(u·x + v·y + phase), weighted.
    private var waves: [(u: Double, v: Double, phase: Double, amplitude: Double)] = []
    let width: Int
    let height: Int

    init(width: Int = 320, height: Int = 240, seed: UInt64 = 7) {
        self.width = width
        self.height = height
        var state = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        func random() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53)
        }
        for _ in 0..<28 {
            let wavelength = 18 + 92 * random() * random()
            let angle = 2 * Double.pi * random()
            let k = 2 * Double.pi / wavelength
            waves.append((k * cos(angle), k * sin(angle), 2 * Double.pi * random(), 0.5 + random()))
        }
        let total = waves.reduce(0) { $0 + $1.amplitude }
        // Most of the range is used without clipping (the sum rarely reaches a quarter of its bound).
        waves = waves.map { ($0.u, $0.v, $0.phase, $0.amplitude * 3.2 * 100 / total) }
    }

    /// The picture moved by (`dx`, `dy`) pixels, turned by `degrees` and scaled by `scale`
    /// about its centre, as a gray YUV 4:2:0 frame.
    func frame(dx: Double = 0, dy: Double = 0, degrees: Double = 0, scale: Double = 1) -> VideoFrame {
        let theta = degrees * Double.pi / 180
        let (c, s) = (cos(theta), sin(theta))
        let (cx, cy) = (Double(width) / 2, Double(height) / 2)
        // Output pixel p shows texture point R(−θ)(p − centre − d) / scale + centre.
        let (a, b) = (c / scale, s / scale)  // sx = a·(x−cx−dx) + b·(y−cy−dy) + cx
        let (e, f) = (-s / scale, c / scale)  // sy = e·(x−cx−dx) + f·(y−cy−dy) + cy
        var luma = [Double](repeating: 128, count: width * height)
        for wave in waves {
            // phase(x, y) = u·sx + v·sy + φ = α·x + β·y + γ
            let alpha = wave.u * a + wave.v * e
            let beta = wave.u * b + wave.v * f
            let gamma =
                wave.phase + wave.u * (cx - a * (cx + dx) - b * (cy + dy)) + wave.v * (cy - e * (cx + dx) - f * (cy + dy))
            let (stepRe, stepIm) = (cos(alpha), sin(alpha))
            luma.withUnsafeMutableBufferPointer { out in
                for y in 0..<height {
                    let start = gamma + beta * Double(y)
                    var (re, im) = (cos(start), sin(start))
                    let row = y * width
                    for x in 0..<width {
                        out[row + x] += wave.amplitude * re
                        (re, im) = (re * stepRe - im * stepIm, re * stepIm + im * stepRe)
                    }
                }
            }
        }
        let y = luma.map { UInt8(max(16, min(235, $0.rounded()))) }
        let chroma = [UInt8](repeating: 128, count: ((width + 1) / 2) * ((height + 1) / 2))
        return VideoFrame(width: width, height: height, pixelFormat: .yuv420p, planes: [y, chroma, chroma])
    }

    /// Writes an H.264 clip (libx264, CRF 12) of `count` frames: the picture drifting from
    /// `from` to `to` (dx, dy, degrees) over its first `driftFrames` frames, then still.
    func writeClip(
        _ path: String, count: Int, from: (Double, Double, Double) = (0, 0, 0), to: (Double, Double, Double) = (0, 0, 0),
        driftFrames: Int = 10
    ) throws {
        let writer = try MP4Writer(
            path: path,
            video: VideoEncoderSettings(width: width, height: height, frameRate: 25, crf: 12, preset: "ultrafast"), audio: nil)
        var cache: [Int: VideoFrame] = [:]
        for i in 0..<count {
            let k = min(i, driftFrames)
            if cache[k] == nil {
                let w = driftFrames == 0 ? 1 : Double(k) / Double(driftFrames)
                cache[k] = frame(
                    dx: from.0 + (to.0 - from.0) * w, dy: from.1 + (to.1 - from.1) * w, degrees: from.2 + (to.2 - from.2) * w)
            }
            try writer.append(video: cache[k]!)
        }
        try writer.finish()
    }
}

/// Measurements on decoded frames.
enum FrameMeasure {
    /// Every frame's luma plane of a video, tightly packed.
    static func lumas(_ path: String) throws -> (frames: [[UInt8]], width: Int, height: Int) {
        let reader = try VideoReader(path: path, pixelFormat: .yuv420p)
        var frames: [[UInt8]] = []
        var size = (0, 0)
        while let f = try reader.nextFrame() {
            frames.append(f.planes[0])
            size = (f.width, f.height)
        }
        return (frames, size.0, size.1)
    }

    /// Mean absolute difference of two pictures.
    static func meanAbsoluteDifference(_ a: [UInt8], _ b: [UInt8]) -> Double {
        precondition(a.count == b.count)
        var sum = 0
        for i in a.indices { sum += abs(Int(a[i]) - Int(b[i])) }
        return Double(sum) / Double(max(1, a.count))
    }
}
