// Colour drift inside a generated clip, measured and undone through CVision: the statistics of
// each frame in CIE Lab, the plan that turns a clip's statistics over time into one colour map
// per frame (a pure function), and the maps applied to decoded YUV 4:2:0 frames.
import CFFmpeg
import CVision
import Foundation

/// The colour statistics of a picture in CIE Lab (D65): the mean (L, a, b) and the 3×3
/// covariance, row-major.
struct LabStats: Sendable, Equatable {
    var mean: [Double]
    var covariance: [Double]

    init(mean: [Double], covariance: [Double]) {
        precondition(mean.count == 3 && covariance.count == 9)
        self.mean = mean
        self.covariance = covariance
    }

    init(_ stats: cvision_lab_stats) {
        var s = stats
        mean = withUnsafeBytes(of: &s.mean) { Array($0.bindMemory(to: Double.self)) }
        covariance = withUnsafeBytes(of: &s.covariance) { Array($0.bindMemory(to: Double.self)) }
    }

    var cValue: cvision_lab_stats {
        var s = cvision_lab_stats()
        _ = withUnsafeMutableBytes(of: &s.mean) { $0.bindMemory(to: Double.self).update(fromContentsOf: mean) }
        _ = withUnsafeMutableBytes(of: &s.covariance) { $0.bindMemory(to: Double.self).update(fromContentsOf: covariance) }
        s.samples = 1
        return s
    }

    /// The statistics of the colours after `map`: the mean mapped, the covariance M Σ Mᵀ.
    func mapped(by map: LabMap) -> LabStats {
        let m = map.matrix
        var covariance = [Double](repeating: 0, count: 9)
        for i in 0..<3 {
            for j in 0..<3 {
                var sum = 0.0
                for k in 0..<3 {
                    for l in 0..<3 { sum += m[3 * i + k] * self.covariance[3 * k + l] * m[3 * j + l] }
                }
                covariance[3 * i + j] = sum
            }
        }
        return LabStats(mean: map.apply(mean), covariance: covariance)
    }
}

/// An affine map of Lab colours: lab' = matrix · lab + offset (`matrix` 3×3, row-major).
struct LabMap: Sendable, Equatable {
    var matrix: [Double]
    var offset: [Double]

    init(matrix: [Double], offset: [Double]) {
        precondition(matrix.count == 9 && offset.count == 3)
        self.matrix = matrix
        self.offset = offset
    }

    init(_ map: cvision_lab_affine) {
        var m = map
        matrix = withUnsafeBytes(of: &m.m) { Array($0.bindMemory(to: Double.self)) }
        offset = withUnsafeBytes(of: &m.offset) { Array($0.bindMemory(to: Double.self)) }
    }

    var cValue: cvision_lab_affine {
        var m = cvision_lab_affine()
        _ = withUnsafeMutableBytes(of: &m.m) { $0.bindMemory(to: Double.self).update(fromContentsOf: matrix) }
        _ = withUnsafeMutableBytes(of: &m.offset) { $0.bindMemory(to: Double.self).update(fromContentsOf: offset) }
        return m
    }

    /// The colour `lab` mapped.
    func apply(_ lab: [Double]) -> [Double] {
        (0..<3).map { i in matrix[3 * i] * lab[0] + matrix[3 * i + 1] * lab[1] + matrix[3 * i + 2] * lab[2] + offset[i] }
    }
}

/// A rectangle of a picture as fractions of its width and height (0…1), e.g. the face the
/// fitted portrait's anchor found.
public struct ColorRegion: Sendable, Equatable, Codable {
    /// Left edge, as a fraction of the width.
    public var x: Double
    /// Top edge, as a fraction of the height.
    public var y: Double
    /// Width, as a fraction of the picture's.
    public var width: Double
    /// Height, as a fraction of the picture's.
    public var height: Double

    /// A region; fractions of the picture's width and height.
    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    /// Whether the region is a non-empty rectangle inside the unit square.
    var isValid: Bool {
        [x, y, width, height].allSatisfy(\.isFinite) && x >= 0 && y >= 0 && width > 0 && height > 0
            && x + width <= 1.000_001 && y + height <= 1.000_001
    }

    var cValue: cvision_region { cvision_region(x: x, y: y, width: width, height: height) }
}

/// Lab colour measures and maps on pictures, through CVision.
enum LabColor {
    /// The chroma samples between two measured ones, across and down: 2 measures one 2×2 luma
    /// block in every 4 (a 480p frame gives about 25 000 samples; the mean moves by well under
    /// 0.05 ΔE against measuring every block).
    static let sampleStep = 2

    /// The samples a measure of a clip's frame aims at: about 8 000 (every fourth 2×2 block of a
    /// 480p frame; the mean moves by well under 0.05 ΔE against measuring every block).
    static let frameSamples = 8192

    /// The step between measured chroma samples that gives about ``frameSamples`` samples over
    /// `region` (the whole frame when nil) of a `width`×`height` frame.
    static func step(width: Int, height: Int, region: ColorRegion?) -> Int {
        let area = region.map { $0.width * $0.height } ?? 1
        let samples = Double((width + 1) / 2) * Double((height + 1) / 2) * area
        return max(1, Int((samples / Double(frameSamples)).squareRoot()))
    }

    /// The CIEDE2000 difference between two Lab colours.
    static func deltaE2000(_ a: [Double], _ b: [Double]) -> Double {
        precondition(a.count == 3 && b.count == 3)
        return a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in cvision_delta_e2000(pa.baseAddress, pb.baseAddress) }
        }
    }

    /// How `frame`'s YUV values stand for colours: BT.709 when it says so, BT.601 otherwise (what
    /// FFmpeg takes for unmarked video); full range for JPEG-range frames.
    static func encoding(of frame: Frame) -> cvision_yuv_encoding {
        let f = frame.pointer.pointee
        let bt709 = f.colorspace == AVCOL_SPC_BT709
        let full = FFmpeg.isFullRange(frame.pointer)
        return cvision_yuv_encoding(
            matrix: Int32(bt709 ? CVISION_MATRIX_BT709 : CVISION_MATRIX_BT601), full_range: full ? 1 : 0)
    }

    /// The Lab statistics of an 8-bit YUV 4:2:0 frame over `region` (the whole frame when nil).
    /// - Throws: ``VisionError`` `.failed` for another pixel format or an empty region.
    static func stats(of frame: Frame, region: ColorRegion? = nil, step: Int = sampleStep) throws -> LabStats {
        var message = [CChar](repeating: 0, count: 256)
        var stats = cvision_lab_stats()
        let encoding = encoding(of: frame)
        let rc = try YUV420.withInput(frame) { picture in
            var picture = picture
            if var r = region?.cValue {
                return cvision_color_stats_yuv(
                    &picture, encoding, &r, Int32(clamping: step), &stats, &message, message.count)
            }
            return cvision_color_stats_yuv(&picture, encoding, nil, Int32(clamping: step), &stats, &message, message.count)
        }
        if rc != 0 { throw VisionError.failed(YUV420.text(message)) }
        return LabStats(stats)
    }

    /// The Lab statistics of a packed 8-bit RGB picture (sRGB; `width`×`height`, rows of
    /// `width`×3 bytes) over `region`, one sample per 2×2 block as a 4:2:0 frame of it would give.
    /// - Throws: ``VisionError`` `.failed` for a picture too small for its bytes or an empty region.
    static func stats(rgb: [UInt8], width: Int, height: Int, region: ColorRegion? = nil) throws -> LabStats {
        guard width >= 2, height >= 2, rgb.count >= width * height * 3 else {
            throw VisionError.failed("a \(width)x\(height) RGB picture of \(rgb.count) bytes has no colour statistics")
        }
        var message = [CChar](repeating: 0, count: 256)
        var stats = cvision_lab_stats()
        let rc = rgb.withUnsafeBufferPointer { bytes in
            let (w, h, s) = (Int32(width), Int32(height), Int32(width * 3))
            if var r = region?.cValue {
                return cvision_color_stats_rgb(bytes.baseAddress, w, h, s, &r, &stats, &message, message.count)
            }
            return cvision_color_stats_rgb(bytes.baseAddress, w, h, s, nil, &stats, &message, message.count)
        }
        if rc != 0 { throw VisionError.failed(YUV420.text(message)) }
        return LabStats(stats)
    }

    /// The map that moves colours distributed as `from` toward `to` by `strength` (0…1): the
    /// linear optimal transport between the two Gaussians, mixed with the identity.
    /// - Throws: ``VisionError`` `.failed` for statistics that are not finite.
    static func transport(from: LabStats, to: LabStats, strength: Double) throws -> LabMap {
        var message = [CChar](repeating: 0, count: 256)
        var a = from.cValue, b = to.cValue
        var map = cvision_lab_affine()
        let rc = cvision_color_transport(&a, &b, strength, &map, &message, message.count)
        if rc != 0 { throw VisionError.failed(YUV420.text(message)) }
        return LabMap(map)
    }

    /// Maps every pixel of `frame` (8-bit YUV 4:2:0) by `map`, in place (the frame is made
    /// writable first: pixels shared with another reference are copied, not changed).
    /// - Throws: ``VisionError`` `.failed` for another pixel format or a frame that cannot be made
    ///   writable.
    static func apply(_ map: LabMap, to frame: Frame) throws {
        guard YUV420.isYUV420(frame) else { throw VisionError.failed("a frame to colour-correct is not 8-bit YUV 4:2:0") }
        if av_frame_make_writable(frame.pointer) < 0 {
            throw VisionError.failed("a frame to colour-correct cannot be made writable (out of memory)")
        }
        var message = [CChar](repeating: 0, count: 256)
        var m = map.cValue
        let encoding = encoding(of: frame)
        let rc = try YUV420.withOutput(frame) { picture in
            var picture = picture
            return cvision_color_apply(&picture, encoding, &m, &message, message.count)
        }
        if rc != 0 { throw VisionError.failed(YUV420.text(message)) }
    }
}

/// What colour matching found in one clip and did to it.
public struct ColorMatchReport: Sendable, Equatable, Codable {
    /// The plan segment whose clip this is.
    public var segment: Int
    /// The largest drift found: how far (CIEDE2000) the clip's smoothed mean colour moved from its
    /// start (a drift carried across a kept lighting change included; over a region, as far as two
    /// thirds of its cells moved), as far as it lasts (a change that goes away again is not drift).
    public var largestDrift: Double
    /// The most the correction moved the smoothed mean colour of a frame (ΔE2000); 0 when the
    /// clip was left as it was.
    public var largestCorrection: Double
    /// The largest drift left after the correction (ΔE2000, on the smoothed means); the
    /// largest drift when the clip was left as it was.
    public var largestResidual: Double
    /// Frames whose pixels were changed; 0 means the clip is exactly as it was decoded.
    public var correctedFrames: Int
    /// Frames of the clip where its colours change at once (lighting that changes on purpose,
    /// or a cut inside the clip): kept, never corrected away.
    public var lightingChanges: [Int]
    /// The CIEDE2000 difference between the clip's smoothed start and its reference portrait.
    public var referenceDifference: Double?
    /// Why the clip was not corrected although it drifts, when that is so.
    public var note: String?

    /// Whether any frame's pixels were changed.
    public var corrected: Bool { correctedFrames > 0 }
}

/// The colour correction of one clip: a map per frame, or none (the frame is left exactly as
/// it is). A pure function of the clip's per-frame statistics and its reference's, so that a
/// resumed run makes the same video.
///
/// How it decides (measured on the statistics, never on single pixels):
///
/// 1. **What the colours should be.** Every model request starts from the portrait (the
///    model fixes the first latent to the encoded portrait), so a clip's own first second is
///    the portrait as this model renders it at this size and quality: the drift is the change
///    *since the clip's start*. Comparing a clip with itself, not with the reference image,
///    leaves out everything that differs between the two and is not drift (resolution, crop,
///    the codec, the model's own rendering), so a clip that does not drift is never touched.
///    The reference portrait checks that premise: a clip whose start is more than
///    ``referenceTolerance`` from it (another portrait, or not a clip of this model) is left
///    as it is, with a note, since its changes cannot be told from its content's.
/// 2. **Smoothing.** Each frame's mean and covariance are replaced by a local linear fit over
///    a window of ``windowFrames`` (one second) centred on it, so a mouth opening, a hand or a
///    head turn does not make the correction flicker, and a steady drift is followed without
///    lag, to the clip's last frame. Drift accumulates, so a frame's drift is the least of its
///    own and every later frame's (up to a lighting change): a change that goes away again (a
///    hand passing, a head turning and back) is content and is never corrected. Over a region,
///    the region follows the content and its cells must agree (``cellDrift(_:carried:)``): a
///    zoom, a pan or a caption the picture slides under changes some cells, a drift all.
/// 3. **Lighting that changes on purpose.** Drift is slow (ΔE 10 over half a minute); a change
///    of ``stepThreshold`` or more between the mean of the ``stepFrames`` frames before a frame
///    and of those from it is no drift, whatever causes it. The clip is split there and each
///    piece smoothed on its own (no window straddles the change); the piece's target is its own
///    start seen through the correction in force just before the change, so the change is kept
///    as it was while the drift carried into it is still taken out.
/// 4. **Correction in proportion to the drift.** A clip whose smoothed mean never moves
///    ``threshold`` (ΔE2000) from its target is left exactly as it was. Otherwise each frame's
///    map is the linear optimal transport from the frame's smoothed Gaussian to the target
///    (mean and covariance: saturation is undone, not just the cast), applied with a strength
///    rising from 0 at half the threshold to 1 at one and a half: frames that have not drifted
///    yet are left exactly as they are, and the correction fades in smoothly as drift grows.
///    A map is held over the following frames while theirs stay within
///    ``holdTolerance`` of it (``held(_:holding:over:)``), so the pixels do not flicker.
struct ColorMatchPlan: Sendable, Equatable {
    /// The smoothing window, in frames: one second.
    static let windowFrames = ModelLimits.fps
    /// The frames on each side compared to find a change of lighting.
    static let stepFrames = 5
    /// The change of mean colour (ΔE2000) between ``stepFrames`` frames and the next ones that
    /// counts as lighting changing on purpose: 0.6 ΔE a frame, 15 a second, far beyond drift.
    static let stepThreshold = 3.0
    /// How far (ΔE2000) a clip's start may be from its reference portrait for its changes to be
    /// taken as drift.
    static let referenceTolerance = 5.0
    /// The default drift (ΔE2000 on the smoothed means) below which a clip is left as it is.
    static let defaultThreshold = 1.0

    /// The map of each frame, nil where the frame is left as it is.
    var maps: [LabMap?]
    /// What was found and done (segment 0: the caller sets it).
    var report: ColorMatchReport

    /// The plan for a clip whose frames have the statistics `frames` (one per output frame, in
    /// order), measured by `cells` as well (one per frame: the drift is then what the region's
    /// cells agree on, ``cellDrift(_:carried:)``) and whose reference portrait has
    /// `reference` (nil: not checked).
    /// - Throws: ``VisionError`` `.failed` for statistics that are not finite.
    init(frames: [LabStats], cells: [LabCells]? = nil, reference: LabStats?, threshold: Double = defaultThreshold) throws {
        precondition(cells == nil || cells?.count == frames.count)
        let n = frames.count
        maps = Array(repeating: nil, count: n)
        report = ColorMatchReport(
            segment: 0, largestDrift: 0, largestCorrection: 0, largestResidual: 0, correctedFrames: 0,
            lightingChanges: [], referenceDifference: nil, note: nil)
        guard n > 0 else { return }
        let changes = Self.lightingChanges(frames.map(\.mean))
        report.lightingChanges = changes
        let bounds = [0] + changes + [n]
        let pieces = zip(bounds, bounds.dropFirst()).map { $0..<$1 }
        var smoothed: [LabStats] = []
        smoothed.reserveCapacity(n)
        for piece in pieces { smoothed += Self.smoothed(Array(frames[piece])) }

        // Targets and drift, piece by piece. Drift accumulates: only the part of a frame's change
        // that lasts to the piece's end counts (a hand or a head turn that comes and goes is
        // content, not drift).
        var targets: [LabStats] = []
        var drift = [Double](repeating: 0, count: n)
        var carried: LabMap? = nil
        // With cells, each piece's statistics are those of the cells that change as the region
        // does (content moving through the rest is left out), the drift what the cells agree on.
        let start0 = smoothed[0]
        for piece in pieces {
            var measured: [Double]? = nil
            if let cells {
                let found = Self.cellDrift(Array(cells[piece]), carried: carried)
                if !found.agreeing.isEmpty {
                    let pooled = Self.smoothed(cells[piece].map { $0.pooled(found.agreeing) })
                    for (t, stats) in zip(piece, pooled) { smoothed[t] = stats }
                }
                measured = found.drift
            }
            let start = smoothed[piece.lowerBound]
            let target = carried.map { start.mapped(by: $0) } ?? start
            for t in piece {
                targets.append(target)
                drift[t] = measured?[t - piece.lowerBound] ?? LabColor.deltaE2000(smoothed[t].mean, target.mean)
            }
            var lasting = Double.infinity
            for t in piece.reversed() {
                lasting = min(lasting, drift[t])
                drift[t] = lasting
            }
            // The correction in force at the piece's end, carried into the next piece's target.
            let last = piece.upperBound - 1
            let strength = Self.strength(drift: drift[last], threshold: threshold)
            carried = strength > 0 ? try LabColor.transport(from: smoothed[last], to: target, strength: strength) : nil
        }
        report.largestDrift = drift.max() ?? 0
        report.largestResidual = report.largestDrift
        if let reference {
            let difference = LabColor.deltaE2000(start0.mean, reference.mean)
            report.referenceDifference = difference
            if difference > Self.referenceTolerance {
                // Said whether it drifts or not: the portrait may be the wrong one.
                report.note = String(
                    format:
                        "starts ΔE %.1f from its reference portrait (over %.0f), so its changes cannot be told from drift: left as it is",
                    difference, Self.referenceTolerance)
                return
            }
        }
        guard report.largestDrift >= threshold else { return }

        // Each frame's own map, held over runs of frames (``held(_:holding:over:)``); a frame left
        // as it is keeps its drift as its residual.
        var residual = 0.0, holding: LabMap? = nil
        for t in 0..<n {
            let strength = Self.strength(drift: drift[t], threshold: threshold)
            let own = strength > 0 ? try LabColor.transport(from: smoothed[t], to: targets[t], strength: strength) : nil
            holding = Self.held(own, holding: holding, over: smoothed[t])
            maps[t] = holding
            guard let map = holding else {
                residual = max(residual, drift[t])
                continue
            }
            let moved = map.apply(smoothed[t].mean)
            report.largestCorrection = max(report.largestCorrection, LabColor.deltaE2000(smoothed[t].mean, moved))
            residual = max(residual, LabColor.deltaE2000(moved, targets[t].mean))
        }
        report.largestResidual = residual
        report.correctedFrames = maps.count(where: { $0 != nil })
    }

    /// The frames at which the mean colour changes at once: where the mean of the
    /// ``stepFrames`` frames from it differs by at least ``stepThreshold`` from the mean of the
    /// ones before it, at least half of it from the frame before (a change at once, not one
    /// spread over the frames), the largest such change within ``stepFrames`` frames either side.
    static func lightingChanges(_ means: [[Double]]) -> [Int] {
        let n = means.count, k = stepFrames
        guard n > 1 else { return [] }
        func average(_ range: Range<Int>) -> [Double] {
            var sum = [0.0, 0.0, 0.0]
            for i in range { for c in 0..<3 { sum[c] += means[i][c] } }
            return sum.map { $0 / Double(range.count) }
        }
        var jump = [Double](repeating: 0, count: n)
        for t in 1..<n {
            jump[t] = LabColor.deltaE2000(average(max(0, t - k)..<t), average(t..<min(n, t + k)))
        }
        var changes: [Int] = []
        // Lighting changes at once: a change spread over several frames (something sliding into
        // the picture) is content, however large.
        for t in 1..<n where jump[t] >= stepThreshold && LabColor.deltaE2000(means[t - 1], means[t]) >= jump[t] / 2 {
            let before = max(1, t - k)..<t, after = (t + 1)..<min(n, t + k + 1)
            if before.allSatisfy({ jump[$0] < jump[t] }) && after.allSatisfy({ jump[$0] <= jump[t] }) {
                changes.append(t)
            }
        }
        return changes
    }

    /// Each frame's statistics replaced by a local linear fit over the ``windowFrames`` frames
    /// centred on it (fewer at the ends; a plain mean under three frames).
    static func smoothed(_ frames: [LabStats]) -> [LabStats] {
        let n = frames.count, half = windowFrames / 2
        let values = frames.map { $0.mean + $0.covariance }
        return (0..<n).map { t in
            let window = max(0, t - half)..<min(n, t + half + 1)
            let xs = window.map { Double($0 - t) }
            let xMean = xs.reduce(0, +) / Double(xs.count)
            let sxx = xs.reduce(0) { $0 + ($1 - xMean) * ($1 - xMean) }
            var fitted = [Double](repeating: 0, count: 12)
            for c in 0..<12 {
                let ys = window.map { values[$0][c] }
                let yMean = ys.reduce(0, +) / Double(ys.count)
                guard xs.count >= 3, sxx > 0 else {
                    fitted[c] = yMean
                    continue
                }
                var sxy = 0.0
                for (x, y) in zip(xs, ys) { sxy += (x - xMean) * (y - yMean) }
                // The line's value at x = 0 (frame t).
                fitted[c] = yMean - sxy / sxx * xMean
            }
            return LabStats(mean: Array(fitted[0..<3]), covariance: Array(fitted[3..<12]))
        }
    }
}
