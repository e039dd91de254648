import Foundation
import Logging

/// The diarized transcript a run with the automatic speaker source (``SpeakerSource/automatic``)
/// is planned from: made on `fal-ai/whisper` before planning (or taken from the transcript
/// cache), its voices mapped to the speakers. With `.auto` captions the same transcript, with
/// the speakers' names, is the captions': one request, paid once.
struct RunDiarization: Sendable {
    /// The transcript as the stage made or cached it (voices labelled `SPEAKER_00`, …).
    var outcome: TranscriptStage.Outcome
    /// Its voices, mapped to the speakers in the order given.
    var mapping: SpeakerMapping

    /// How the transcript may be had.
    enum Access: Sendable {
        /// From the cache only (the status command: nothing is sent).
        case cacheOnly
        /// Made on fal when it is not cached, through `client` (nil: one made from the options).
        case send(client: FalClient?, logger: Logger)
    }

    /// The transcript with each voice named after its speaker: the captions'.
    var named: Transcript { mapping.renaming(outcome.transcript) }

    /// The `speakerMapping` event's report.
    var report: SpeakerMappingReport {
        SpeakerMappingReport(source: outcome.source, cost: outcome.cost, cached: outcome.cached, mapping: mapping)
    }

    /// The run's captions from this transcript (for `.auto` captions).
    func captions(_ o: PipelineOptions, sidecars: [String]) -> RunCaptions {
        RunCaptions(
            transcript: named, source: outcome.source, cost: outcome.cost, cached: outcome.cached, sidecars: sidecars,
            language: o.language ?? outcome.transcript.language)
    }

    /// The diarized transcript of `audio` (`seconds` long) for the options' speakers.
    /// - Parameter videoAtLeast: the least the video can cost (its frames, each paid once):
    ///   with the transcript's cost, over ``PipelineOptions/maxCost`` stops the run before the
    ///   transcript is paid for.
    /// - Throws: ``PipelineError``: over ``PipelineOptions/maxCost`` before anything is sent,
    ///   a missing fal key, a failed request, or (``Access/cacheOnly``) no cached transcript.
    static func make(
        _ o: PipelineOptions, audio: String, seconds: Double, videoAtLeast: Double = 0, access: Access
    ) async throws -> RunDiarization {
        let outcome: TranscriptStage.Outcome
        switch access {
        case .cacheOnly:
            let stage = TranscriptStage(options: o)
            guard let transcript = try await stage.cached(audio: audio) else {
                throw PipelineError(
                    .invalidInput,
                    "\(audio): no diarized transcript of it is cached yet (the automatic speaker source, --diarization auto): the job has not been planned",
                    file: audio)
            }
            outcome = TranscriptStage.Outcome(
                transcript: transcript, source: o.transcriber.rawValue, cost: 0, cached: true, audioSeconds: seconds)
        case .send(let client, let logger):
            let stage = TranscriptStage(options: o, falClient: client, logger: logger)
            let (cost, cached) = try await stage.estimate(audio: audio, seconds: seconds)
            if let maxCost = o.maxCost, cost + videoAtLeast > maxCost + 1e-9 {
                throw PipelineError(
                    .overBudget,
                    String(
                        format:
                            "the diarized transcript's estimated cost $%.2f and the video's, at least $%.2f, are over maxCost $%.2f",
                        cost, videoAtLeast, maxCost),
                    option: "maxCost")
            }
            if !cached, client == nil {
                do {
                    _ = try o.falClientSettings()
                } catch let error as PipelineError {
                    throw PipelineError(
                        error.kind,
                        "the automatic speaker source (--diarization auto) transcribes the audio on \(o.transcriber.rawValue): "
                            + error.description, underlying: error)
                }
            }
            outcome = try await stage.run(audio: audio, seconds: seconds)
        }
        return RunDiarization(
            outcome: outcome, mapping: SpeakerMapping(transcript: outcome.transcript, names: o.speakers.map(\.name)))
    }
}
