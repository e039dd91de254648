// InfiniPipeline: the hosted InfiniTalk model's request limits and prices, in one place.

extension InfiniTalk {
    /// An output resolution of the hosted model, with its price.
    @nonexhaustive
    public enum Resolution: String, Codable, Sendable, CaseIterable {
        /// 480p output.
        case p480 = "480p"
        /// 720p output.
        case p720 = "720p"

        /// The list price in US dollars per second of generated video (`num_frames / 25`).
        public var pricePerSecond: Double {
            switch self {
            case .p480: return 0.20
            case .p720: return 0.40
            }
        }
    }

    /// The model's acceleration setting.
    public enum Acceleration: String, Codable, Sendable, CaseIterable {
        /// No acceleration: slowest, best quality.
        case none
        /// The endpoint's default.
        case regular
        /// Fastest.
        case high
    }
}

/// The old name of ``InfiniTalk/Resolution``.
@available(*, deprecated, renamed: "InfiniTalk.Resolution")
public typealias Resolution = InfiniTalk.Resolution

/// The old name of ``InfiniTalk/Acceleration``.
@available(*, deprecated, renamed: "InfiniTalk.Acceleration")
public typealias Acceleration = InfiniTalk.Acceleration

/// The hosted InfiniTalk model's limits: frame rate and valid request sizes.
///
/// One request renders `num_frames` frames at ``fps`` frames per second, where
/// `num_frames = 4n + 1` and ``minimumFrames`` ≤ `num_frames` ≤ ``maximumFrames``
/// (41 ≤ `num_frames` ≤ 721, that is 1.64 s to 28.84 s). Every other part of the
/// package takes these numbers from here.
public enum ModelLimits {
    /// Output frame rate of the model, in frames per second.
    public static let fps = 25
    /// Valid request sizes are `frameStep · n + 1`.
    public static let frameStep = 4
    /// The smallest valid `num_frames`.
    public static let minimumFrames = 41
    /// The largest valid `num_frames`.
    public static let maximumFrames = 721

    /// Whether `n` is a valid `num_frames`: `4n + 1` and within [41, 721].
    public static func isValidRequestSize(_ n: Int) -> Bool {
        n >= minimumFrames && n <= maximumFrames && n % frameStep == 1
    }

    /// The largest valid request size not above `n`, or `nil` when `n` is below 41.
    ///
    /// This is how a requested largest request size is read: 100 becomes 97, 721 stays 721,
    /// and anything above 721 becomes 721.
    public static func roundDownToValid(_ n: Int) -> Int? {
        guard n >= minimumFrames else { return nil }
        let capped = min(n, maximumFrames)
        return capped - ((capped - 1) % frameStep)
    }

    /// The smallest valid request size that is at least `n` (and at least 41),
    /// or `nil` when that would exceed `maximum` (721 unless given).
    public static func smallestValidRequest(atLeast n: Int, maximum: Int = maximumFrames) -> Int? {
        let lower = max(n, minimumFrames)
        let r = (lower - 1) % frameStep
        let size = r == 0 ? lower : lower + (frameStep - r)
        return size <= min(maximum, maximumFrames) ? size : nil
    }

    /// Whether `total` frames can be written as a sum of valid request sizes, each at most `maxFrames`.
    ///
    /// `k` sizes of the form `4n + 1` sum to `total` exactly when `k ≡ total (mod 4)`,
    /// and such sums cover every such `total` in `[41k, maxFrames·k]`. So `total` is
    /// representable iff some `k ≥ 1` has `k ≡ total (mod 4)` and `41k ≤ total ≤ maxFrames·k`.
    /// For `maxFrames = 721` that holds for every `total ≥ 164`.
    /// - Parameters:
    ///   - total: a number of frames.
    ///   - maxFrames: a valid request size (see ``roundDownToValid(_:)``).
    public static func isRepresentable(_ total: Int, maxFrames: Int) -> Bool {
        guard total >= minimumFrames, maxFrames >= minimumFrames else { return false }
        // The smallest k ≡ total (mod 4) with k·maxFrames ≥ total; larger k only make 41k ≤ total harder.
        let needed = (total + maxFrames - 1) / maxFrames
        let residue = total % frameStep
        let k = needed + ((residue - needed % frameStep) + frameStep) % frameStep
        return k >= 1 && k * minimumFrames <= total
    }

    /// Seconds of video billed for `frames` requested frames (`frames / 25`).
    public static func seconds(forFrames frames: Int) -> Double {
        Double(frames) / Double(fps)
    }
}
