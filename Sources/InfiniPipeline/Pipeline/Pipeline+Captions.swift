import Foundation

extension Pipeline {
    /// What the transcript of `.auto` captions will cost this run (0 when cached, or without
    /// them); in a dry run, its `captions` event is sent now.
    func transcriptEstimate(_ inputs: RunInputs) async throws -> Double {
        guard options.captions == .auto else { return 0 }
        let stage = TranscriptStage(options: options, falClient: falClient, logger: logger)
        let (cost, cached) = try await stage.estimate(audio: inputs.audioPath, seconds: inputs.plan.audio.duration)
        if options.dryRun {
            emit(
                .captions(
                    CaptionsReport(
                        source: options.transcriber.rawValue, cues: 0, words: 0, speakers: [], language: options.language,
                        cost: cost, cached: cached, sidecars: RunCaptions.sidecarPaths(for: inputs.output))))
        }
        return cost
    }

    /// Transcribes the whole audio on fal (or takes the cached transcript) for `.auto`
    /// captions, and reports it (a sample's captions when the run makes `sample`). A sample
    /// pays for the whole transcript once: the whole job later takes it from the cache.
    func transcribe(_ inputs: RunInputs, sample: PlanSample?) async throws -> RunCaptions {
        emit(.stage(.transcribing))
        let stage = TranscriptStage(options: options, falClient: falClient, logger: logger)
        let outcome = try await stage.run(audio: inputs.audioPath, seconds: inputs.plan.audio.duration)
        var captions = RunCaptions(
            transcript: outcome.transcript, source: outcome.source, cost: outcome.cost, cached: outcome.cached,
            sidecars: RunCaptions.sidecarPaths(for: inputs.output), language: options.language ?? outcome.transcript.language)
        captions.videoDuration = min(ModelLimits.seconds(forFrames: inputs.plan.totalFrames), inputs.plan.audio.duration)
        emit(.captions((sample.map { captions.sampled($0) } ?? captions).report))
        return captions
    }

    /// The stitch options of a run with `captions`: ``PipelineOptions/stitch`` with them as the
    /// soft subtitle track, and burned into the picture with ``PipelineOptions/burnCaptions``
    /// (kept off the face: the portrait's when there is one, else the face of the speaker on
    /// screen while each cue shows). The whole job's and a sample's (``RunCaptions/sampled(_:)``)
    /// alike.
    func stitchOptions(_ inputs: RunInputs, captions: RunCaptions?) -> StitchOptions {
        let face = inputs.portraits.count == 1 ? inputs.portraits[0].face : nil
        let shots = inputs.portraits.count > 1 ? inputs.captionShots(in: captions?.window) : []
        let burning = options.stitchOptions(burning: captions?.captions, face: face, shots: shots)
        return captions.map { burning.with(subtitles: $0.subtitleTrack) } ?? burning
    }
}
