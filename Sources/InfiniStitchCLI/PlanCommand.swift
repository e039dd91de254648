import ArgumentParser
import Foundation
import InfiniPipeline

extension InfiniTalk.Resolution: ExpressibleByArgument {}

extension Provider: ExpressibleByArgument {
    public init?(argument: String) {
        guard let provider = Provider.named(argument) else { return nil }
        self = provider
    }
    public static var allValueStrings: [String] { Provider.known.map(\.id) }
}

/// Options that decide what a plan costs, shared by `plan` and the main command.
struct PlanningArguments: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Who generates the clips: fal (default), wavespeed, or preview (offline, free).", valueName: "NAME"))
    var provider: Provider?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "The longest request, in seconds (at most the provider's cap: 28.84 s on fal, 600 s on WaveSpeed). Default: the cap on fal; on WaveSpeed, the fewest requests that a multiple of --concurrency allows.",
            valueName: "SECONDS"))
    var maxSegment: Double?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("Largest num_frames per request on fal; rounded down to 4n+1, at least 41.", valueName: "N"))
    var maxFrames: Int?

    @Option(help: "Output resolution: 480p or 720p.")
    var resolution: InfiniTalk.Resolution = .p480

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Override the price in US dollars per second of video (default: the provider's list price).", valueName: "USD"))
    var pricePerSecond: Double?

    func validate() throws {
        if let maxFrames, maxFrames < ModelLimits.minimumFrames {
            throw ValidationError("--max-frames \(maxFrames) is below the model's minimum of \(ModelLimits.minimumFrames)")
        }
        if maxFrames != nil && maxSegment != nil {
            throw ValidationError("--max-frames and --max-segment are alternatives: give one")
        }
        if let s = maxSegment {
            let cap = Double((provider ?? .fal).lengths.maximum) / Double(ModelLimits.fps)
            guard s.isFinite, s > 0, s <= cap + 1e-9 else {
                throw ValidationError(
                    "--max-segment \(s) must be a number of seconds above 0 and at most \(provider ?? .fal)'s cap of \(cap) s")
            }
        }
        if let p = pricePerSecond, !(p.isFinite && p >= 0) {
            throw ValidationError("--price-per-second \(p) must be a number ≥ 0")
        }
    }

    /// The longest request in frames: `--max-frames`, `--max-segment` in frames, or the
    /// provider's default (`Int.max`).
    var maxFramesValue: Int {
        if let maxFrames { return maxFrames }
        if let maxSegment { return Int((maxSegment * Double(ModelLimits.fps) + 1e-9).rounded(.down)) }
        return .max
    }

    func options(concurrency: Int = 4) -> PlanningOptions {
        PlanningOptions(
            maxFrames: maxFramesValue, resolution: resolution, pricePerSecond: pricePerSecond, provider: provider ?? .fal,
            concurrency: concurrency)
    }
}

/// `infinistitch plan AUDIO`: the segments, their cuts and the cost, without generating anything.
struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show how an audio file would be split into model requests, and what it would cost.",
        discussion: """
            Examples:
              infinistitch plan lecture.mp3
              infinistitch plan podcast.m4a --resolution 720p --json > plan.json
              infinistitch plan podcast.m4a --sample 60 --sample-at 12:30   # what that sample would cost
              infinistitch plan podcast.mp3 --speaker ann=ann.jpg --speaker bob=bob.jpg --diarization podcast.rttm
              infinistitch plan podcast.mp3 --speaker ann=ann.jpg --speaker bob=bob.jpg --diarization auto

            With --diarization auto the plan is made from AUDIO's diarized transcript, so plan makes
            it on fal-ai/whisper (FAL_KEY) when it is not cached: one request, priced beside the
            video, cached by the audio's content so that the run pays nothing more for it.
            """
    )

    @Argument(help: "The audio file (any format FFmpeg reads; a video's audio track works too).")
    var audio: String

    @OptionGroup var planning: PlanningArguments

    @OptionGroup var speakers: SpeakerArguments

    @OptionGroup var sampling: SampleArguments

    @Flag(help: "Print the plan as JSON (the format `infinistitch stitch --plan` reads).")
    var json = false

    @OptionGroup var captionArguments: CaptionArguments

    /// `--diarization auto` needs fal-ai/whisper (the run refuses the same).
    func validate() throws {
        guard let (list, source) = try speakers.parsed(), source == .automatic else { return }
        do {
            try captionArguments.applied(to: PipelineOptions(audio: audio, speakers: list, source: source)).validate()
        } catch let error as PipelineError {
            throw ValidationError(ErrorReport.line(for: error))
        }
    }

    func run() async throws {
        let audio = self.audio
        var planningOptions = planning.options()
        // A transcript known now (a file, or a cached one of `auto`) moves the cuts to sentence ends.
        let captionSource = captionArguments.captions.map(CaptionSource.init(argument:))
        let stage = TranscriptStage(options: captionArguments.applied(to: PipelineOptions(audio: audio, image: "")))
        let transcriptFile: String? = if case .file(let path)? = captionSource { path } else { nil }
        if let transcriptFile { try FileChecks.requireInputFile(transcriptFile, role: "captions") }
        if planningOptions.provider.lengths.setBy == .numFrames {
            _ = try SegmentPlanner.effectiveMaxFrames(planningOptions.maxFrames)
        }
        let multi = try speakers.parsed()
        if let (list, source) = multi {
            // What the run would refuse before reading anything, plan refuses too.
            for speaker in list { try FileChecks.requireInputFile(speaker.image, role: "image") }
            switch source {
            case .diarization(let path): try FileChecks.requireInputFile(path, role: "diarization")
            case .tracks(let files):
                for name in files.keys.sorted() { try FileChecks.requireInputFile(files[name]!, role: "speaker track") }
            case .channels, .automatic: break
            }
        }
        // The diarized transcript the automatic speaker source plans from (and the captions share).
        let diarized = try await diarizedTranscript(multi)
        if let diarized {
            planningOptions.transcript = diarized.outcome.transcript
        } else if captionSource == .auto {
            planningOptions.transcript = try await stage.cachedTranscript(of: audio)
        }
        let options = planningOptions
        let givenMinShot = speakers.minShot
        let minShot = givenMinShot ?? SpeakerTimeline.defaultMinShot(for: options.provider)
        let (plan, prices, outputAudio, warnings) = try await runBlocking {
            // The output's audio is decided (and proven with a scratch MP4) as a run would.
            let outputAudio = try OutputAudio.decide(audio: audio, scratchDirectory: NSTemporaryDirectory())
            let analysis = try AudioAnalysis.analyze(path: audio)
            var options = options
            if let transcriptFile, diarized == nil {
                options.transcript = try Transcript.read(
                    file: URL(fileURLWithPath: transcriptFile), audioDuration: analysis.duration)
            }
            guard let (list, source) = multi else {
                let plan = try SegmentPlanner.plan(analysis, options: options)
                let prices = try SegmentPlanner.prices(analysis, plan: plan, options: options)
                return (plan, prices, outputAudio, analysis.warnings)
            }
            let (plan, timeline) = try SegmentPlanner.plan(
                analysis, speakers: list, source: source, minShot: minShot, options: options)
            let prices = try SegmentPlanner.prices(
                analysis, plan: plan, timeline: timeline, minShot: givenMinShot, options: options)
            return (plan, prices, outputAudio, analysis.warnings + timeline.warnings)
        }
        // What a sample would cost: the one asked for, or the first 30 s.
        let sample = try plan.sample(try sampling.parsed() ?? SampleSpan())
        for warning in warnings { writeStderr("warning: \(warning)\n") }
        var transcript: TranscriptCost? = nil
        if let diarized {
            transcript = TranscriptCost(
                source: diarized.outcome.source, cost: diarized.outcome.cost, cached: diarized.outcome.cached)
        } else if captionSource == .auto {
            let (cost, cached) = try await stage.estimate(audio: audio, seconds: plan.audio.duration)
            transcript = TranscriptCost(source: stage.options.transcriber.rawValue, cost: cost, cached: cached)
        }
        if json {
            // The plan as `stitch --plan` reads it, plus `outputAudio` (which stitch ignores).
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let data = try encoder.encode(
                PlanWithAudio(
                    plan: plan, prices: prices, outputAudio: outputAudio, sample: sample, transcript: transcript,
                    speakerMapping: diarized?.report))
            writeStdout(String(decoding: data, as: UTF8.self) + "\n")
        } else {
            writeStdout(
                "\(audio): \(String(format: "%.3f", plan.audio.duration)) s, \(plan.audio.sampleRate) Hz, \(plan.audio.channels) ch\n"
            )
            if let diarized {
                writeStdout(
                    ([ProgressReporter.transcriptLine(diarized.report)] + diarized.report.lines.map { "  \($0)" })
                        .joined(separator: "\n") + "\n")
            }
            writeStdout(plan.renderTable())
            writeStdout("on each provider: " + prices.map(\.summary).joined(separator: " · ") + "\n")
            writeStdout("output audio: \(outputAudio.summary)\n")
            writeStdout("to try it first: \(sample.summary) (--sample)\n")
            if let transcript {
                let paid =
                    transcript.cached
                    ? "cached, nothing to pay" : String(format: diarized == nil ? "$%.2f" : "$%.2f, paid now", transcript.cost)
                writeStdout("transcript: \(transcript.source), \(paid)\n")
            }
        }
    }
}

/// A plan's JSON with three more top-level keys: `prices` (keyed by provider), `outputAudio`
/// and `sample` (what a sample would make and cost, ``PlanSample``); `transcript` with captions
/// or diarization made on fal, and `speakerMapping` with `--diarization auto`.
private struct PlanWithAudio: Encodable {
    let plan: Plan
    let prices: [ProviderPrice]
    let outputAudio: OutputAudio
    let sample: PlanSample
    var transcript: TranscriptCost? = nil
    var speakerMapping: SpeakerMappingReport? = nil

    private struct Key: CodingKey {
        var stringValue: String
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        try plan.encode(to: encoder)
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(outputAudio, forKey: Key("outputAudio"))
        try container.encode(sample, forKey: Key("sample"))
        try container.encodeIfPresent(transcript, forKey: Key("transcript"))
        try container.encodeIfPresent(speakerMapping, forKey: Key("speakerMapping"))
        try container.encode(
            Dictionary(prices.map { ($0.provider, $0) }, uniquingKeysWith: { first, _ in first }), forKey: Key("prices"))
    }
}

/// What the transcript of `--captions auto` costs, beside the video's: `transcript` in the JSON.
private struct TranscriptCost: Encodable {
    let source: String
    let cost: Double
    let cached: Bool
}

extension PlanCommand {
    /// The diarized transcript of `--diarization auto` and its voices mapped to the speakers:
    /// taken from the cache, or made on fal (one request, FAL_KEY); nil for another source.
    func diarizedTranscript(
        _ multi: (speakers: [Plan.Speaker], source: SpeakerSource)?
    ) async throws -> (outcome: TranscriptStage.Outcome, report: SpeakerMappingReport)? {
        guard let (list, source) = multi, source == .automatic else { return nil }
        let options = captionArguments.applied(to: PipelineOptions(audio: audio, speakers: list, source: source))
        let outcome: TranscriptStage.Outcome
        do {
            outcome = try await TranscriptStage(options: options).run()
        } catch let error as PipelineError where error.kind == .missingCredentials {
            throw CLIError(
                message: "--diarization auto transcribes \(audio) on \(options.transcriber.rawValue): \(error.description)",
                exitCode: ErrorReport.exitCode(for: error))
        }
        let mapping = SpeakerMapping(transcript: outcome.transcript, names: list.map(\.name))
        return (
            outcome,
            SpeakerMappingReport(source: outcome.source, cost: outcome.cost, cached: outcome.cached, mapping: mapping)
        )
    }
}
