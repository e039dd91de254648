import Foundation

/// The options a run recorded in its manifest so that the job can be resumed from its work dir
/// alone (the ones that decide the clips, where the output goes, the cap). Manifests written
/// before it existed have none.
public struct RunSettings: Codable, Sendable, Equatable {
    /// The provider's id (`fal`, `wavespeed`, `preview`).
    public var provider: String
    /// The fal endpoint, when the provider is fal.
    public var endpoint: String?
    public var output: String
    public var prompt: String
    public var resolution: String
    public var seed: Int
    public var acceleration: String
    /// The longest request asked for, when it was limited.
    public var maxFrames: Int?
    /// The work dir, when one was given (otherwise it follows from the inputs).
    public var workDir: String?
    /// The spending cap, US dollars.
    public var maxCost: Double?

    init(_ o: PipelineOptions) {
        provider = o.provider.id
        endpoint = o.provider.id == Provider.fal.id ? o.endpoint : nil
        output = o.resolvedOutput
        prompt = o.prompt
        resolution = o.resolution.rawValue
        seed = o.seed
        acceleration = o.acceleration.rawValue
        maxFrames = o.maxFrames == .max ? nil : o.maxFrames
        workDir = o.workDir.map { o.absolute($0) }
        maxCost = o.maxCost
    }
}

/// Where a job stands, read from its work dir whether a run holds it or not, without changing
/// anything there.
///
/// ```swift
/// let status = try JobStatus.read(workDir: URL(fileURLWithPath: "/path/to/work"))
/// print(status.segmentsDone, "of", status.segmentsTotal, status.committedCost)
/// ```
public struct JobStatus: Codable, Sendable, Equatable {
    /// The work dir read.
    public var workDir: String
    /// Whether a run holds the work dir now.
    public var running: Bool
    /// The pid the last run to lock the work dir wrote (the running one when ``running``).
    public var pid: Int?
    /// The job's audio and (first) portrait, as the last run recorded them.
    public var audio: String
    public var image: String
    /// The backend identity (`fal-ai/infinitalk`, `wavespeed-ai/infinitetalk`, `preview`).
    public var backend: String
    public var segmentsTotal: Int
    /// Segments with a finished clip.
    public var segmentsDone: Int
    /// Segments with a request in the queue, finished but not downloaded, or being submitted.
    public var segmentsInFlight: Int
    /// Segments whose submit got no answer (they may have been billed; only
    /// ``PipelineOptions/resubmitUnknown`` sends them again).
    public var segmentsUnknown: Int
    /// Segments whose generation failed more times than a run allows (the next run retries).
    public var segmentsFailed: Int
    /// Segments with nothing sent yet.
    public var segmentsLeft: Int
    public var framesDone: Int
    public var framesTotal: Int
    /// The money the job's submits committed, in all its runs (US dollars; 0 for the preview).
    public var committedCost: Double
    /// The plan's estimate for the whole job.
    public var estimatedCost: Double
    /// What the segments without a finished clip would still cost (one submit each).
    public var remainingCost: Double
    /// The options the last run recorded; nil for a work dir of an older version.
    public var settings: RunSettings?
    /// The speakers of a multi-speaker job (their portraits are given with `--speaker`), nil
    /// for one portrait.
    public var speakers: [String]?
    /// How far the job's live stream reaches, when a run had one.
    public var live: LiveReach? = nil

    /// Reads the status of the job in `workDir`.
    /// - Throws: ``PipelineError`` (``PipelineError/Kind/invalidWorkDir``) when there is no
    ///   manifest there or it is damaged.
    public static func read(workDir: URL) throws -> JobStatus {
        let manifestURL = workDir.appendingPathComponent("manifest.json")
        guard let manifest = try ManifestStore.load(from: manifestURL) else {
            throw PipelineError(
                .invalidWorkDir, "\(workDir.path): no job here (no manifest.json)", option: "workDir", file: workDir.path)
        }
        let plan = manifest.plan
        let records = manifest.segments.filter { plan.segments.indices.contains($0.index) }
        func count(_ states: Set<SegmentState>) -> Int { records.filter { states.contains($0.state) }.count }
        let billed = manifest.backend != Provider.preview.model
        let cost = { (frames: Int) -> Double in billed ? Plan.cost(paidFrames: frames, pricePerSecond: plan.pricePerSecond) : 0 }
        let notDone = records.filter { $0.state != .done }
        let lock = WorkDirLock.holder(directory: workDir)
        let inFlight = count([.submitting, .submitted, .completed])
        let unknown = count([.unknown]), failed = count([.failed]), done = count([.done])
        return JobStatus(
            workDir: workDir.path, running: lock.held, pid: lock.pid, audio: manifest.audio, image: manifest.image,
            backend: manifest.backend, segmentsTotal: plan.segments.count, segmentsDone: done,
            segmentsInFlight: inFlight, segmentsUnknown: unknown, segmentsFailed: failed,
            segmentsLeft: plan.segments.count - done - inFlight - unknown - failed,
            framesDone: records.filter { $0.state == .done }.reduce(0) { $0 + plan.segments[$1.index].frameCount },
            framesTotal: plan.totalFrames,
            committedCost: cost(Budget.committedFrames(plan: plan, segments: records)),
            estimatedCost: plan.estimatedCost,
            remainingCost: cost(notDone.reduce(0) { $0 + Budget.billedFrames(plan, $1.index) }),
            settings: manifest.settings, speakers: plan.speakers?.map(\.name), live: LiveReach.read(workDir: workDir))
    }

    /// The work dir a run of `options` uses (the one given, or the one its inputs name under
    /// the cache dir), found the way the run finds it: by reading and planning the inputs.
    /// Nothing is sent and the work dir is not touched.
    public static func workDir(for options: PipelineOptions) async throws -> URL {
        if let given = options.workDir { return URL(fileURLWithPath: options.absolute(given)) }
        do {
            let inputs = try await RunInputs.read(options) {}
            return try await WorkDir.location(options: options, inputs: inputs, identity: WorkDir.identity(options)).0
        } catch {
            throw PipelineError.from(error)
        }
    }
}
