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

    /// The drift of each frame of one piece of a clip (frames between lighting changes), from
    /// the cells of its measured region: each cell's mean colour is smoothed as the whole
    /// region's is (``smoothed(_:)``), and its drift is the CIEDE2000 difference from its own
    /// smoothed start seen through `carried` (the correction in force before the piece); a
    /// frame's drift is the least that ``consistentShare`` of the region's weight has drifted
    /// (a weighted quantile of the cells' drifts). Cells without samples in some frame of the
    /// piece (the region reaching past the frame's edge) do not count.
    static func consistentDrift(_ cells: [LabCells], carried: LabMap?) -> [Double] {
        let n = cells.count
        guard n > 0 else { return [] }
        let count = cells[0].means.count
        var tracks: [(weight: Double, drift: [Double])] = []
        for c in 0..<count {
            guard cells.allSatisfy({ $0.means.count == count && $0.means[c] != nil }) else { continue }
            let weight = cells.reduce(0) { $0 + $1.weights[c] } / Double(n)
            guard weight > 0 else { continue }
            let smoothed = Self.smoothed(
                cells.map { LabStats(mean: $0.means[c]!, covariance: [Double](repeating: 0, count: 9)) }
            ).map(\.mean)
            let target = carried.map { $0.apply(smoothed[0]) } ?? smoothed[0]
            tracks.append((weight, smoothed.map { LabColor.deltaE2000($0, target) }))
        }
        guard !tracks.isEmpty else { return [Double](repeating: 0, count: n) }
        let total = tracks.reduce(0) { $0 + $1.weight }
        return (0..<n).map { t in
            // The largest drift that at least `consistentShare` of the weight reaches.
            let sorted = tracks.map { ($0.drift[t], $0.weight) }.sorted { $0.0 > $1.0 }
            var reached = 0.0
            for (drift, weight) in sorted {
                reached += weight
                if reached >= consistentShare * total - 1e-12 { return drift }
            }
            return sorted.last!.0
        }
    }
}
