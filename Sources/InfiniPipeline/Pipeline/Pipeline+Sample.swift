import Foundation

/// A sample of the job (``PipelineOptions/sample``): the whole job is planned and its work dir
/// opened as for the whole job, then only the segments covering the sample are generated (each
/// recorded in the manifest and cached as usual, so the whole job later reuses them and pays
/// each second once), and stitched to the sample's output with the transitions the whole job
/// has at the seams inside the sample.
extension Pipeline {
    /// A dry run of a sample: what it would make and cost; nothing is sent.
    func sampleDryRun(_ sample: PlanSample, _ inputs: RunInputs, started: Date) -> PipelineSummary {
        let summary = PipelineSummary(
            output: nil, duration: ModelLimits.seconds(forFrames: sample.frameCount), frames: sample.frameCount,
            segments: sample.segments.count, paidSeconds: 0, cost: 0, plannedSeconds: sample.paidSeconds,
            estimatedCost: sample.estimatedCost, reusedSegments: 0, wallTime: Date().timeIntervalSince(started),
            workDir: nil, videoPath: nil, dryRun: true, outputAudio: inputs.outputAudio, sample: sample)
        emit(.summary(summary))
        return summary
    }

    /// Generates the sample's segments and stitches them to the sample's output.
    func generateSample(
        _ sample: PlanSample, _ inputs: RunInputs, workDir: WorkDir, backend: any ClipBackend, identity: String,
        started: Date
    ) async throws -> PipelineSummary {
        let o = options, plan = inputs.plan, store = workDir.store
        let billed = identity != "preview"  // the preview backend costs nothing
        let scope = Set(sample.segments)
        let tracker = ProgressTracker(plan: plan, billed: billed, started: started, scope: sample.segments) {
            self.emit(.segment($0))
        }
        try await cutSegmentAudio(inputs, workDir: workDir, only: scope)
        // The cap limits the sample's requests: those of earlier runs and this run's.
        var earlier = await store.manifest
        earlier.segments = earlier.segments.filter { scope.contains($0.index) }
        let context = RunContext(
            plan: plan, backend: backend, store: store, workDir: workDir.url,
            cache: o.useCache ? ClipCache(directory: workDir.cacheRoot.appendingPathComponent("clips")) : nil,
            portraits: inputs.portraits, options: o, identity: identity,
            budget: Budget(
                plan: plan, manifest: earlier, cap: o.maxCost.map { $0 - inputs.transcriptCost }, billed: billed),
            report: { tracker.report($0, $1) }, reportState: { tracker.report($0, $1, providerState: $2) },
            warn: { self.emit(.warning($0)) },
            downloadRetry: { self.emit(.downloadRetry(index: $0, $1)) }, scope: scope)
        emit(.stage(.generating))
        tracker.generationBegins()
        try await generate(sample.segments, context)
        let unknown = await store.manifest.segments.filter { scope.contains($0.index) && $0.state == .unknown }.map(\.index)
        if !unknown.isEmpty {
            throw PipelineError(
                .generationFailed,
                "segment\(unknown.count == 1 ? "" : "s") \(unknown.map(String.init).joined(separator: ", ")): the submit got no answer, so it may have been accepted (and billed) and was not sent again; resubmitUnknown sends it again, at the risk of paying for it twice",
                option: "resubmitUnknown", segments: unknown)
        }

        emit(.stage(.stitching))
        let result = try await stitchSample(sample, inputs, context: context)
        // The sample's own sidecars (`talk.sample.srt`, `.vtt`), checked before any request.
        let captionFiles = try inputs.captions?.sampled(sample).writeSidecars()
        let records = await store.manifest.segments.filter { scope.contains($0.index) }
        let paid = tracker.paidFrames
        let summary = PipelineSummary(
            output: inputs.output, duration: ModelLimits.seconds(forFrames: sample.frameCount), frames: result.totalFrames,
            segments: sample.segments.count,
            paidSeconds: billed ? ModelLimits.seconds(forFrames: paid) : 0,
            cost: billed ? Plan.cost(paidFrames: paid, pricePerSecond: plan.pricePerSecond) : 0,
            plannedSeconds: sample.paidSeconds, estimatedCost: sample.estimatedCost,
            reusedSegments: records.filter { $0.fromCache }.count + context.reused.withLockedValue { $0 },
            wallTime: Date().timeIntervalSince(started), workDir: workDir.url.path, videoPath: result.videoPath.rawValue,
            dryRun: false, outputAudio: result.audio,
            trimmedClips: result.trimmedClips.isEmpty ? nil : result.trimmedClips.map { sample.segments[$0] },
            paddedClips: result.paddedClips.isEmpty ? nil : result.paddedClips.map { sample.segments[$0] }, sample: sample,
            captionFiles: captionFiles)
        emit(.summary(summary))
        return summary
    }

    /// How a sample is stitched: as the whole job is, with the whole job's captions in the
    /// sample's stretch (cut to it and moved by `-sample.startTime`) as its soft track, and
    /// burned in with ``PipelineOptions/burnCaptions``, so that the sample shows the captions
    /// the whole job shows.
    func sampleStitchOptions(_ sample: PlanSample, _ inputs: RunInputs) -> StitchOptions {
        stitchOptions(inputs, captions: inputs.captions?.sampled(sample))
    }

    /// Stitches the sample's clips with the sample's stretch of the original audio; a clip the
    /// stitcher rejects is made again, as for the whole job (see `stitch`).
    private func stitchSample(_ sample: PlanSample, _ inputs: RunInputs, context: RunContext) async throws -> StitchResult {
        let (plan, source, output, stitchOptions) = (
            inputs.plan, inputs.audioPath, inputs.output, sampleStitchOptions(sample, inputs)
        )
        // The stretch's audio, cut from the original as the segments' audio is (lossless PCM),
        // in the work dir; the stitch encodes it to AAC.
        let directory = context.workDir.appendingPathComponent("sample")
        defer { try? FileManager.default.removeItem(at: directory) }
        let audio = try await runBlocking {
            let cut = SegmentAudio.Cut(index: 0, startFrame: sample.startFrame, numFrames: sample.frameCount, tail: 0)
            let files = try SegmentAudio.export(
                source: source, format: AudioFormat(sampleRate: plan.audio.sampleRate, channels: plan.audio.channels),
                samples: plan.audio.samples, cuts: [cut], to: directory, fileName: { _ in "sample-audio.wav" })
            return files[0]?.path ?? ""
        }
        let rate = SegmentAudio.fileSampleRate(forSource: plan.audio.sampleRate)
        let samples = SegmentAudio.sampleRange(
            startFrame: sample.startFrame, numFrames: sample.frameCount, sampleRate: rate, tail: 0
        )
        .count
        let samplePlan = plan.sampled(
            sample,
            audio: Plan.Audio(
                sampleRate: rate, channels: plan.audio.channels, samples: samples, duration: Double(samples) / Double(rate)))
        // The seams (and zoomed segments) the whole job has inside the sample; its first
        // segment has no seam before it.
        var seams = SeamTransitions(plan: plan, options: stitchOptions)
        let range = (sample.segments.first ?? 0)...(sample.segments.last ?? 0)
        seams.seams = Array(seams.seams[range])
        seams.seams[0] = .cut
        seams.zoomed = Array(seams.zoomed[range])

        let known = Set(inputs.warnings)
        let warn: @Sendable (String) -> Void = { if !known.contains($0) { self.emit(.warning($0)) } }
        var regenerations = 0
        while true {
            let records = Dictionary(
                await context.store.manifest.segments.map { ($0.index, $0) }, uniquingKeysWith: { a, _ in a })
            let clips = sample.segments.map { records[$0]?.clipPath ?? "" }
            do {
                return try await runBlocking { [seams] in
                    try Stitcher.stitch(
                        plan: samplePlan, clips: clips, audio: audio, output: output, options: stitchOptions, seams: seams,
                        warning: warn)
                }
            } catch let error as ClipError {
                // The sample's plan numbers its segments from 0: the job's number is the one to name.
                let index = sample.segments[error.segment]
                let rejected = ClipError(segment: index, clip: error.clip, reason: error.reason)
                emit(.warning(rejected.description))
                guard regenerations < options.maxAttempts else {
                    throw PipelineError(
                        .stitchFailed,
                        "\(output): the clips could not be stitched: \(rejected.description) (made again \(regenerations) times)",
                        file: output, segments: [index], underlying: rejected)
                }
                regenerations += 1
                try? FileManager.default.removeItem(atPath: Manifest.clipPath(index, workDir: context.workDir))
                try await context.store.update(index) { r in
                    r.failures.append(rejected.reason)
                    r.request = nil
                    r.resultURL = nil
                    r.clipPath = nil
                    r.clipSHA256 = nil
                    r.state = r.audioURL == nil ? .audioReady : .uploaded
                }
                try await generate([index], context)
            }
        }
    }
}
