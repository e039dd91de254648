// The drift of a clip's colour told from content moving through the measured region: a colour
// cast or a creeping saturation moves the colour of every part of the region, while content
// that moves (a head turning, a zoom bringing in hair or background, a caption the picture
// slides under) changes some parts and not others.
import Foundation

extension ColorMatchPlan {
    /// The share of the region (by weight) whose own colour must have moved at least as far as
    /// a frame's drift: two thirds, so content changing any third of the region (a row of cells
    /// along an edge, a mouth, a hand) cannot make a drift on its own.
    static let consistentShare = 2.0 / 3.0

    /// How far (Lab units) a cell's own change may stray from the region's (the median of the
    /// cells') for the cell to be taken as changing with it: 2, or half the region's largest
    /// change when that is more.
    static let agreement = (least: 2.0, share: 0.5)

    /// What the cells of one piece of a clip (frames between lighting changes) say: the drift of
    /// each frame, and the cells whose colour changes as the region's does.
    ///
    /// Each cell's mean colour is smoothed as the whole region's is (``smoothed(_:)``) and
    /// compared with its own smoothed start seen through `carried` (the correction in force
    /// before the piece). A frame's drift is the least that ``consistentShare`` of the region's
    /// weight has drifted (a weighted quantile of the cells' CIEDE2000 differences). A cell
    /// agrees when its change (a Lab vector) stays within ``agreement`` of the cells' weighted
    /// median change in every frame; when the agreeing cells hold less than a third of the
    /// weight, all count. Cells without samples in some frame of the piece (the region reaching
    /// past the frame's edge) count for neither.
    static func cellDrift(_ cells: [LabCells], carried: LabMap?) -> (drift: [Double], agreeing: [Int]) {
        let n = cells.count
        guard n > 0 else { return ([], []) }
        let count = cells[0].cells.count
        var tracks: [(cell: Int, weight: Double, change: [[Double]], drift: [Double])] = []
        for c in 0..<count {
            guard cells.allSatisfy({ $0.cells.count == count && $0.cells[c] != nil }) else { continue }
            let weight = cells.reduce(0) { $0 + $1.weights[c] } / Double(n)
            guard weight > 0 else { continue }
            let smoothed = Self.smoothed(cells.map { $0.cells[c]! }).map(\.mean)
            let target = carried.map { $0.apply(smoothed[0]) } ?? smoothed[0]
            tracks.append(
                (
                    c, weight, smoothed.map { mean in (0..<3).map { mean[$0] - target[$0] } },
                    smoothed.map { LabColor.deltaE2000($0, target) }
                ))
        }
        guard !tracks.isEmpty else { return ([Double](repeating: 0, count: n), []) }
        let total = tracks.reduce(0) { $0 + $1.weight }
        /// The weighted quantile of `values`: the largest value at least `share` of the weight reaches.
        func reached(_ values: [Double], share: Double) -> Double {
            let sorted = zip(values, tracks.map(\.weight)).sorted { $0.0 > $1.0 }
            var sum = 0.0
            for (value, weight) in sorted {
                sum += weight
                if sum >= share * total - 1e-12 { return value }
            }
            return sorted.last!.0
        }
        var drift = [Double](repeating: 0, count: n)
        var median = [[Double]](repeating: [0, 0, 0], count: n)
        for t in 0..<n {
            drift[t] = reached(tracks.map { $0.drift[t] }, share: consistentShare)
            median[t] = (0..<3).map { i in reached(tracks.map { $0.change[t][i] }, share: 0.5) }
        }
        let largest = median.map { m in (m[0] * m[0] + m[1] * m[1] + m[2] * m[2]).squareRoot() }.max() ?? 0
        let tolerance = max(agreement.least, agreement.share * largest)
        let agreeing = tracks.filter { track in
            (0..<n).allSatisfy { t in
                let d = (0..<3).map { track.change[t][$0] - median[t][$0] }
                return (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).squareRoot() <= tolerance
            }
        }
        let agreed = agreeing.reduce(0) { $0 + $1.weight }
        return (drift, agreed * 3 >= total ? agreeing.map(\.cell) : tracks.map(\.cell))
    }
}
