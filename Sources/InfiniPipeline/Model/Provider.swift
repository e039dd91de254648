// InfiniPipeline: the providers of the model, each described by the rules the rest of the
// code reads (lengths, billing, prices) instead of constants.

/// One host of the InfiniTalk model, as the planner, the price, the cache and the pipeline see
/// it: how a request's length is set, how it is billed, and at what price.
///
/// A third provider is one more value (and a ``ClipBackend`` that speaks its protocol): the
/// planner and the pipeline read only this description.
public struct Provider: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The name users and files use: `fal`, `wavespeed`, `preview`.
    public var id: String
    /// The model's id at the provider (`fal-ai/infinitalk`); recorded with clips and work dirs.
    public var model: String
    /// Output frames per second.
    public var fps: Int
    /// How long a request can be, and what sets its length.
    public var lengths: RequestLengths
    /// How a request is billed, and at what price.
    public var billing: Billing
    /// Whether its requests cost money (the preview's do not: its plans are priced as the
    /// provider it stands in for, to show what the real run would cost).
    public var isBilled: Bool

    /// A provider.
    public init(
        id: String, model: String, fps: Int = ModelLimits.fps, lengths: RequestLengths, billing: Billing,
        isBilled: Bool = true
    ) {
        self.id = id
        self.model = model
        self.fps = fps
        self.lengths = lengths
        self.billing = billing
        self.isBilled = isBilled
    }

    /// ``id``.
    public var description: String { id }

    /// fal's `fal-ai/infinitalk`: `num_frames` (4n + 1, 41…721) sets the length; billed per
    /// second of video requested, $0.20 (480p) or $0.40 (720p).
    public static let fal = Provider(
        id: "fal", model: InfiniTalk.endpoint,
        lengths: RequestLengths(
            setBy: .numFrames, step: ModelLimits.frameStep, minimum: ModelLimits.minimumFrames,
            maximum: ModelLimits.maximumFrames),
        billing: Billing(prices: ["480p": 0.20, "720p": 0.40], unitFrames: 1, minimumFrames: 0))

    /// WaveSpeed's `wavespeed-ai/infinitetalk`: the audio sent sets the length (up to 600 s);
    /// billed per started second of video, at least 5 s, $0.03 (480p) or $0.06 (720p) a second.
    public static let wavespeed = Provider(
        id: "wavespeed", model: "wavespeed-ai/infinitetalk",
        lengths: RequestLengths(setBy: .audio, step: 1, minimum: 1, maximum: 600 * ModelLimits.fps),
        billing: Billing(prices: ["480p": 0.03, "720p": 0.06], unitFrames: ModelLimits.fps, minimumFrames: 5 * ModelLimits.fps))

    /// The offline preview renderer: fal's request rules and prices (its plans show what fal
    /// would charge), and nothing billed.
    public static let preview = Provider(
        id: "preview", model: "preview", lengths: fal.lengths, billing: fal.billing, isBilled: false)

    /// The providers a plan is priced on, side by side.
    public static let billed: [Provider] = [.fal, .wavespeed]
    /// Every provider this version knows.
    public static let known: [Provider] = [.fal, .wavespeed, .preview]

    /// The provider called `id`, or `nil`.
    public static func named(_ id: String) -> Provider? { known.first { $0.id == id } }
}

/// How long one request can be, and what sets its length.
public struct RequestLengths: Sendable, Hashable, Codable {
    /// What sets a request's length.
    public struct Source: Sendable, Hashable, Codable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }
        /// The request asks for a number of frames (fal's `num_frames`).
        public static let numFrames = Source("numFrames")
        /// The clip is as long as the audio sent.
        public static let audio = Source("audio")
    }

    /// What sets a request's length.
    public var setBy: Source
    /// Valid lengths are `minimum + k · step` frames.
    public var step: Int
    /// The shortest request, in frames.
    public var minimum: Int
    /// The longest request, in frames.
    public var maximum: Int

    /// Lengths.
    public init(setBy: Source, step: Int, minimum: Int, maximum: Int) {
        self.setBy = setBy
        self.step = step
        self.minimum = minimum
        self.maximum = maximum
    }

    /// Whether one request can be `frames` long.
    public func isValid(_ frames: Int) -> Bool {
        frames >= minimum && frames <= maximum && (frames - minimum) % step == 0
    }

    /// The rule in words: `4n + 1 within 41…721`, `1…15000 frames`.
    public var rule: String { rule(maximum: maximum) }

    /// The rule in words, with a lower maximum.
    public func rule(maximum: Int) -> String {
        if step == 4 && minimum % 4 == 1 { return "4n + 1 within \(minimum)…\(maximum)" }
        return step == 1 ? "\(minimum)…\(maximum) frames" : "\(minimum) + \(step)k within \(minimum)…\(maximum) frames"
    }

    /// The longest valid request not above `frames`, or `nil` below the minimum.
    public func roundDown(_ frames: Int) -> Int? {
        guard frames >= minimum else { return nil }
        let capped = min(frames, maximum)
        return capped - (capped - minimum) % step
    }
}

/// How a provider bills a request, and its prices.
public struct Billing: Sendable, Hashable, Codable {
    /// US dollars per second of video, by resolution (`"480p"`).
    public var prices: [String: Double]
    /// Billed lengths are rounded up to a multiple of this many frames (1: billed exactly;
    /// 25: per started second).
    public var unitFrames: Int
    /// The least a request is billed for, in frames.
    public var minimumFrames: Int

    /// A billing rule.
    public init(prices: [String: Double], unitFrames: Int, minimumFrames: Int) {
        self.prices = prices
        self.unitFrames = unitFrames
        self.minimumFrames = minimumFrames
    }

    /// The frames billed for a request of `frames` frames: rounded up to the unit, at least
    /// the minimum.
    public func billedFrames(_ frames: Int) -> Int {
        let unit = max(1, unitFrames)
        return max(minimumFrames, (frames + unit - 1) / unit * unit)
    }

    /// The price per second of video at `resolution`.
    public func pricePerSecond(_ resolution: InfiniTalk.Resolution) -> Double {
        prices[resolution.rawValue] ?? 0
    }
}
