import Foundation

/// A run's work dir, locked for this run, with its manifest loaded (or started) and checked
/// against the plan, and room on disk for what is still to be made.
struct WorkDir: Sendable {
    let url: URL
    let cacheRoot: URL
    let lock: WorkDirLock
    let store: ManifestStore

    /// Where this job's work dir is (``PipelineOptions/workDir``, or one under the cache dir
    /// named by the run key), and the run key: a hash of the inputs and options that decide the clips.
    static func location(options o: PipelineOptions, inputs: RunInputs, identity: String) async throws -> (URL, String) {
        let audioSHA = try await Hashing.sha256(fileAt: inputs.audioPath)
        let runKey = Hashing.key([
            "run-v1", audioSHA, inputs.imageSHA, o.prompt, o.resolution.rawValue, String(o.seed),
            o.acceleration.rawValue, String(inputs.plan.maxFrames), identity,
        ])
        let url =
            o.workDir.map { URL(fileURLWithPath: o.absolute($0)) }
            ?? ClipCache.defaultRoot(environment: o.environment).appendingPathComponent("work")
            .appendingPathComponent(String(runKey.prefix(16)))
        return (url, runKey)
    }

    /// The backend identity a run of `o` without a backend or client of its own has.
    static func identity(_ o: PipelineOptions) -> String {
        o.provider.id == Provider.fal.id ? o.endpoint : o.provider.model
    }

    /// Opens (or makes) the work dir for this job.
    /// - Parameter warn: notes about a manifest that was put back in order.
    static func open(
        options o: PipelineOptions, inputs: RunInputs, identity: String,
        warn: (String) -> Void
    ) async throws -> WorkDir {
        let plan = inputs.plan
        let (url, runKey) = try await location(options: o, inputs: inputs, identity: identity)
        let cacheRoot = ClipCache.defaultRoot(environment: o.environment)
        do {
            for sub in ["clips", "audio"] {
                try FileManager.default.createDirectory(at: url.appendingPathComponent(sub), withIntermediateDirectories: true)
            }
        } catch {
            throw PipelineError(
                .invalidWorkDir, "\(url.path): cannot create the work dir (\(Pipeline.reason(error)))",
                file: url.path, underlying: error)
        }
        // One run per work dir: a second run of the same job stops here, before it reads the
        // manifest or sends anything (the kernel releases the lock when a process dies).
        let lock = try WorkDirLock(directory: url)
        do {
            let manifestURL = url.appendingPathComponent("manifest.json")
            var manifest: Manifest
            if let existing = try ManifestStore.load(from: manifestURL) {
                // The same requests (levels reported beside them may be measured differently by
                // another version, and do not matter to what was paid for).
                func requests(_ p: Plan) -> [[Int]] { p.segments.map { [$0.index, $0.startFrame, $0.frameCount, $0.numFrames] } }
                guard existing.backend == identity else {
                    throw PipelineError(
                        .invalidWorkDir,
                        "\(url.path): this work dir holds a job for \(existing.backend), and this run is for \(identity): a clip made by one provider is never used for another",
                        option: "workDir", file: url.path)
                }
                guard existing.runKey == runKey, requests(existing.plan) == requests(plan) else {
                    throw PipelineError(
                        .invalidWorkDir,
                        "\(url.path): this work dir belongs to another run (different inputs or options)",
                        option: "workDir", file: url.path)
                }
                let (checked, notes) = try existing.reconciled(workDir: url, manifestPath: manifestURL.path)
                notes.forEach(warn)
                manifest = checked
                manifest.audio = inputs.audioPath
                manifest.image = inputs.imagePath
            } else {
                manifest = Manifest(
                    runKey: runKey, audio: inputs.audioPath, image: inputs.imagePath, backend: identity, plan: plan,
                    imageSHA256: inputs.imageSHA, imageURL: nil,
                    segments: plan.segments.map { SegmentRecord(index: $0.index) })
            }
            manifest.settings = RunSettings(o)
            // Room for what is still to be made, before anything is paid for.
            let framesToMake = zip(plan.segments, manifest.segments).reduce(0) { $0 + ($1.1.state == .done ? 0 : $1.0.numFrames) }
            try DiskSpace.check(
                plan: plan, framesToMake: framesToMake, workDir: url.path,
                outputDirectory: inputs.outputDirectory, resolution: o.resolution)
            let store = try ManifestStore(manifest: manifest, url: manifestURL)
            return WorkDir(url: url, cacheRoot: cacheRoot, lock: lock, store: store)
        } catch {
            lock.release()
            throw error
        }
    }
}
