import Foundation

/// Why a run stopped: what kind of stop, one line naming the file, value or segment, and the
/// error it came from.
///
/// An ``InfiniPipelineError``, compared through ``kind`` (an ``ErrorKind``), so new kinds can be
/// added without breaking callers:
///
/// ```swift
/// do {
///     try await pipeline.run()
/// } catch let error as PipelineError where error.kind == .missingCredentials {
///     askForKey()
/// } catch PipelineError.Kind.interrupted {
///     // the user stopped the run; running it again resumes
/// }
/// ```
public struct PipelineError: InfiniPipelineError {
    /// The kind of a ``PipelineError``: compare with `==` or match with `~=`
    /// (`case PipelineError.Kind.invalidInput = error`). New kinds may be added; switch with a `default`.
    public typealias Kind = ErrorKind<PipelineError>

    /// The kind of stop.
    public let kind: Kind
    /// One line: what happened, to which file, value or segment.
    public let description: String
    /// The ``PipelineOptions`` property whose value is wrong (``Kind/invalidOption``,
    /// ``Kind/overBudget``), or the one that would let the run start (`credentials` for
    /// ``Kind/missingCredentials`` without a key, `workDir` for a work dir of another run).
    /// A command line maps it to its flag.
    public let option: String?
    /// The file the error is about, when there is one.
    public let file: String?
    /// The segments that failed (plan indices), for ``Kind/generationFailed``.
    public let segments: [Int]
    /// The error this one reports, when it came from a stage (a `MediaError`, `ImageFitError`,
    /// `PlanningError`, `FalError`, …) or from the system.
    public let underlying: (any Error)?
    /// For ``Kind/budgetExceeded``: the smallest ``PipelineOptions/maxCost`` (US dollars) with
    /// which running the job again can finish it, as far as the plan knows (failures cost more).
    public let requiredMaxCost: Double?

    /// Creates an error.
    public init(
        _ kind: Kind, _ message: String, option: String? = nil, file: String? = nil, segments: [Int] = [],
        underlying: (any Error)? = nil, requiredMaxCost: Double? = nil
    ) {
        self.requiredMaxCost = requiredMaxCost
        self.kind = kind
        self.description = message
        self.option = option
        self.file = file
        self.segments = segments
        self.underlying = underlying
    }

    /// The old name of ``description``.
    @available(*, deprecated, renamed: "description")
    public var message: String { description }

    public var kindName: String { kind.name }

    /// Whose fault the stop is: an input, an option (``Kind/overBudget`` too), the key, the
    /// output or work dir (its place, its lock, its disk), the provider, the run's interruption,
    /// or the machine.
    public var fault: ErrorFault {
        switch kind {
        case .invalidInput: return .input
        case .invalidOption, .overBudget: return .option
        case .missingCredentials: return .credentials
        case .invalidOutput, .workDirInUse, .invalidWorkDir, .insufficientDiskSpace: return .output
        case .generationFailed: return .generation
        case .interrupted: return .interrupted
        case .budgetExceeded: return .budget
        default: return .system
        }
    }
}

extension ErrorKind where Owner == PipelineError {
    /// An input (the audio, the image, a manifest) is missing, unreadable or unusable;
    /// ``PipelineError/file`` names it.
    public static var invalidInput: Self { Self("invalidInput") }
    /// An option's value is out of range; ``PipelineError/option`` names the
    /// ``PipelineOptions`` property.
    public static var invalidOption: Self { Self("invalidOption") }
    /// The output cannot be written where it was asked for (no such directory, not
    /// writable, a device, or it would overwrite an input).
    public static var invalidOutput: Self { Self("invalidOutput") }
    /// The fal backend has no usable key or configuration.
    public static var missingCredentials: Self { Self("missingCredentials") }
    /// Another run of the same job holds the work dir.
    public static var workDirInUse: Self { Self("workDirInUse") }
    /// The work dir cannot be created, belongs to another run, or its manifest is damaged.
    public static var invalidWorkDir: Self { Self("invalidWorkDir") }
    /// The plan's estimated cost is above ``PipelineOptions/maxCost``.
    public static var overBudget: Self { Self("overBudget") }
    /// The spending cap stopped the run during generation: the next submit would have taken
    /// the money committed (by this run and earlier runs of the job) above
    /// ``PipelineOptions/maxCost``. It stopped like an interruption (finished clips kept,
    /// requests in flight recorded); running the job again with a higher cap resumes, and
    /// ``PipelineError/requiredMaxCost`` says how high.
    public static var budgetExceeded: Self { Self("budgetExceeded") }
    /// The disks of the work dir or the output lack room for what is still to be made.
    public static var insufficientDiskSpace: Self { Self("insufficientDiskSpace") }
    /// One or more segments could not be generated; ``PipelineError/segments`` lists them.
    /// Finished clips are kept: running the job again resumes.
    public static var generationFailed: Self { Self("generationFailed") }
    /// The clips could not be joined into the output.
    public static var stitchFailed: Self { Self("stitchFailed") }
    /// Anything else that went wrong during the run (a file that could not be written…).
    public static var failed: Self { Self("failed") }
    /// The run's task was cancelled (Ctrl-C, SIGTERM, or the app). Running the job again
    /// resumes.
    public static var interrupted: Self { Self("interrupted") }
    /// ``Pipeline/run()`` was called a second time on the same pipeline.
    public static var alreadyStarted: Self { Self("alreadyStarted") }
}
