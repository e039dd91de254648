// The planner's error: the audio's numbers or a planning option it refuses.

/// Why a plan could not be made: the audio's numbers or a planning option.
///
/// An ``InfiniPipelineError``, compared through ``kind`` (an ``ErrorKind``), so new kinds can be
/// added without breaking callers. ``description`` is one line that names the
/// value and the reason, for example `maxFrames 30 is below the model's minimum of 41`; an
/// error about a ``PlanningOptions`` value sets ``option`` to the property's name.
public struct PlanningError: InfiniPipelineError, Equatable {
    /// The kind of a ``PlanningError``: compare with `==` or match with `~=`
    /// (`case PlanningError.Kind.zeroLengthAudio = error`). New kinds may be added; switch with a `default`.
    public typealias Kind = ErrorKind<PlanningError>

    /// The kind of failure.
    public let kind: Kind
    /// The ``PlanningOptions`` property at fault (`"maxFrames"`, `"pricePerSecond"`); `nil`
    /// when the audio is.
    public let option: String?
    /// One line naming the value and the reason.
    public let description: String

    public var kindName: String { kind.name }
    /// ``ErrorFault/option`` when ``option`` names the value at fault, else ``ErrorFault/input``.
    public var fault: ErrorFault { option == nil ? .input : .option }

    private init(_ kind: Kind, option: String? = nil, _ description: String) {
        self.kind = kind
        self.option = option
        self.description = description
    }

    /// The decoded audio has no samples.
    static let zeroLengthAudio = PlanningError(.zeroLengthAudio, "the audio is empty (0 samples): nothing to plan")

    /// A negative sample count.
    static func invalidSampleCount(_ n: Int) -> PlanningError {
        PlanningError(.invalidSampleCount, "invalid sample count \(n): it must not be negative")
    }

    /// A sample rate below 1.
    static func invalidSampleRate(_ rate: Int) -> PlanningError {
        PlanningError(.invalidSampleRate, "invalid sample rate \(rate) Hz: it must be at least 1")
    }

    /// A channel count below 1.
    static func invalidChannelCount(_ channels: Int) -> PlanningError {
        PlanningError(.invalidChannelCount, "invalid channel count \(channels): it must be at least 1")
    }

    /// `maxFrames` below the model's minimum request.
    static func maxFramesBelowMinimum(_ n: Int, minimum: Int = ModelLimits.minimumFrames) -> PlanningError {
        PlanningError(
            .maxFramesBelowMinimum, option: "maxFrames",
            "maxFrames \(n) is below the model's minimum of \(minimum)")
    }

    /// A negative, infinite or NaN price.
    static func invalidPrice(_ price: Double) -> PlanningError {
        PlanningError(
            .invalidPrice, option: "pricePerSecond",
            "pricePerSecond \(price) is not a price: it must be a finite number ≥ 0")
    }

    /// A sample's length or start that the job's audio cannot give (`option` is `sample` or `sampleAt`).
    static func invalidSample(option: String, _ description: String) -> PlanningError {
        PlanningError(.invalidSample, option: option, description)
    }

    /// `samples · 25` overflows.
    static func audioTooLong(samples: Int) -> PlanningError {
        PlanningError(.audioTooLong, "the audio is too long to plan (\(samples) samples)")
    }
}

extension ErrorKind where Owner == PlanningError {
    /// The decoded audio has no samples.
    public static var zeroLengthAudio: Self { Self("zeroLengthAudio") }
    /// A negative sample count.
    public static var invalidSampleCount: Self { Self("invalidSampleCount") }
    /// A sample rate below 1.
    public static var invalidSampleRate: Self { Self("invalidSampleRate") }
    /// A channel count below 1.
    public static var invalidChannelCount: Self { Self("invalidChannelCount") }
    /// ``PlanningOptions/maxFrames`` below the model's minimum request.
    public static var maxFramesBelowMinimum: Self { Self("maxFramesBelowMinimum") }
    /// A ``PlanningOptions/pricePerSecond`` that is negative, infinite or NaN.
    public static var invalidPrice: Self { Self("invalidPrice") }
    /// `samples · 25` does not fit in an `Int`.
    public static var audioTooLong: Self { Self("audioTooLong") }
    /// A plan that the chosen ``PlanningOptions/provider`` cannot make in this version.
    public static var unsupportedProvider: Self { Self("unsupportedProvider") }
    /// A sample (``SampleSpan``) of 0 s or less, or starting outside the audio.
    public static var invalidSample: Self { Self("invalidSample") }
}
