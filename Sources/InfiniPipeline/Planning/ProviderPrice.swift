// InfiniPipeline: what the same job costs on each provider, side by side.

/// What one plan costs on its provider: the price, the seconds billed, the requests and the
/// seams they make.
public struct ProviderPrice: Sendable, Equatable, Codable {
    /// The provider's id (``Provider/id``).
    public var provider: String
    /// The estimated cost in US dollars.
    public var cost: Double
    /// Seconds of video billed.
    public var paidSeconds: Double
    /// Requests the plan makes.
    public var requests: Int
    /// Seams between clips: one fewer than the requests.
    public var seams: Int { max(0, requests - 1) }

    /// A price.
    public init(provider: String, cost: Double, paidSeconds: Double, requests: Int) {
        self.provider = provider
        self.cost = cost
        self.paidSeconds = paidSeconds
        self.requests = requests
    }

    private enum CodingKeys: String, CodingKey { case provider, cost, paidSeconds, requests, seams }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            provider: try c.decode(String.self, forKey: .provider), cost: try c.decode(Double.self, forKey: .cost),
            paidSeconds: try c.decode(Double.self, forKey: .paidSeconds), requests: try c.decode(Int.self, forKey: .requests))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(provider, forKey: .provider)
        try c.encode(cost, forKey: .cost)
        try c.encode(paidSeconds, forKey: .paidSeconds)
        try c.encode(requests, forKey: .requests)
        try c.encode(seams, forKey: .seams)
    }

    /// `wavespeed $108.00 (6 requests, 5 seams)`.
    public var summary: String {
        "\(provider) $" + String(format: "%.2f", cost)
            + " (\(requests) request\(requests == 1 ? "" : "s"), \(seams) seam\(seams == 1 ? "" : "s"))"
    }
}

extension Plan {
    /// What this plan costs on its provider.
    public var price: ProviderPrice {
        ProviderPrice(provider: providerRules.id, cost: estimatedCost, paidSeconds: paidSeconds, requests: segments.count)
    }
}

extension SegmentPlanner {
    /// The same audio planned on every billed provider (``Provider/billed``) with the same
    /// resolution and concurrency, the plan's own provider first (the preview is not listed): what a user compares before
    /// choosing. A price override applies to the plan's own provider only; the others are at
    /// their list prices, with their own default request lengths.
    /// - Parameters:
    ///   - analysis: The audio stage's result.
    ///   - plan: The plan made for `options`.
    ///   - options: The options `plan` was made with.
    /// - Throws: ``PlanningError`` when the audio cannot be planned.
    public static func prices(_ analysis: AudioAnalysis, plan: Plan, options: PlanningOptions) throws -> [ProviderPrice] {
        try prices(of: plan, options: options) { _, other in try Self.plan(analysis, options: other) }
    }

    /// The same multi-speaker job planned on every billed provider, the plan's own first: the
    /// shots of `timeline` on each (with `minShot`, or each provider's own default when `nil`:
    /// 2 s on fal, 5 s on WaveSpeed), at list prices and default request lengths for the others.
    /// - Parameters:
    ///   - analysis: The audio stage's result (the final mix).
    ///   - plan: The multi-speaker plan made for `options`.
    ///   - timeline: Who speaks when, as the plan was made from it.
    ///   - minShot: The minimum shot the run was given, or `nil` for each provider's default.
    ///   - options: The options `plan` was made with.
    /// - Throws: ``PlanningError`` or ``SpeakerError`` when the audio or the speakers cannot be planned.
    public static func prices(
        _ analysis: AudioAnalysis, plan: Plan, timeline: SpeakerTimeline, minShot: Double?, options: PlanningOptions
    ) throws -> [ProviderPrice] {
        try prices(of: plan, options: options) { provider, other in
            let shots = try timeline.shots(
                totalFrames: plan.totalFrames, minShot: minShot ?? SpeakerTimeline.defaultMinShot(for: provider))
            return try Self.plan(
                samples: analysis.samples, sampleRate: analysis.format.sampleRate, channels: analysis.format.channels,
                envelope: analysis.envelope, shots: shots, speakers: plan.speakers ?? [], options: other)
        }
    }

    /// `plan`'s own price (when billed), then the price of the plan `planOn` makes on every
    /// other billed provider from `options` at that provider's list price and default request length.
    private static func prices(
        of plan: Plan, options: PlanningOptions, planOn: (Provider, PlanningOptions) throws -> Plan
    ) throws -> [ProviderPrice] {
        var prices = plan.providerRules.isBilled ? [plan.price] : []
        for provider in Provider.billed where provider.id != plan.providerRules.id {
            var other = options
            other.provider = provider
            other.pricePerSecond = nil
            other.maxFrames = .max
            prices.append(try planOn(provider, other).price)
        }
        return prices
    }
}
