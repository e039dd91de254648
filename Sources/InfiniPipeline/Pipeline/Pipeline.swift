import Foundation
import Logging
import NIOConcurrencyHelpers

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
///
/// A pipeline runs once: make a new one for the next job.
public final class Pipeline: Sendable {
    /// The run's options.
    public let options: PipelineOptions
    /// Progress of the run, in order; finishes when ``run()`` returns or throws.
    ///
    /// The stream holds at most ``eventBufferLimit`` events that were not read yet: a consumer
    /// that falls further behind loses the oldest (every segment event carries the whole run's
    /// ``RunProgress``, and ``run()`` returns the summary), so a slow consumer never makes the
    /// run's memory grow without limit.
    public let events: AsyncStream<PipelineEvent>

    /// The most unread events ``events`` keeps.
    public static let eventBufferLimit = 4096

    private let continuation: AsyncStream<PipelineEvent>.Continuation
    private let backendOverride: (any ClipBackend)?
    let falClient: FalClient?
    let logger: Logger
    /// Whether ``run()`` was called: a pipeline runs once.
    private let started = NIOLockedValueBox(false)

    /// A pipeline for `options`.
    /// - Parameters:
    ///   - options: what to make and how.
    ///   - backend: a generator to use instead of the one `options.backend` names (apps with
    ///     their own generator, tests). The pipeline does not close it.
    ///   - falClient: the fal client to use for `options.backend == .fal` (an app that owns its
    ///     HTTP client or configures the client itself); nil makes one from `options`. The
    ///     pipeline does not shut a client it was given down.
    ///   - logger: where the pipeline and the fal client it makes log (stages, requests,
    ///     retries; never the key). Progress and warnings go to ``events``, not here.
    public convenience init(
        options: PipelineOptions, backend: (any ClipBackend)? = nil, falClient: FalClient? = nil,
        logger: Logger = Logger(label: "infinipipeline")
    ) {
        self.init(
            options: options, backend: backend, falClient: falClient, logger: logger, eventBufferLimit: Self.eventBufferLimit)
    }

    /// A pipeline whose event stream keeps at most `eventBufferLimit` unread events (tests).
    init(
        options: PipelineOptions, backend: (any ClipBackend)? = nil, falClient: FalClient? = nil,
        logger: Logger = Logger(label: "infinipipeline"), eventBufferLimit: Int
    ) {
        self.options = options
        self.backendOverride = backend
        self.falClient = falClient
        self.logger = logger
        (events, continuation) = AsyncStream.makeStream(
            of: PipelineEvent.self,
            bufferingPolicy: .bufferingNewest(eventBufferLimit))
    }

    func emit(_ event: PipelineEvent) { continuation.yield(event) }

    /// Runs the job.
    /// - Returns: the summary (also sent as the last event).
    /// - Throws: ``PipelineError``; its ``PipelineError/kind`` says whether an input or option was
    ///   bad, the run failed, or it was interrupted (``PipelineError/Kind/interrupted``: running
    ///   the job again resumes), and ``PipelineError/underlying`` holds the stage's own error.
    ///   Calling `run()` a second time throws ``PipelineError/Kind/alreadyStarted``.
    public func run() async throws -> PipelineSummary {
        let claimed = started.withLockedValue { started in
            defer { started = true }
            return !started
        }
        guard claimed else {
            throw PipelineError(.alreadyStarted, "this pipeline has run already; make a new Pipeline for the next run")
        }
        defer { continuation.finish() }
        do {
            return try await execute()
        } catch {
            let failure = PipelineError.from(error)
            logger.debug("run stopped", metadata: ["kind": "\(failure.kind)"])
            throw failure
        }
    }

    // MARK: - The flow

    private func execute() async throws -> PipelineSummary {
        let started = Date()
        let o = options
        let checkKey = backendOverride == nil && !o.dryRun
        var inputs = try await RunInputs.read(o, diarize: .send(client: falClient, logger: logger)) {
            guard checkKey else { return }
            if o.backend == .fal && falClient == nil { _ = try o.falClientSettings() }
            if o.backend == .wavespeed { _ = try o.waveSpeedClientSettings() }
        }
        let plan = inputs.plan
        logger.debug("planned", metadata: ["segments": "\(plan.segments.count)", "frames": "\(plan.totalFrames)"])
        // A sample is checked against the audio (and priced, and capped on its own) before
        // anything is reported or sent.
        let sample = try o.sample.map { try plan.sample($0) }

        emit(.image(width: inputs.bucket.width, height: inputs.bucket.height))
        for warning in inputs.warnings { emit(.warning(warning)) }
        if let diarization = inputs.diarization { emit(.speakerMapping(diarization.report)) }
        emit(.plan(plan))
        emit(.prices(try inputs.prices(o)))
        emit(.outputAudio(inputs.outputAudio))
        if let sample { emit(.sample(sample)) }
        if let captions = inputs.captions { emit(.captions((sample.map { captions.sampled($0) } ?? captions).report)) }
        // The diarized transcript (which the captions then share) was paid for before planning.
        let transcriptCost = inputs.transcriptCost + (inputs.captions == nil ? try await transcriptEstimate(inputs) : 0)
        let videoCost = sample?.estimatedCost ?? plan.estimatedCost
        if let maxCost = o.maxCost, videoCost + transcriptCost > maxCost + 1e-9 {
            let transcript = transcriptCost > 0 ? String(format: " ($%.2f of it the transcript)", transcriptCost) : ""
            throw PipelineError(
                .overBudget,
                String(format: "the estimated cost%@ $%.2f", sample == nil ? "" : " of the sample", videoCost + transcriptCost)
                    + transcript + String(format: " is over maxCost $%.2f", maxCost),
                option: "maxCost")
        }
        if o.dryRun, let sample { return sampleDryRun(sample, inputs, started: started) }
        if o.dryRun {
            let summary = PipelineSummary(
                output: nil, duration: plan.audio.duration, frames: plan.totalFrames,
                segments: plan.segments.count, paidSeconds: 0, cost: 0,
                plannedSeconds: plan.paidSeconds, estimatedCost: plan.estimatedCost,
                reusedSegments: 0, wallTime: Date().timeIntervalSince(started), workDir: nil,
                videoPath: nil, dryRun: true, outputAudio: inputs.outputAudio,
                speakers: ProgressTracker(plan: plan, billed: false, started: started).speakerTotals())
            emit(.summary(summary))
            return summary
        }

        let identity =
            backendOverride?.identity
            ?? (o.provider.id == Provider.fal.id ? (falClient?.endpoint.rawValue ?? o.endpoint) : o.provider.model)
        if o.captions == .auto && inputs.captions == nil {
            inputs.captions = try await transcribe(inputs, sample: sample)
            if let transcript = inputs.captions?.transcript, inputs.plan.cutsAtSentenceEnds == nil {
                // The same transcript gives the same plan to a sample and to the whole job.
                inputs = try inputs.replanned(with: transcript, options: o)
                emit(.plan(inputs.plan))
            }
        }
        let workDir = try await WorkDir.open(
            options: o, inputs: inputs, identity: identity,
            warn: { [continuation] in
                continuation.yield(.warning($0))
            })
        defer { workDir.lock.release() }
        let backend = try backendOverride ?? makeBackend(workDir: workDir.url)
        let ownsBackend = backendOverride == nil
        do {
            let summary = try await generateAndStitch(
                inputs, workDir: workDir, backend: backend, identity: identity, started: started)
            if ownsBackend { await backend.close() }
            return summary
        } catch {
            if ownsBackend { await backend.close() }
            throw error
        }
    }

    private func generateAndStitch(
        _ inputs: RunInputs, workDir: WorkDir, backend: any ClipBackend, identity: String,
        started: Date
    ) async throws -> PipelineSummary {
        if let sample = try options.sample.map({ try inputs.plan.sample($0) }) {
            return try await generateSample(
                sample, inputs, workDir: workDir, backend: backend, identity: identity, started: started)
        }
        let o = options, plan = inputs.plan, store = workDir.store
        let billed = identity != "preview"  // the preview backend costs nothing
        let tracker = ProgressTracker(plan: plan, billed: billed, started: started) { [continuation] in
            continuation.yield(.segment($0))
        }
        try await cutSegmentAudio(inputs, workDir: workDir)
        // The portraits the clips' colours are matched against, in place before anything is paid for.
        let colorMatch = try inputs.stitchColorMatch(o, workDir: workDir.url)

        let context = RunContext(
            plan: plan, backend: backend, store: store, workDir: workDir.url,
            cache: o.useCache ? ClipCache(directory: workDir.cacheRoot.appendingPathComponent("clips")) : nil,
            portraits: inputs.portraits, options: o, identity: identity,
            budget: Budget(
                plan: plan, manifest: await store.manifest, cap: o.maxCost.map { $0 - inputs.transcriptCost },
                billed: billed),
            report: { tracker.report($0, $1) }, reportState: { tracker.report($0, $1, providerState: $2) },
            warn: { [continuation] in continuation.yield(.warning($0)) },
            downloadRetry: { [continuation] index, retry in continuation.yield(.downloadRetry(index: index, retry)) })
        // The run's stitch: its captions (a soft track, burned with burnCaptions) and colour match.
        var runStitch = stitchOptions(inputs, captions: inputs.captions)
        runStitch.colorMatch = colorMatch
        let live = try await openLive(inputs, options: runStitch, workDir: workDir)
        emit(.stage(.generating))
        tracker.generationBegins()
        do {
            await live?.poke()
            try await generate(plan.segments.map(\.index), context, live: live)
        } catch {
            // A failed run still shows what its finished clips complete; an interrupted one stops now.
            if Task.isCancelled || error is CancellationError { await live?.halt() } else { await live?.catchUp() }
            throw error
        }
        let unknown = await store.manifest.segments.filter { $0.state == .unknown }.map(\.index)
        if !unknown.isEmpty {
            let names = unknown.map(String.init).joined(separator: ", ")
            throw PipelineError(
                .generationFailed,
                "segment\(unknown.count == 1 ? "" : "s") \(names): the submit got no answer, so it may have been accepted (and billed) and was not sent again; resubmitUnknown sends it again, at the risk of paying for it twice",
                option: "resubmitUnknown", segments: unknown)
        }

        emit(.stage(.stitching))
        let result: StitchResult
        if let live, await live.reencodes {
            // A re-encoding stitch was done by the live stream as the clips came (transitions,
            // colour match and burned captions): the MP4 is its packets, with the soft track.
            // The stitcher makes it only when the stream could not be completed.
            await live.catchUp()
            if let made = try await live.makeMP4(output: inputs.output) {
                result = made
            } else {
                result = try await stitch(inputs, context: context, options: runStitch)
            }
        } else {
            // The copy path and the stream's last stretches are independent: made side by side.
            async let caughtUp: Void? = live?.catchUp()
            result = try await stitch(inputs, context: context, options: runStitch)
            _ = await caughtUp
        }
        await live?.close()
        let captionFiles = try inputs.captions?.writeSidecars()
        let records = await store.manifest.segments
        let paid = tracker.paidFrames
        let summary = PipelineSummary(
            output: inputs.output, duration: plan.audio.duration, frames: result.totalFrames, segments: plan.segments.count,
            paidSeconds: billed ? ModelLimits.seconds(forFrames: paid) : 0,
            cost: billed ? Plan.cost(paidFrames: paid, pricePerSecond: plan.pricePerSecond) : 0,
            plannedSeconds: plan.paidSeconds, estimatedCost: plan.estimatedCost,
            reusedSegments: records.filter { $0.fromCache }.count + context.reused.withLockedValue { $0 },
            wallTime: Date().timeIntervalSince(started), workDir: workDir.url.path, videoPath: result.videoPath.rawValue,
            dryRun: false, outputAudio: result.audio, speakers: tracker.speakerTotals(),
            trimmedClips: result.trimmedClips.isEmpty ? nil : result.trimmedClips,
            paddedClips: result.paddedClips.isEmpty ? nil : result.paddedClips, captionFiles: captionFiles,
            colorMatch: colorMatch == nil ? nil : result.colorMatch)
        emit(.summary(summary))
        return summary
    }

    /// Cuts the audio of every segment that lacks it (cut audio is reused only while it is
    /// still what was cut, and perhaps uploaded).
    func cutSegmentAudio(_ inputs: RunInputs, workDir: WorkDir, only scope: Set<Int>? = nil) async throws {
        let store = workDir.store
        var needed: [Int] = []
        for record in await store.manifest.segments where scope?.contains(record.index) ?? true {
            if record.state == .done, let clip = record.clipPath, FileManager.default.fileExists(atPath: clip) { continue }
            if let file = record.audioFile, let sha = record.audioSHA256, (try? await Hashing.sha256(fileAt: file)) == sha {
                continue
            }
            needed.append(record.index)
        }
        guard !needed.isEmpty else { return }
        emit(.stage(.cuttingAudio))
        let (source, plan, directory, wanted, speakers) = (
            inputs.audioPath, inputs.plan, workDir.url.appendingPathComponent("audio"), needed, inputs.speakers
        )
        let files = try await runBlocking {
            guard let speakers else {
                return try SegmentAudio.export(source: source, plan: plan, segments: wanted, to: directory)
            }
            return try SpeakerAudio.export(
                mix: source, plan: plan, source: speakers.source, timeline: speakers.timeline, segments: wanted, to: directory)
        }
        for index in needed {
            guard let url = files[index] else { continue }
            let sha = try await Hashing.sha256(fileAt: url.path)
            try await store.update(index) { r in
                if r.audioSHA256 != sha { r.audioURL = nil }
                r.audioFile = url.path
                r.audioSHA256 = sha
                if r.state == .pending { r.state = .audioReady }
            }
        }
    }

    /// Runs segments with at most ``PipelineOptions/concurrency`` in flight.
    ///
    /// When a segment fails, no new segment starts, but those in flight run to their end and
    /// are recorded (their requests are paid for); then the run stops, naming every failure.
    func generate(_ indices: [Int], _ context: RunContext, live: LivePublisher? = nil) async throws {
        let failures: [(index: Int, error: any Error)] = await withTaskGroup(of: (Int, (any Error)?).self) { group in
            var iterator = indices.makeIterator()
            var failures: [(index: Int, error: any Error)] = []
            func start() -> Bool {
                guard let index = iterator.next() else { return false }
                group.addTask {
                    do {
                        try await SegmentJob(index: index, context: context).run()
                        return (index, nil)
                    } catch {
                        return (index, error)
                    }
                }
                return true
            }
            for _ in 0..<options.concurrency where start() {}
            while let (index, error) = await group.next() {
                if let error { failures.append((index, error)) } else { await live?.poke() }
                if failures.isEmpty && !Task.isCancelled { _ = start() }
            }
            return failures.sorted { $0.index < $1.index }
        }
        guard let first = failures.first else {
            try Task.checkCancellation()
            return
        }
        if Task.isCancelled || failures.contains(where: { $0.error is CancellationError }) { throw CancellationError() }
        // The cap stopped it like an interruption: what was in flight finished and is recorded.
        if failures.contains(where: { ($0.error as? PipelineError)?.kind == .budgetExceeded }) {
            throw context.budget.stopped(
                segments: await context.store.manifest.segments.filter { context.scope?.contains($0.index) ?? true })
        }
        if failures.count == 1 { throw first.error }
        let errors = failures.map { PipelineError.from($0.error) }
        let invalid = errors.allSatisfy { $0.kind == .invalidInput }
        throw PipelineError(
            invalid ? .invalidInput : .generationFailed,
            "\(failures.count) segments failed: " + errors.map(\.description).joined(separator: "; "),
            segments: failures.map(\.index), underlying: first.error)
    }

    /// Stitches; a clip the stitcher rejects is made again, at most ``PipelineOptions/maxAttempts``
    /// times in all, and each clip made again (paid for) is tried by the next stitch: the last
    /// rejection stops the run instead of paying for a clip that no stitch would use.
    private func stitch(_ inputs: RunInputs, context: RunContext, options stitchOptions: StitchOptions) async throws
        -> StitchResult
    {
        let (plan, audio, output) = (inputs.plan, inputs.audioPath, inputs.output)
        // The audio's own warnings were given when it was planned.
        let known = Set(inputs.warnings)
        let warn: @Sendable (String) -> Void = { [continuation] in if !known.contains($0) { continuation.yield(.warning($0)) } }
        var regenerations = 0
        while true {
            let clips = await context.store.manifest.segments.map { $0.clipPath ?? "" }
            do {
                return try await runBlocking {
                    try Stitcher.stitch(
                        plan: plan, clips: clips, audio: audio, output: output, options: stitchOptions, warning: warn)
                }
            } catch let error as ClipError {
                emit(.warning(error.description))
                guard regenerations < options.maxAttempts else {
                    throw PipelineError(
                        .stitchFailed,
                        "\(output): the clips could not be stitched: \(error.description) (made again \(regenerations) times)",
                        file: output, segments: [error.segment], underlying: error)
                }
                regenerations += 1
                try? FileManager.default.removeItem(atPath: Manifest.clipPath(error.segment, workDir: context.workDir))
                try await context.store.update(error.segment) { r in
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
    }

    /// Opens the live stream of ``PipelineOptions/live``, before any request.
    private func openLive(_ inputs: RunInputs, options stitch: StitchOptions, workDir: WorkDir) async throws
        -> LivePublisher?
    {
        guard let directory = options.live else { return nil }
        let runKey = await workDir.store.manifest.runKey
        return try await LivePublisher(
            directory: options.absolute(directory), plan: inputs.plan, options: stitch, audio: inputs.audioPath,
            runKey: runKey, store: workDir.store, workDir: workDir.url, emit: { [continuation] in continuation.yield($0) })
    }

    private func makeBackend(workDir: URL) throws -> any ClipBackend {
        switch options.backend {
        case .preview:
            let dir = workDir.appendingPathComponent("preview")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            return PreviewBackend(directory: dir)
        case .fal:
            if let falClient { return FalBackend(client: falClient, ownsClient: false) }
            let settings = try options.falClientSettings()
            let client = try FalClient(
                credentials: settings.credentials, configuration: settings.configuration,
                logger: logger)
            return FalBackend(client: client, ownsClient: true)
        case .wavespeed:
            let settings = try options.waveSpeedClientSettings()
            let client = try WaveSpeedClient(
                credentials: settings.credentials, configuration: settings.configuration, logger: logger)
            return WaveSpeedBackend(client: client, ownsClient: true)
        }
    }
}
