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

    /// Transcribes the audio on fal (or takes the cached transcript) for `.auto` captions, and
    /// reports it.
    func transcribe(_ inputs: RunInputs) async throws -> RunCaptions {
        emit(.stage(.transcribing))
        let stage = TranscriptStage(options: options, falClient: falClient, logger: logger)
        let outcome = try await stage.run(audio: inputs.audioPath, seconds: inputs.plan.audio.duration)
        var captions = RunCaptions(
            transcript: outcome.transcript, source: outcome.source, cost: outcome.cost, cached: outcome.cached,
            sidecars: RunCaptions.sidecarPaths(for: inputs.output), language: options.language ?? outcome.transcript.language)
        captions.videoDuration = min(ModelLimits.seconds(forFrames: inputs.plan.totalFrames), inputs.plan.audio.duration)
        emit(.captions(captions.report))
        return captions
    }
}
