// What the colour match measures of a clip that moves: the measured region followed as the
// content moves (``RegionTracker``), and the colour of each cell of it (``LabCells``), so that
// a drift of colour can be told from content moving through the region.
import CFFmpeg
import CVision
import Foundation

/// Follows a region of a clip's first frame through the frames it is given (see
/// `cvision_motion_track`; the colour match gives it every fourth frame and the last, ``StitchColorMatch/measuredEvery``):
/// a zoom, a pan or a head that sways moves and scales the region with the content, so the same
/// content is measured in every frame measured. Deterministic.
final class RegionTracker {
    /// The longer side, in pixels, of the luma the tracking runs on.
    static let trackingSide = 240

    private let handle: OpaquePointer

    /// A tracker of `region` (fractions of the frame) for one clip.
    /// - Throws: ``VisionError`` `.failed` for a region that is not a rectangle.
    init(region: ColorRegion, side: Int = RegionTracker.trackingSide) throws {
        var message = [CChar](repeating: 0, count: 256)
        var r = region.cValue
        guard let pointer = cvision_motion_create(&r, Int32(clamping: side), &message, message.count) else {
            throw VisionError.failed(YUV420.text(message))
        }
        handle = pointer
    }

    deinit { cvision_motion_free(handle) }

    /// The region as the clip's next frame `frame` shows its content (the first call: the
    /// region as it was given). It may reach past the frame's edges.
    /// - Throws: ``VisionError`` `.failed` for another pixel format or a frame of another size.
    func track(_ frame: Frame) throws -> ColorRegion {
        var message = [CChar](repeating: 0, count: 256)
        var moved = cvision_region()
        let rc = try YUV420.withInput(frame) { picture in
            var picture = picture
            return cvision_motion_track(handle, &picture, &moved, &message, message.count)
        }
        if rc != 0 { throw VisionError.failed(YUV420.text(message)) }
        return ColorRegion(x: moved.x, y: moved.y, width: moved.width, height: moved.height)
    }
}

extension ColorRegion {
    /// The whole picture.
    static let whole = ColorRegion(x: 0, y: 0, width: 1, height: 1)
}

/// The colour of one frame over a region split into a grid of cells: the statistics of each
/// cell and of the whole region.
struct LabCells: Sendable, Equatable {
    /// The cells across and down the region.
    static let grid = 4

    /// The statistics of the whole region.
    var whole: LabStats
    /// Each cell's statistics, row by row (nil for a cell with no samples in the frame).
    var cells: [LabStats?]
    /// Each cell's share of the region's weight.
    var weights: [Double]

    /// Each cell's mean colour (nil for a cell with no samples).
    var means: [[Double]?] { cells.map { $0?.mean } }

    /// Cells of known colours.
    init(whole: LabStats, cells: [LabStats?], weights: [Double]) {
        self.whole = whole
        self.cells = cells
        self.weights = weights
    }

    /// The cells of `frame` (8-bit YUV 4:2:0) over `region`, which may reach past its edges.
    /// - Throws: ``VisionError`` `.failed` for another pixel format or a region outside the frame.
    init(of frame: Frame, region: ColorRegion, step: Int) throws {
        let count = Self.grid * Self.grid
        var sums = [cvision_lab_sums](repeating: cvision_lab_sums(), count: count)
        var message = [CChar](repeating: 0, count: 256)
        let encoding = LabColor.encoding(of: frame)
        var r = region.cValue
        let rc = try YUV420.withInput(frame) { picture in
            var picture = picture
            return sums.withUnsafeMutableBufferPointer { cells in
                cvision_color_cells_yuv(
                    &picture, encoding, &r, Int32(Self.grid), Int32(clamping: step), cells.baseAddress, &message,
                    message.count)
            }
        }
        if rc != 0 { throw VisionError.failed(YUV420.text(message)) }
        let cells = sums.map(Sums.init)
        let total = cells.reduce(Sums()) { $0.adding($1) }
        whole = Self.stats(total)
        let weight = max(total.weight, .leastNormalMagnitude)
        self.cells = cells.map { $0.weight > 0 ? Self.stats($0) : nil }
        weights = cells.map { $0.weight / weight }
    }

    /// The statistics of the cells `chosen` (indices of cells with samples) together.
    func pooled(_ chosen: [Int]) -> LabStats {
        var weight = 0.0, mean = [0.0, 0.0, 0.0], second = [Double](repeating: 0, count: 9)
        for c in chosen {
            guard let stats = cells[c], weights[c] > 0 else { continue }
            let w = weights[c]
            weight += w
            for i in 0..<3 {
                mean[i] += w * stats.mean[i]
                for j in 0..<3 { second[3 * i + j] += w * (stats.covariance[3 * i + j] + stats.mean[i] * stats.mean[j]) }
            }
        }
        guard weight > 0 else { return whole }
        mean = mean.map { $0 / weight }
        var covariance = [Double](repeating: 0, count: 9)
        for i in 0..<3 { for j in 0..<3 { covariance[3 * i + j] = second[3 * i + j] / weight - mean[i] * mean[j] } }
        return LabStats(mean: mean, covariance: covariance)
    }

    /// Weighted sums of Lab samples (`cvision_lab_sums`).
    struct Sums {
        var weight = 0.0
        var sum = [Double](repeating: 0, count: 3)
        var products = [Double](repeating: 0, count: 9)

        init() {}

        init(_ sums: cvision_lab_sums) {
            weight = sums.weight
            sum = withUnsafeBytes(of: sums.sum) { Array($0.bindMemory(to: Double.self)) }
            products = withUnsafeBytes(of: sums.products) { Array($0.bindMemory(to: Double.self)) }
        }

        func adding(_ other: Sums) -> Sums {
            var total = self
            total.weight += other.weight
            for i in 0..<3 { total.sum[i] += other.sum[i] }
            for i in 0..<9 { total.products[i] += other.products[i] }
            return total
        }
    }

    /// The mean and covariance of weighted sums.
    static func stats(_ sums: Sums) -> LabStats {
        let n = sums.weight > 0 ? sums.weight : 1
        let mean = sums.sum.map { $0 / n }
        var covariance = [Double](repeating: 0, count: 9)
        for i in 0..<3 { for j in 0..<3 { covariance[3 * i + j] = sums.products[3 * i + j] / n - mean[i] * mean[j] } }
        return LabStats(mean: mean, covariance: covariance)
    }
}

extension LabStats {
    /// The statistics a fraction `w` of the way from these to `other`: the mean and the
    /// covariance interpolated linearly, as the smoothing fits them (``ColorMatchPlan/smoothed(_:)``).
    func interpolated(to other: LabStats, by w: Double) -> LabStats {
        LabStats(
            mean: zip(mean, other.mean).map { $0 + w * ($1 - $0) },
            covariance: zip(covariance, other.covariance).map { $0 + w * ($1 - $0) })
    }
}

extension LabCells {
    /// The cells a fraction `w` of the way from these to `other` (``LabStats/interpolated(to:by:)``
    /// cell by cell, the weights linearly); a cell without samples in either has none.
    func interpolated(to other: LabCells, by w: Double) -> LabCells {
        LabCells(
            whole: whole.interpolated(to: other.whole, by: w),
            cells: zip(cells, other.cells).map { a, b in
                guard let a, let b else { return nil }
                return a.interpolated(to: b, by: w)
            },
            weights: zip(weights, other.weights).map { $0 + w * ($1 - $0) })
    }
}

extension ColorRegion {
    /// The region a fraction `w` of the way from this one to `other`, edge by edge.
    func interpolated(to other: ColorRegion, by w: Double) -> ColorRegion {
        ColorRegion(
            x: x + w * (other.x - x), y: y + w * (other.y - y), width: width + w * (other.width - width),
            height: height + w * (other.height - height))
    }
}
