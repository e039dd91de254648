import Foundation

/// Why a run stopped: what kind of stop, one line naming the file, value or segment, and the
/// error it came from.
///
/// Extensible like AsyncHTTPClient's `HTTPClientError`: a struct over a private code, compared
/// through ``kind``, so new kinds can be added without breaking callers:
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
public struct PipelineError: Error, CustomStringConvertible, Sendable {
    fileprivate enum Code: String, Sendable {
        case invalidInput, invalidOption, invalidOutput, missingCredentials, workDirInUse, invalidWorkDir
        case overBudget, insufficientDiskSpace, generationFailed, stitchFailed, failed, interrupted
        case alreadyStarted
    }

    /// The kind of a ``PipelineError``: compare with `==` or match with `~=`.
    /// New kinds may be added; switch with a `default`.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        fileprivate let code: Code
        fileprivate init(_ code: Code) { self.code = code }
        public var description: String { code.rawValue }

        /// Matches an error against a kind: `catch PipelineError.Kind.interrupted`.
        public static func ~= (kind: Kind, error: any Error) -> Bool {
            (error as? PipelineError)?.kind == kind
        }

        /// An input (the audio, the image, a manifest) is missing, unreadable or unusable;
        /// ``PipelineError/file`` names it.
        public static let invalidInput = Kind(.invalidInput)
        /// An option's value is out of range; ``PipelineError/option`` names the
        /// ``PipelineOptions`` property.
        public static let invalidOption = Kind(.invalidOption)
        /// The output cannot be written where it was asked for (no such directory, not
        /// writable, a device, or it would overwrite an input).
        public static let invalidOutput = Kind(.invalidOutput)
        /// The fal backend has no usable key or configuration.
        public static let missingCredentials = Kind(.missingCredentials)
        /// Another run of the same job holds the work dir.
        public static let workDirInUse = Kind(.workDirInUse)
        /// The work dir cannot be created, belongs to another run, or its manifest is damaged.
        public static let invalidWorkDir = Kind(.invalidWorkDir)
        /// The plan's estimated cost is above ``PipelineOptions/maxCost``.
        public static let overBudget = Kind(.overBudget)
        /// The disks of the work dir or the output lack room for what is still to be made.
        public static let insufficientDiskSpace = Kind(.insufficientDiskSpace)
        /// One or more segments could not be generated; ``PipelineError/segments`` lists them.
        /// Finished clips are kept: running the job again resumes.
        public static let generationFailed = Kind(.generationFailed)
        /// The clips could not be joined into the output.
        public static let stitchFailed = Kind(.stitchFailed)
        /// Anything else that went wrong during the run (a file that could not be written…).
        public static let failed = Kind(.failed)
        /// The run's task was cancelled (Ctrl-C, SIGTERM, or the app). Running the job again
        /// resumes.
        public static let interrupted = Kind(.interrupted)
        /// ``Pipeline/run()`` was called a second time on the same pipeline.
        public static let alreadyStarted = Kind(.alreadyStarted)
    }

    /// The kind of stop.
    public let kind: Kind
    /// One line: what happened, to which file, value or segment.
    public let message: String
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

    /// Creates an error.
    public init(
        _ kind: Kind, _ message: String, option: String? = nil, file: String? = nil, segments: [Int] = [],
        underlying: (any Error)? = nil
    ) {
        self.kind = kind
        self.message = message
        self.option = option
        self.file = file
        self.segments = segments
        self.underlying = underlying
    }

    /// ``message``.
    public var description: String { message }
}
