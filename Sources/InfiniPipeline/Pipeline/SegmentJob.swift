import Foundation
import NIOConcurrencyHelpers

/// What the segment tasks of one run share.
struct RunContext: Sendable {
    let plan: Plan
    let backend: any ClipBackend
    let store: ManifestStore
    let workDir: URL
    let cache: ClipCache?
    /// The fitted portraits: one, or one per speaker.
    let portraits: [Portrait]
    let options: PipelineOptions
    let identity: String
    /// The money committed and the cap: every submit is reserved here first.
    let budget: Budget
    /// Segments whose clip an earlier run finished.
    let reused = NIOLockedValueBox(0)
    let imageURLs = ImageURLBox()
    /// Reports a segment's new phase.
    let report: @Sendable (Int, SegmentPhase) -> Void
    /// Reports a phase with the provider's own state of the request.
    let reportState: @Sendable (Int, SegmentPhase, ProviderState) -> Void
    /// Reports a warning.
    let warn: @Sendable (String) -> Void
    /// Reports a download retry.
    let downloadRetry: @Sendable (Int, DownloadRetry) -> Void
    /// The segments this run makes (a sample's); all of the plan's when nil.
    var scope: Set<Int>? = nil
}

/// One segment's way to a checked clip in the work dir, recorded in the manifest at every step
/// so that a later run resumes where this one stopped and never pays twice:
///
/// 1. a clip finished by an earlier run is reused;
/// 2. otherwise the clip cache may hold it (nothing paid);
/// 3. otherwise: stage the audio, submit (recorded before anything else), wait for the result,
///    download and check it; a failed generation is submitted again, up to
///    ``PipelineOptions/maxAttempts`` per run.
struct SegmentJob {
    let index: Int
    let context: RunContext

    private var segment: Plan.Segment { context.plan.segments[index] }
    /// The portrait of the speaker on screen (the one portrait of a single-speaker run).
    private var portrait: Portrait { context.portraits.first { $0.speaker == segment.speaker } ?? context.portraits[0] }
    private var store: ManifestStore { context.store }
    private var clipURL: URL { URL(fileURLWithPath: Manifest.clipPath(index, workDir: context.workDir)) }

    /// Runs the segment; an error that stops the run names the segment.
    func run() async throws {
        do {
            try await make()
        } catch let error as PipelineError {
            throw error
        } catch let unknown as SubmitOutcomeUnknown where !Task.isCancelled {
            // Recorded as unknown: the other segments go on, and the run stops after them.
            context.report(index, .failed(reason: "its submit got no answer, so it may have been accepted: not sent again"))
            context.warn("segment \(index): \(unknown.reason)")
        } catch {
            if error is CancellationError || Task.isCancelled { throw CancellationError() }
            let reason = Pipeline.describe(error)
            context.report(index, .failed(reason: reason))
            // What the user must fix (a key, an input the model refuses) says so; anything else
            // while making a clip is a failure of its generation.
            let given = (error as? any InfiniPipelineError).flatMap { $0.isInputProblem ? $0 : nil }
            let kind = given.map { PipelineError.Kind(for: $0.fault, option: $0.option) } ?? .generationFailed
            throw PipelineError(kind, "segment \(index): \(reason)", segments: [index], underlying: error)
        }
    }

    private func make() async throws {
        var record = await store.record(index)
        if try await reuseFinished(record) { return }
        if record.state == .done { record = try await forgetLostClip() }
        guard let audioFile = record.audioFile, let audioSHA = record.audioSHA256 else {
            throw PipelineError(.failed, "segment \(index): its audio file is missing from the work dir", segments: [index])
        }
        let o = context.options
        // The model's clip follows from its request alone; a preview clip also shows the
        // segment's place (its drift and timecode) and the speaker's name.
        let previewParts =
            context.identity == "preview" ? ["preview-v2", String(index), String(segment.startFrame), segment.speaker ?? ""] : []
        let cacheKey = Hashing.key(
            [
                "clip-v1", portrait.sha, audioSHA, o.prompt, String(segment.numFrames),
                o.resolution.rawValue, String(o.seed), o.acceleration.rawValue, context.identity,
            ] + previewParts)
        if record.request == nil, try await fromCache(cacheKey) { return }
        try await generate(record, audioFile: audioFile, cacheKey: cacheKey)
    }

    // MARK: - Clips already made

    /// A clip finished by an earlier run, or downloaded and checked by one that stopped before
    /// recording it.
    private func reuseFinished(_ record: SegmentRecord) async throws -> Bool {
        let clip = clipURL.path
        if record.state == .done, let path = record.clipPath, let sha = record.clipSHA256,
            FileManager.default.fileExists(atPath: path), (try? await Hashing.sha256(fileAt: path)) == sha
        {
            context.reused.withLockedValue { $0 += 1 }
            context.report(index, .done(.workDir, requestId: record.request?.requestId))
            return true
        }
        // Downloaded, checked and moved into place just before the last run stopped: only the
        // record is missing. (A clip the stitcher rejected is deleted, so this is this request's clip.)
        if record.state == .completed, FileManager.default.fileExists(atPath: clip),
            (try? await checkClip(clip)) != nil
        {
            let sha = try await Hashing.sha256(fileAt: clip)
            try await store.update(index) { r in
                r.clipPath = clip
                r.clipSHA256 = sha
                r.state = .done
            }
            context.reused.withLockedValue { $0 += 1 }
            context.report(index, .done(.lastRun, requestId: record.request?.requestId))
            return true
        }
        return false
    }

    /// The clip was finished but is gone or changed: make it again (the cache may have it).
    private func forgetLostClip() async throws -> SegmentRecord {
        try? FileManager.default.removeItem(at: clipURL)
        context.warn("segment \(index): its finished clip is missing or damaged in the work dir; making it again")
        return try await store.update(index) { r in
            r.request = nil
            r.resultURL = nil
            r.clipPath = nil
            r.clipSHA256 = nil
            r.state = r.audioURL == nil ? .audioReady : .uploaded
        }
    }

    /// The same request made before, by any run: copied from the clip cache.
    private func fromCache(_ key: String) async throws -> Bool {
        guard let cache = context.cache, let cached = cache.lookup(key), (try? await checkClip(cached.path)) != nil else {
            return false
        }
        let clip = clipURL.path
        try await runBlocking {
            try AtomicFile.produce(clip, durable: true) { temp in
                try FileManager.default.copyItem(atPath: cached.path, toPath: temp)
            }
        }
        let sha = try await Hashing.sha256(fileAt: clip)
        try await store.update(index) { r in
            r.clipPath = clip
            r.clipSHA256 = sha
            r.fromCache = true
            r.state = .done
        }
        context.report(index, .done(.cache, requestId: nil))
        return true
    }

    // MARK: - Generation

    private func generate(_ start: SegmentRecord, audioFile: String, cacheKey: String) async throws {
        var record = start
        // Whether the request was last seen waiting in the queue (so an interrupt may cancel it unpaid).
        let queued = NIOLockedValueBox(true)
        // A request recorded by an earlier run counts as this run's first attempt; attempts
        // count per run, so a resumed run gives a failed segment fresh tries.
        var attempts = record.request == nil ? 0 : 1
        while true {
            if record.request == nil {
                guard attempts < context.options.maxAttempts else {
                    let last = record.failures.last ?? "unknown reason"
                    try await store.update(index) { $0.state = .failed }
                    context.report(index, .failed(reason: last))
                    throw PipelineError(
                        .generationFailed, "segment \(index) failed \(attempts) times; last: \(last)",
                        segments: [index])
                }
                record = try await submit(record)
                attempts += 1
                queued.withLockedValue { $0 = true }
            }
            let submitted = record.request!
            do {
                if record.state == .completed, let known = record.resultURL {
                    // A result recorded by an earlier run is downloaded straight away (fal keeps
                    // large results in its queue for minutes only; the file URL lasts longer).
                    do {
                        try await download(known, submitted: submitted, cacheKey: cacheKey)
                        return
                    } catch  where !(error is CancellationError) && !Task.isCancelled {
                        context.warn(
                            "segment \(index): the recorded result could not be downloaded (\(Pipeline.describe(error))); asking the queue again"
                        )
                        record = try await store.update(index) { r in
                            r.resultURL = nil
                            r.state = .submitted
                        }
                    }
                }
                let url = try await waitForResult(submitted, record: record, audioFile: audioFile, queued: queued)
                record = try await store.update(index) { r in
                    r.resultURL = url
                    r.state = .completed
                }
                try await download(url, submitted: submitted, cacheKey: cacheKey)
                return
            } catch let failure as GenerationFailure {
                record = try await store.update(index) { r in
                    r.failures.append(failure.reason)
                    r.request = nil
                    r.resultURL = nil
                    r.state = .uploaded
                }
                let willRetry = attempts < context.options.maxAttempts
                context.report(
                    index, willRetry ? .retrying(reason: failure.reason, attempt: attempts + 1) : .failed(reason: failure.reason))
                context.warn("segment \(index): generation failed (\(failure.reason))\(willRetry ? "; submitting it again" : "")")
            } catch {
                guard Task.isCancelled else { throw error }
                try await cancelIfQueued(submitted, queued: queued)
                throw CancellationError()
            }
        }
    }

    /// Stages the audio if needed and submits; the request is recorded before anything else.
    private func submit(_ start: SegmentRecord) async throws -> SegmentRecord {
        var record = start
        try Task.checkCancellation()
        if record.state == .submitting {
            // A run died while sending it: counted as a submit (it may have been billed).
            record = try await store.update(index) { r in
                r.state = .unknown
                r.submits += 1
            }
        }
        if record.state == .unknown {
            // A submit whose answer never came (in this run or one that died while sending it)
            // may have been accepted and billed: it is sent again only when the user says so.
            // (The preview costs nothing: its submits are simply made again.)
            guard context.options.resubmitUnknown || context.identity == "preview" else {
                throw SubmitOutcomeUnknown(reason: "an earlier submit got no answer and may have been accepted")
            }
            if context.identity != "preview" {
                context.warn("segment \(index): sending again a submit that got no answer, as asked; it may be paid for twice")
            }
        }
        let imageURL = try await stagedImageURL()
        if record.audioURL == nil, let file = record.audioFile {
            context.report(index, .uploading)
            let url = try await context.backend.stageAudio(file: URL(fileURLWithPath: file))
            record = try await store.update(index) { r in
                r.audioURL = url
                r.state = .uploaded
            }
        }
        try Task.checkCancellation()
        let request = clipRequest(imageURL: imageURL, audioURL: record.audioURL!)
        // Within the cap, counting what this job committed before (or the run stops here).
        try context.budget.reserve(index)
        do {
            record = try await store.update(index) { $0.state = .submitting }
        } catch {
            context.budget.release(index)
            throw error
        }
        let submitted: SubmittedRequest
        do {
            submitted = try await context.backend.submit(request)
        } catch let unknown as SubmitOutcomeUnknown {
            // The request exists when its id came back: poll it rather than send it again.
            guard let id = unknown.requestID else {
                _ = try await store.update(index) { r in
                    r.state = .unknown
                    r.submits += 1
                    r.failures.append(unknown.reason)
                }
                throw unknown
            }
            submitted = SubmittedRequest(requestId: id)
        } catch  where !(error is CancellationError) && !Task.isCancelled {
            // Refused before it was accepted (the backends say so otherwise): nothing was made.
            context.budget.release(index)
            _ = try? await store.update(index) { $0.state = .uploaded }
            throw error
        }
        record = try await store.update(index) { r in
            r.request = submitted
            r.state = .submitted
            r.submits += 1
        }
        context.report(index, .submitted(requestId: submitted.requestId))
        return record
    }

    private func waitForResult(
        _ submitted: SubmittedRequest, record: SegmentRecord, audioFile: String,
        queued: NIOLockedValueBox<Bool>
    ) async throws -> String {
        let request = clipRequest(imageURL: try await stagedImageURL(), audioURL: record.audioURL ?? audioFile)
        let (index, report, reportState, id) = (index, context.report, context.reportState, submitted.requestId)
        return try await context.backend.waitForResult(submitted, request: request) { progress in
            switch progress {
            case .queued(let position):
                queued.withLockedValue { $0 = true }
                report(index, .queued(requestId: id, position: position))
            case .running:
                queued.withLockedValue { $0 = false }
                report(index, .running(requestId: id, log: nil))
            case .log(let line):
                report(index, .running(requestId: id, log: line))
            case .providerState(let name, let waiting, let elapsed):
                queued.withLockedValue { $0 = waiting }
                let phase: SegmentPhase = waiting ? .queued(requestId: id, position: nil) : .running(requestId: id, log: nil)
                reportState(index, phase, ProviderState(name: name, elapsedSeconds: elapsed))
            }
        }
    }

    /// Interrupted: a request still waiting in the queue is cancelled (not billed); one already
    /// running stays recorded, and the next run fetches its result.
    private func cancelIfQueued(_ submitted: SubmittedRequest, queued: NIOLockedValueBox<Bool>) async throws {
        guard queued.withLockedValue({ $0 }) else { return }
        let backend = context.backend
        await Task.detached { await backend.cancel(submitted) }.value
        context.budget.release(index)
        _ = try? await store.update(index) { r in
            r.request = nil
            r.state = .uploaded
            r.submits = max(0, r.submits - 1)
        }
        context.report(index, .cancelled(requestId: submitted.requestId))
    }

    /// Downloads a finished clip into the work dir, checks it, records it and caches it.
    private func download(_ url: String, submitted: SubmittedRequest, cacheKey: String) async throws {
        context.report(index, .downloading(requestId: submitted.requestId))
        let clip = clipURL.path
        let (index, backend, onRetry) = (index, context.backend, context.downloadRetry)
        // On disk (the clip and its directory entry) before the record says done: a paid clip
        // must survive a power cut as surely as the record of it.
        try await AtomicFile.produce(clip, durable: true) { temp in
            try await backend.download(url, to: URL(fileURLWithPath: temp)) { onRetry(index, $0) }
            try await checkClip(temp)
        }
        let sha = try await Hashing.sha256(fileAt: clip)
        try await store.update(index) { r in
            r.clipPath = clip
            r.clipSHA256 = sha
            r.state = .done
        }
        if let cache = context.cache {
            _ = try? await runBlocking { try cache.store(URL(fileURLWithPath: clip), key: cacheKey) }
        }
        context.report(index, .done(.generated, requestId: submitted.requestId))
    }

    /// The staged URL of the segment's portrait, staging it on first use (once per run, recorded).
    private func stagedImageURL() async throws -> String {
        let (context, portrait) = (context, portrait)
        return try await context.imageURLs.get(portrait.sha) {
            if let url = await context.store.imageURL(speaker: portrait.speaker) { return url }
            let url = try await context.backend.stageImage(
                png: portrait.png, fileName: "portrait-\(portrait.sha.prefix(12)).png")
            try await context.store.setImageURL(url, speaker: portrait.speaker)
            return url
        }
    }

    private func clipRequest(imageURL: String, audioURL: String) -> ClipRequest {
        let o = context.options
        return ClipRequest(
            segment: segment, segmentCount: context.plan.segments.count,
            input: InfiniTalkRequest(
                imageURL: imageURL, audioURL: audioURL, prompt: o.prompt,
                numFrames: segment.numFrames, resolution: o.resolution, seed: o.seed,
                acceleration: o.acceleration),
            speaker: segment.speaker)
    }

    /// A clip must decode, run at 25 fps and hold the segment's frames (or be short by at most
    /// what the stitcher pads).
    private func checkClip(_ path: String) async throws {
        let (segment, padding) = (segment, context.options.stitch.maxPaddedFrames)
        try await runBlocking {
            let info: ClipInspection
            do {
                info = try ClipInspection.inspect(path: path)
            } catch let error as MediaError {
                throw GenerationFailure("the clip is unusable: \(error.reason)")
            }
            guard info.isModelFrameRate else {
                throw GenerationFailure(String(format: "the clip runs at %.3f fps, not 25", info.frameRate.value))
            }
            guard info.frameCount >= segment.frameCount - padding else {
                throw GenerationFailure("the clip has \(info.frameCount) frames, needs \(segment.frameCount)")
            }
        }
    }
}
