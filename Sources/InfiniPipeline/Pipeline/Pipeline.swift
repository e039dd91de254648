import Foundation

/// The whole job: fit the image, plan the audio, generate every segment concurrently (resumable,
/// never paying twice), stitch, and report.
///
/// ```swift
/// var options = PipelineOptions(audio: "talk.mp3", image: "me.jpg")
/// options.backend = .preview
/// let pipeline = Pipeline(options: options)
/// Task { for await event in pipeline.events { print(event) } }
/// let summary = try await pipeline.run()
/// ```
///
/// A run keeps a manifest in its work dir, rewritten atomically at every state change. Running
/// the same job again after a crash, a kill or Ctrl-C resumes: finished clips are reused and
/// submitted requests are polled by their recorded id, never resubmitted. Clips are also cached
/// by content, across work dirs.
public final class Pipeline: Sendable {
    /// The run's options.
    public let options: PipelineOptions
    /// Progress of the run; finishes when `run()` returns or throws.
    public let events: AsyncStream<PipelineEvent>

    private let continuation: AsyncStream<PipelineEvent>.Continuation
    private let backendOverride: (any ClipBackend)?

    /// A pipeline for `options`. `backend` replaces the one `options.backend` names (tests and
    /// apps with their own generator use this).
    public init(options: PipelineOptions, backend: (any ClipBackend)? = nil) {
        self.options = options
        self.backendOverride = backend
        (events, continuation) = AsyncStream.makeStream(of: PipelineEvent.self, bufferingPolicy: .unbounded)
    }

    private func emit(_ event: PipelineEvent) { continuation.yield(event) }

    /// Runs the job.
    /// - Returns: the summary (also sent as the last event).
    /// - Throws: ``PipelineError`` (bad input, failure, interrupted).
    public func run() async throws -> PipelineSummary {
        defer { continuation.finish() }
        do {
            return try await execute()
        } catch let error as PipelineError {
            throw error
        } catch let error as MediaError {
            throw error.isBadInput ? PipelineError.badInput(error.description) : PipelineError.failure(error.description)
        } catch let error as PlanningError {
            throw PipelineError.badInput(error.description)
        } catch let error as FalError {
            throw error.isBadInput ? PipelineError.badInput(error.description) : PipelineError.failure(error.description)
        } catch let error as ImageFitError {
            throw PipelineError.badInput(error.file == nil ? "\(options.image): \(error.description)" : error.description)
        } catch is CancellationError {
            throw PipelineError(kind: .interrupted, message: "interrupted; run the same command again to resume")
        } catch {
            if Task.isCancelled {
                throw PipelineError(kind: .interrupted, message: "interrupted; run the same command again to resume")
            }
            throw PipelineError.failure(Self.describe(error))
        }
    }

    // MARK: - The flow

    private func execute() async throws -> PipelineSummary {
        let started = Date()
        let o = options
        let audioPath = o.absolute(o.audio), imagePath = o.absolute(o.image), output = o.resolvedOutput

        // 1. Validate every input before anything else (no network before this passes).
        try Self.checkInputFile(audioPath, role: "audio")
        try Self.checkInputFile(imagePath, role: "image")
        let outputDirectory = URL(fileURLWithPath: output).deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: outputDirectory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw PipelineError.badInput("\(output): the directory \(outputDirectory) does not exist")
        }
        guard FileManager.default.isWritableFile(atPath: outputDirectory) else {
            throw PipelineError.badInput("\(output): the directory \(outputDirectory) is not writable")
        }
        guard output != audioPath, output != imagePath else {
            throw PipelineError.badInput("\(output): the output would overwrite an input")
        }
        do {
            try FileChecks.requireReplaceableFile(output)
        } catch let error as MediaError {
            throw PipelineError.badInput(error.description)
        }
        guard o.concurrency >= 1, o.concurrency <= 64 else {
            throw PipelineError.badInput("--concurrency \(o.concurrency) must be between 1 and 64")
        }
        if let maxCost = o.maxCost, !(maxCost.isFinite && maxCost >= 0) {
            throw PipelineError.badInput("--max-cost \(maxCost) must be a number ≥ 0")
        }
        guard !o.prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw PipelineError.badInput("--prompt must not be empty")
        }
        guard o.seed >= 0 else { throw PipelineError.badInput("--seed \(o.seed) must not be negative") }
        let planning = PlanningOptions(maxFrames: o.maxFrames, resolution: o.resolution, pricePerSecond: o.pricePerSecond)
        _ = try SegmentPlanner.effectiveMaxFrames(o.maxFrames)
        if backendOverride == nil, o.backend == .fal, !o.dryRun {
            try FalBackend.checkConfiguration(options: o)
        }

        // 2. Read the inputs whole before anything is reported or sent: bad input of any kind
        //    (an audio file the output cannot carry, a corrupt image, cut-off audio) ends the run
        //    with one error and nothing else. The output's audio is decided and proven here,
        //    with a scratch MP4 in the output's directory, so that no run pays for clips and
        //    then fails to write its output.
        let bitRate = o.stitch.audioBitRate
        let outputAudio = try await runBlocking {
            try OutputAudio.decide(audio: audioPath, scratchDirectory: outputDirectory, bitRate: bitRate)
        }
        let fitter = ImageFitter(resolution: o.resolution, aspect: o.aspect, cropAnchor: o.cropAnchor, background: o.background)
        let fitted = try await runBlocking { try fitter.fit(path: imagePath) }
        let png = try ImageCodec.encodePNG(fitted.pixels)
        let imageSHA = Hashing.sha256(png)
        let analysis = try await runBlocking { try AudioAnalysis.analyze(path: audioPath) }
        let plan = try SegmentPlanner.plan(analysis, options: planning)

        // 3. The plan and its price.
        emit(.image(width: fitted.bucket.width, height: fitted.bucket.height))
        for warning in analysis.warnings { emit(.warning(warning)) }
        emit(.plan(plan))
        emit(.outputAudio(outputAudio))
        if let maxCost = o.maxCost, plan.estimatedCost > maxCost + 1e-9 {
            throw PipelineError.badInput(String(format: "the estimated cost $%.2f is over --max-cost $%.2f", plan.estimatedCost, maxCost))
        }
        if o.dryRun {
            let summary = PipelineSummary(output: nil, duration: plan.audio.duration, frames: plan.totalFrames,
                                          segments: plan.segments.count, paidSeconds: 0, cost: 0,
                                          plannedSeconds: plan.paidSeconds, estimatedCost: plan.estimatedCost,
                                          reusedSegments: 0, wallTime: Date().timeIntervalSince(started), workDir: nil,
                                          videoPath: nil, dryRun: true, outputAudio: outputAudio)
            emit(.summary(summary))
            return summary
        }

        // 4. The work dir and its manifest.
        let identity = backendOverride?.identity ?? (o.backend == .preview ? "preview" : o.endpoint)
        let audioSHA = try await runBlocking { try Hashing.sha256(file: audioPath) }
        let runKey = Hashing.key(["run-v1", audioSHA, imageSHA, o.prompt, o.resolution.rawValue, String(o.seed),
                                  o.acceleration.rawValue, String(plan.maxFrames), identity])
        let cacheRoot = ClipCache.defaultRoot(environment: o.environment)
        let workDir = o.workDir.map { URL(fileURLWithPath: o.absolute($0)) }
            ?? cacheRoot.appendingPathComponent("work").appendingPathComponent(String(runKey.prefix(16)))
        do {
            try FileManager.default.createDirectory(at: workDir.appendingPathComponent("clips"), withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: workDir.appendingPathComponent("audio"), withIntermediateDirectories: true)
        } catch {
            throw PipelineError.badInput("\(workDir.path): cannot create the work dir (\(Self.reason(error)))")
        }
        // One run per work dir: a second run of the same job stops here, before it reads the
        // manifest or sends anything (the kernel releases the lock when a process dies).
        let lock = try WorkDirLock(directory: workDir)
        defer { lock.release() }
        let manifestURL = workDir.appendingPathComponent("manifest.json")
        var manifest: Manifest
        if let existing = try ManifestStore.load(from: manifestURL) {
            // The same requests (levels reported beside them may be measured differently by
            // another version, and do not matter to what was paid for).
            func requests(_ p: Plan) -> [[Int]] { p.segments.map { [$0.index, $0.startFrame, $0.frameCount, $0.numFrames] } }
            guard existing.runKey == runKey, requests(existing.plan) == requests(plan) else {
                throw PipelineError.badInput("\(workDir.path): this work dir belongs to another run (different inputs or options); choose another --work-dir")
            }
            let (checked, notes) = try existing.reconciled(workDir: workDir, manifestPath: manifestURL.path)
            for note in notes { emit(.warning(note)) }
            manifest = checked
            manifest.audio = audioPath
            manifest.image = imagePath
        } else {
            manifest = Manifest(runKey: runKey, audio: audioPath, image: imagePath, backend: identity, plan: plan,
                                imageSHA256: imageSHA, imageURL: nil, segments: plan.segments.map { SegmentRecord(index: $0.index) })
        }
        // Room for what is still to be made, before anything is paid for.
        let framesToMake = zip(plan.segments, manifest.segments).reduce(0) { $0 + ($1.1.state == .done ? 0 : $1.0.numFrames) }
        try DiskSpace.check(plan: plan, framesToMake: framesToMake, workDir: workDir.path, outputDirectory: outputDirectory,
                            resolution: o.resolution)
        let store = try ManifestStore(manifest: manifest, url: manifestURL)
        let backend = try backendOverride ?? makeBackend(workDir: workDir)
        let ownsBackend = backendOverride == nil
        do {
            let summary = try await generateAndStitch(plan: plan, manifest: manifest, store: store, backend: backend,
                                                      workDir: workDir, cacheRoot: cacheRoot, imageSHA: imageSHA, png: png,
                                                      identity: identity, audioPath: audioPath, output: output, started: started,
                                                      knownWarnings: Set(analysis.warnings))
            if ownsBackend { await backend.close() }
            return summary
        } catch {
            if ownsBackend { await backend.close() }
            throw error
        }
    }

    private func generateAndStitch(plan: Plan, manifest: Manifest, store: ManifestStore, backend: any ClipBackend,
                                   workDir: URL, cacheRoot: URL, imageSHA: String, png: [UInt8], identity: String,
                                   audioPath: String, output: String, started: Date,
                                   knownWarnings: Set<String>) async throws -> PipelineSummary {
        let o = options

        // 5. Cut the audio of every segment that lacks it.
        var needAudio: [Int] = []
        for record in manifest.segments {
            if record.state == .done, let clip = record.clipPath, FileManager.default.fileExists(atPath: clip) { continue }
            // Cut audio is reused only when it is still what was cut (and perhaps uploaded).
            if let file = record.audioFile, let sha = record.audioSHA256,
               (try? await runBlocking { try Hashing.sha256(file: file) }) == sha { continue }
            needAudio.append(record.index)
        }
        if !needAudio.isEmpty {
            emit(.stage("cutting segment audio"))
            let audioDir = workDir.appendingPathComponent("audio")
            let wanted = needAudio
            let files = try await runBlocking {
                try SegmentAudio.export(source: audioPath, plan: plan, segments: wanted, to: audioDir)
            }
            for index in needAudio {
                guard let url = files[index] else { continue }
                let sha = try Hashing.sha256(file: url.path)
                try await store.update(index) { r in
                    if r.audioSHA256 != sha { r.audioURL = nil }
                    r.audioFile = url.path
                    r.audioSHA256 = sha
                    if r.state == .pending { r.state = .audioReady }
                }
            }
        }

        // 6. Generate.
        let context = RunContext(plan: plan, backend: backend, store: store, workDir: workDir,
                                 cache: o.useCache ? ClipCache(directory: cacheRoot.appendingPathComponent("clips")) : nil,
                                 imageSHA: imageSHA, png: png, options: o, identity: identity)
        let pending = plan.segments.map(\.index)
        emit(.stage("generating"))
        try await generate(pending, context)

        // 7. Stitch (a clip the stitcher rejects is re-requested, within the attempt limit).
        emit(.stage("stitching"))
        var stitched: StitchResult?
        for _ in 0..<(o.maxAttempts + 1) {
            let records = await store.manifest.segments
            let clips = records.map { $0.clipPath ?? "" }
            let stitchOptions = o.stitch
            do {
                stitched = try await runBlocking {
                    try Stitcher.stitch(plan: plan, clips: clips, audio: audioPath, output: output, options: stitchOptions,
                                        warning: { [continuation = self.continuation] in
                                            // The audio's own warnings were given when it was planned.
                                            if !knownWarnings.contains($0) { continuation.yield(.warning($0)) }
                                        })
                }
                break
            } catch let error as ClipError {
                emit(.warning(error.description))
                try? FileManager.default.removeItem(atPath: Manifest.clipPath(error.segment, workDir: workDir))
                try await store.update(error.segment) { r in
                    r.failures.append(error.reason)
                    r.request = nil
                    r.resultURL = nil
                    r.clipPath = nil
                    r.clipSHA256 = nil
                    r.state = r.audioURL == nil ? .audioReady : .uploaded
                }
                try await generate([error.segment], context)
            }
        }
        guard let result = stitched else {
            throw PipelineError.failure("\(output): the clips could not be stitched")
        }

        let records = await store.manifest.segments
        let paid = context.paidFrames.value
        let summary = PipelineSummary(
            output: output, duration: plan.audio.duration, frames: result.totalFrames, segments: plan.segments.count,
            paidSeconds: identity == "preview" ? 0 : ModelLimits.seconds(forFrames: paid),
            cost: identity == "preview" ? 0 : Plan.cost(paidFrames: paid, pricePerSecond: plan.pricePerSecond),
            plannedSeconds: plan.paidSeconds, estimatedCost: plan.estimatedCost,
            reusedSegments: records.filter { $0.fromCache }.count + context.reused.value,
            wallTime: Date().timeIntervalSince(started), workDir: workDir.path, videoPath: result.videoPath.rawValue, dryRun: false,
            outputAudio: result.audio)
        emit(.summary(summary))
        return summary
    }

    private func makeBackend(workDir: URL) throws -> any ClipBackend {
        switch options.backend {
        case .preview:
            let dir = workDir.appendingPathComponent("preview")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            return PreviewBackend(directory: dir)
        case .fal:
            return try FalBackend(options: options)
        }
    }

    /// An error in one line: our own errors say what they are; Foundation's are cut down to
    /// the system's reason (never an NSError dump).
    static func describe(_ error: any Error) -> String {
        switch error {
        case let e as MediaError: return e.description
        case let e as PipelineError: return e.description
        case let e as FalError: return e.description
        case let e as GenerationFailure: return e.reason
        case let e as ClipError: return e.description
        default:
            let ns = error as NSError
            if ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain {
                let file = (ns.userInfo[NSFilePathErrorKey] as? String).map { "\($0): " } ?? ""
                return file + reason(error)
            }
            return String(describing: error)
        }
    }

    /// A Foundation error in a few words: the system's reason when there is one.
    static func reason(_ error: any Error) -> String {
        let ns = error as NSError
        if let posix = ns.userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(posix.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        return ns.localizedDescription
    }

    static func checkInputFile(_ path: String, role: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw PipelineError.badInput("\(path): no such \(role) file")
        }
        guard !isDirectory.boolValue else { throw PipelineError.badInput("\(path): is a directory, not an \(role) file") }
        do {
            try FileChecks.requireRegularFile(path)
        } catch let error as MediaError {
            throw PipelineError.badInput(error.description)
        }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw PipelineError.badInput("\(path): the \(role) file is not readable")
        }
    }

    // MARK: - Generation

    /// State shared by the segment tasks of one run.
    private struct RunContext: Sendable {
        let plan: Plan
        let backend: any ClipBackend
        let store: ManifestStore
        let workDir: URL
        let cache: ClipCache?
        let imageSHA: String
        let png: [UInt8]
        let options: PipelineOptions
        let identity: String
        let paidFrames = Counter()
        let reused = Counter()
        let imageURL = ImageURLBox()
    }

    /// Runs segments with at most `concurrency` in flight.
    ///
    /// When a segment fails, no new segment starts, but those in flight run to their end and
    /// are recorded (their requests are paid for); then the run stops, naming every failure.
    private func generate(_ indices: [Int], _ context: RunContext) async throws {
        let failures: [(index: Int, error: any Error)] = await withTaskGroup(of: (Int, (any Error)?).self) { group in
            var iterator = indices.makeIterator()
            var failures: [(index: Int, error: any Error)] = []
            func start() -> Bool {
                guard let index = iterator.next() else { return false }
                group.addTask {
                    do {
                        try await self.processNamingSegment(index, context)
                        return (index, nil)
                    } catch {
                        return (index, error)
                    }
                }
                return true
            }
            for _ in 0..<options.concurrency {
                if !start() { break }
            }
            while let (index, error) = await group.next() {
                if let error { failures.append((index, error)) }
                if failures.isEmpty && !Task.isCancelled { _ = start() }
            }
            return failures.sorted { $0.index < $1.index }
        }
        guard let first = failures.first else {
            try Task.checkCancellation()
            return
        }
        if Task.isCancelled || failures.contains(where: { $0.error is CancellationError }) { throw CancellationError() }
        if failures.count == 1 { throw first.error }
        let messages = failures.map { ($0.error as? PipelineError)?.message ?? "segment \($0.index): \(Self.describe($0.error))" }
        let allBadInput = failures.allSatisfy { ($0.error as? PipelineError)?.kind == .badInput }
        throw PipelineError(kind: allBadInput ? .badInput : .failure,
                            message: "\(failures.count) segments failed: " + messages.joined(separator: "; "))
    }

    private func update(_ index: Int, _ state: String, request: String? = nil, position: Int? = nil, detail: String? = nil) {
        emit(.segment(SegmentUpdate(index: index, state: state, queuePosition: position, requestId: request, detail: detail)))
    }

    /// The staged image URL, staging the image on first use (once per run, recorded).
    private func imageURL(_ context: RunContext) async throws -> String {
        try await context.imageURL.get {
            if let url = await context.store.manifest.imageURL { return url }
            let url = try await context.backend.stageImage(png: context.png, fileName: "portrait-\(context.imageSHA.prefix(12)).png")
            try await context.store.setImageURL(url)
            return url
        }
    }

    /// Processes a segment; an error that stops the run names the segment.
    private func processNamingSegment(_ index: Int, _ context: RunContext) async throws {
        do {
            try await process(index, context)
        } catch let error as PipelineError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            if Task.isCancelled { throw CancellationError() }
            update(index, "failed", detail: Self.describe(error))
            let bad = (error as? FalError)?.isBadInput ?? false
            throw PipelineError(kind: bad ? .badInput : .failure, message: "segment \(index): \(Self.describe(error))")
        }
    }

    private func process(_ index: Int, _ context: RunContext) async throws {
        let segment = context.plan.segments[index]
        let store = context.store
        var record = await store.record(index)
        let clipURL = URL(fileURLWithPath: Manifest.clipPath(index, workDir: context.workDir))

        // Already finished in an earlier run?
        if record.state == .done, let path = record.clipPath, FileManager.default.fileExists(atPath: path),
           let sha = record.clipSHA256, (try? Hashing.sha256(file: path)) == sha {
            context.reused.add(1)
            update(index, "done", detail: "reused from the work dir")
            return
        }
        if record.state == .completed, FileManager.default.fileExists(atPath: clipURL.path),
           (try? checkClip(clipURL.path, segment: segment)) != nil {
            // Downloaded, checked and moved into place just before the last run stopped: only the
            // record is missing. (A clip the stitcher rejected is deleted, so this is this
            // request's clip.)
            let sha = try await runBlocking { try Hashing.sha256(file: clipURL.path) }
            try await store.update(index) { r in
                r.clipPath = clipURL.path
                r.clipSHA256 = sha
                r.state = .done
            }
            context.reused.add(1)
            update(index, "done", detail: "downloaded by the last run")
            return
        }
        if record.state == .done {
            // The clip was finished but is gone or changed: make it again (the cache may have it).
            try? FileManager.default.removeItem(at: clipURL)
            emit(.warning("segment \(index): its finished clip is missing or damaged in the work dir; making it again"))
            record = try await store.update(index) { r in
                r.request = nil
                r.resultURL = nil
                r.clipPath = nil
                r.clipSHA256 = nil
                r.state = r.audioURL == nil ? .audioReady : .uploaded
            }
        }
        guard let audioFile = record.audioFile, let audioSHA = record.audioSHA256 else {
            throw PipelineError.failure("segment \(index): its audio file is missing from the work dir")
        }
        let o = context.options
        let cacheKey = Hashing.key(["clip-v1", context.imageSHA, audioSHA, o.prompt, String(segment.numFrames),
                                    o.resolution.rawValue, String(o.seed), o.acceleration.rawValue, context.identity])
        if let cache = context.cache, let cached = cache.lookup(cacheKey), record.request == nil {
            if (try? checkClip(cached.path, segment: segment)) != nil {
                try? FileManager.default.removeItem(at: clipURL)
                try FileManager.default.copyItem(at: cached, to: clipURL)
                let sha = try Hashing.sha256(file: clipURL.path)
                try await store.update(index) { r in
                    r.clipPath = clipURL.path
                    r.clipSHA256 = sha
                    r.fromCache = true
                    r.state = .done
                }
                update(index, "cached")
                return
            }
        }

        let progressState = ProgressBox()
        // A request recorded by an earlier run counts as this run's first attempt.
        var attempts = record.request == nil ? 0 : 1
        while true {
            if record.request == nil {
                // Attempts count per run: a resumed run gives a failed segment fresh tries.
                guard attempts < o.maxAttempts else {
                    let last = record.failures.last ?? "unknown reason"
                    try await store.update(index) { $0.state = .failed }
                    update(index, "failed", detail: last)
                    throw PipelineError.failure("segment \(index) failed \(attempts) times; last: \(last)")
                }
                try Task.checkCancellation()
                let imageURL = try await imageURL(context)
                if record.audioURL == nil {
                    update(index, "uploading")
                    let url = try await context.backend.stageAudio(file: URL(fileURLWithPath: audioFile))
                    record = try await store.update(index) { r in
                        r.audioURL = url
                        r.state = .uploaded
                    }
                }
                if record.state == .submitting {
                    emit(.warning("segment \(index): an earlier run stopped while submitting it; if that submit reached the queue it was paid for once already"))
                }
                try Task.checkCancellation()
                let request = clipRequest(segment, context, imageURL: imageURL, audioURL: record.audioURL!)
                record = try await store.update(index) { $0.state = .submitting }
                let submitted = try await context.backend.submit(request)
                record = try await store.update(index) { r in
                    r.request = submitted
                    r.state = .submitted
                    r.submits += 1
                }
                attempts += 1
                context.paidFrames.add(segment.numFrames)
                progressState.set(queued: true)
                update(index, "submitted", request: submitted.requestId)
            }
            let submitted = record.request!
            do {
                // A result recorded by an earlier run is downloaded straight away (fal keeps
                // large results in its queue for minutes only; the file URL lasts longer).
                if record.state == .completed, let known = record.resultURL {
                    do {
                        try await downloadAndCheck(known, index: index, segment: segment, submitted: submitted,
                                                   clipURL: clipURL, cacheKey: cacheKey, context: context)
                        return
                    } catch let error where !(error is CancellationError) && !Task.isCancelled {
                        emit(.warning("segment \(index): the recorded result could not be downloaded (\(Self.describe(error))); asking the queue again"))
                        record = try await store.update(index) { r in
                            r.resultURL = nil
                            r.state = .submitted
                        }
                    }
                }
                let request = clipRequest(segment, context, imageURL: try await imageURL(context), audioURL: record.audioURL ?? audioFile)
                let url = try await context.backend.waitForResult(submitted, request: request) { [weak self] progress in
                    switch progress {
                    case .queued(let position):
                        progressState.set(queued: true)
                        self?.update(index, "queued", request: submitted.requestId, position: position)
                    case .running:
                        progressState.set(queued: false)
                        self?.update(index, "running", request: submitted.requestId)
                    case .log(let line):
                        self?.update(index, "running", request: submitted.requestId, detail: line)
                    }
                }
                record = try await store.update(index) { r in
                    r.resultURL = url
                    r.state = .completed
                }
                try await downloadAndCheck(url, index: index, segment: segment, submitted: submitted,
                                           clipURL: clipURL, cacheKey: cacheKey, context: context)
                return
            } catch let failure as GenerationFailure {
                record = try await store.update(index) { r in
                    r.failures.append(failure.reason)
                    r.request = nil
                    r.resultURL = nil
                    r.state = .uploaded
                }
                let willRetry = attempts < o.maxAttempts
                update(index, willRetry ? "retrying" : "failed", detail: failure.reason)
                emit(.warning("segment \(index): generation failed (\(failure.reason))\(willRetry ? "; submitting it again" : "")"))
            } catch {
                guard Task.isCancelled else { throw error }
                // Interrupted: a request still waiting in the queue is cancelled (not billed);
                // one already running stays recorded, and the next run fetches its result.
                if progressState.queued {
                    let backend = context.backend
                    await Task.detached { await backend.cancel(submitted) }.value
                    _ = try? await store.update(index) { r in
                        r.request = nil
                        r.state = .uploaded
                        r.submits = max(0, r.submits - 1)
                    }
                    update(index, "cancelled", request: submitted.requestId)
                }
                throw CancellationError()
            }
        }
    }

    /// Downloads a finished clip into the work dir, checks it, records it and caches it.
    private func downloadAndCheck(_ url: String, index: Int, segment: Plan.Segment, submitted: SubmittedRequest,
                                  clipURL: URL, cacheKey: String, context: RunContext) async throws {
        update(index, "downloading", request: submitted.requestId)
        let partial = clipURL.deletingLastPathComponent().appendingPathComponent(".\(clipURL.lastPathComponent).partial")
        try? FileManager.default.removeItem(at: partial)
        try await context.backend.download(url, to: partial) { [weak self] retry in
            self?.emit(.downloadRetry(index: index, retry))
        }
        try checkClip(partial.path, segment: segment)
        try? FileManager.default.removeItem(at: clipURL)
        try FileManager.default.moveItem(at: partial, to: clipURL)
        let sha = try Hashing.sha256(file: clipURL.path)
        try await context.store.update(index) { r in
            r.clipPath = clipURL.path
            r.clipSHA256 = sha
            r.state = .done
        }
        if let cache = context.cache { try? cache.store(clipURL, key: cacheKey) }
        update(index, "done", request: submitted.requestId)
    }

    private func clipRequest(_ segment: Plan.Segment, _ context: RunContext, imageURL: String, audioURL: String) -> ClipRequest {
        let o = context.options
        return ClipRequest(segment: segment, segmentCount: context.plan.segments.count,
                           input: InfiniTalkRequest(imageURL: imageURL, audioURL: audioURL, prompt: o.prompt,
                                                    numFrames: segment.numFrames, resolution: o.resolution, seed: o.seed,
                                                    acceleration: o.acceleration))
    }

    /// A downloaded clip must decode, run at 25 fps and hold the segment's frames (or be short by
    /// at most what the stitcher pads).
    private func checkClip(_ path: String, segment: Plan.Segment) throws {
        let info: ClipInspection
        do {
            info = try ClipInspection.inspect(path: path)
        } catch let error as MediaError {
            throw GenerationFailure("the clip is unusable: \(error.reason)")
        }
        guard info.isModelFrameRate else {
            throw GenerationFailure(String(format: "the clip runs at %.3f fps, not 25", info.frameRate.value))
        }
        guard info.frameCount >= segment.frameCount - options.stitch.maxPaddedFrames else {
            throw GenerationFailure("the clip has \(info.frameCount) frames, needs \(segment.frameCount)")
        }
    }
}

/// A thread-safe integer.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add(_ n: Int) { lock.lock(); count += n; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}

/// Whether a request was last seen waiting in the queue.
final class ProgressBox: @unchecked Sendable {
    private let lock = NSLock()
    private var isQueued = true
    func set(queued: Bool) { lock.lock(); isQueued = queued; lock.unlock() }
    var queued: Bool { lock.lock(); defer { lock.unlock() }; return isQueued }
}

/// Stages the image once even when several segments ask at the same time.
actor ImageURLBox {
    private var task: Task<String, any Error>?
    func get(_ make: @escaping @Sendable () async throws -> String) async throws -> String {
        if let task { return try await task.value }
        let t = Task { try await make() }
        task = t
        do {
            return try await t.value
        } catch {
            task = nil
            throw error
        }
    }
}
