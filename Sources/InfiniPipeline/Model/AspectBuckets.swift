// InfiniPipeline: the fixed frame sizes ("aspect buckets") the InfiniTalk model renders.

/// The frame sizes the InfiniTalk model renders, and the rule that picks one for an image.
///
/// Both tables mirror the reference implementation (`ASPECT_RATIO_627` for 480p and
/// `ASPECT_RATIO_960` for 720p in MeiGen-AI/InfiniteTalk): each bucket is keyed by the
/// ratio height ÷ width, and the chosen bucket is the one whose key is nearest the image's
/// ratio. This file is the only place those sizes are written down.
public enum AspectBuckets {
    /// One renderable frame size.
    public struct Bucket: Sendable, Hashable, Codable, CustomStringConvertible {
        /// The bucket's nominal ratio, height ÷ width, exactly as written in the reference table.
        public let key: Double
        /// Frame width in pixels.
        public let width: Int
        /// Frame height in pixels.
        public let height: Int

        /// Creates a bucket. Only the tables in ``AspectBuckets`` should need this.
        public init(key: Double, width: Int, height: Int) {
            self.key = key
            self.width = width
            self.height = height
        }

        /// `"WxH"`, e.g. `"896x448"`.
        public var description: String { "\(width)x\(height)" }
    }

    /// Builds a table row from the reference's `key: [h, w]` order.
    private static func row(_ key: Double, _ height: Int, _ width: Int) -> Bucket {
        Bucket(key: key, width: width, height: height)
    }

    /// The 480p buckets in reference table order (keys ascending).
    public static let table480p: [Bucket] = [
        row(0.26, 320, 1216), row(0.38, 384, 1024), row(0.50, 448, 896), row(0.67, 512, 768),
        row(0.82, 576, 704), row(1.00, 640, 640), row(1.22, 704, 576), row(1.50, 768, 512),
        row(1.86, 832, 448), row(2.00, 896, 448), row(2.50, 960, 384), row(2.83, 1088, 384),
        row(3.60, 1152, 320), row(3.80, 1216, 320), row(4.00, 1280, 320),
    ]

    /// The 720p buckets in reference table order (keys ascending).
    public static let table720p: [Bucket] = [
        row(0.22, 448, 2048), row(0.29, 512, 1792), row(0.36, 576, 1600), row(0.45, 640, 1408),
        row(0.55, 704, 1280), row(0.63, 768, 1216), row(0.76, 832, 1088), row(0.88, 896, 1024),
        row(1.00, 960, 960), row(1.14, 1024, 896), row(1.31, 1088, 832), row(1.50, 1152, 768),
        row(1.58, 1216, 768), row(1.82, 1280, 704), row(1.91, 1344, 704), row(2.20, 1408, 640),
        row(2.30, 1472, 640), row(2.67, 1536, 576), row(2.89, 1664, 576), row(3.62, 1856, 512),
        row(3.75, 1920, 512),
    ]

    /// All buckets of one resolution, in reference table order.
    public static func table(for resolution: InfiniTalk.Resolution) -> [Bucket] {
        switch resolution {
        case .p480: return table480p
        case .p720: return table720p
        }
    }

    /// The bucket whose key is nearest `hOverW` (height ÷ width).
    ///
    /// Distances are `abs(key - hOverW)` in `Double`, compared exactly as Python's
    /// `min(keys, key=lambda k: abs(float(k) - ratio))` does in the reference: on an exact
    /// tie the bucket that comes first in table order (the smaller key) wins. A NaN ratio
    /// yields the first bucket, as in the reference.
    public static func bucket(forAspect hOverW: Double, resolution: InfiniTalk.Resolution) -> Bucket {
        let buckets = table(for: resolution)
        var best = buckets[0]
        var bestDistance = abs(best.key - hOverW)
        for candidate in buckets.dropFirst() {
            let distance = abs(candidate.key - hOverW)
            if distance < bestDistance {
                best = candidate
                bestDistance = distance
            }
        }
        return best
    }

    /// The bucket for an image of the given size: ratio `height / width`.
    /// - Precondition: `width > 0`.
    public static func bucket(width: Int, height: Int, resolution: InfiniTalk.Resolution) -> Bucket {
        precondition(width > 0, "AspectBuckets: width must be positive")
        return bucket(forAspect: Double(height) / Double(width), resolution: resolution)
    }
}
