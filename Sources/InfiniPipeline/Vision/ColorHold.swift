// The maps of a corrected clip held over runs of frames. The smoothed drift moves a frame's own
// map a little every frame; applied as it is, every frame's pixels change (a code value here and
// there, as the rounding falls), which costs the encoder far more than the drift itself, and
// the correction a new table every frame. A map is kept while the frame's own one is within
// ``ColorMatchPlan/holdTolerance`` of it: the picture then steps by an invisible amount every
// so many frames instead of flickering every frame.
import Foundation

extension LabMap {
    /// The identity: every colour left as it is.
    static let identity = LabMap(matrix: [1, 0, 0, 0, 1, 0, 0, 0, 1], offset: [0, 0, 0])

    /// How far apart (Lab units, root mean square) this map and `other` put colours distributed
    /// as `stats`: with D = the difference of the matrices and d of the offsets,
    /// E‖D·x + d‖² = ‖D·μ + d‖² + tr(D Σ Dᵀ).
    func distance(to other: LabMap, over stats: LabStats) -> Double {
        let d = (0..<9).map { matrix[$0] - other.matrix[$0] }
        var sum = 0.0
        for i in 0..<3 {
            var shift = offset[i] - other.offset[i]
            for k in 0..<3 { shift += d[3 * i + k] * stats.mean[k] }
            sum += shift * shift
            for k in 0..<3 {
                for l in 0..<3 { sum += d[3 * i + k] * stats.covariance[3 * k + l] * d[3 * i + l] }
            }
        }
        return max(0, sum).squareRoot()
    }
}

extension ColorMatchPlan {
    /// How far (Lab units, root mean square over the frame's colours) a frame's own map may be
    /// from the map in force for that one to be kept: 0.5, a third of a ΔE2000 unit or less,
    /// far below what can be seen, and a tenth of the residual a corrected clip may keep.
    ///
    /// It sets what the correction costs the encoder: each change of map costs about the same
    /// (every macroblock gets a small residual), whatever its size. On the bench's 3-minute
    /// drifting clips (448², CRF 18, veryfast), against 7.2 MB uncorrected, measured when the
    /// stitch still took the whole frame as it was (a measure that moved with the clips' sway; the
    /// followed frame now gives 7.4 MB at 0.5): 9.2 MB at 0.5, 8.3 at 1, 7.6 at 2, 7.4 at 3, with
    /// the largest residual 1.1, 1.3, 1.9 and 2.7 ΔE2000. Choosing each run's map from the middle
    /// of its drift (0.5 either side) gave 8.5 MB then, but frames of the stitch tests' drifting
    /// clips ended further from their untinted truth (ΔE 2.01 against 1.88), so the map in force
    /// lags the drift instead.
    static let holdTolerance = 0.5

    /// The map applied to a frame whose smoothed statistics are `stats` and whose own map is
    /// `own` (nil: the frame is left as it is), when `holding` was applied to the frame before
    /// (nil: none): `holding` while `own` is within ``holdTolerance`` of it, `own` otherwise.
    static func held(_ own: LabMap?, holding: LabMap?, over stats: LabStats) -> LabMap? {
        let distance = (own ?? .identity).distance(to: holding ?? .identity, over: stats)
        return distance <= holdTolerance ? holding : own
    }

    /// How much of a frame's drift is taken out: 0 up to half the threshold, rising to all of it
    /// at one and a half.
    static func strength(drift: Double, threshold: Double) -> Double {
        min(1, max(0, (drift - threshold / 2) / threshold))
    }
}
