import ArgumentParser
import Foundation
import InfiniPipeline

extension InfiniTalk.Resolution: ExpressibleByArgument {}

/// Options that decide what a plan costs, shared by `plan` and the main command.
struct PlanningArguments: ParsableArguments {
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("Largest num_frames per request; rounded down to 4n+1, at least 41.", valueName: "N"))
    var maxFrames: Int = ModelLimits.maximumFrames

    @Option(help: "Output resolution: 480p or 720p.")
    var resolution: InfiniTalk.Resolution = .p480

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Override the price in US dollars per second of video (default $0.20 at 480p, $0.40 at 720p).", valueName: "USD"))
    var pricePerSecond: Double?

    func validate() throws {
        if maxFrames < ModelLimits.minimumFrames {
            throw ValidationError("--max-frames \(maxFrames) is below the model's minimum of \(ModelLimits.minimumFrames)")
        }
        if let p = pricePerSecond, !(p.isFinite && p >= 0) {
            throw ValidationError("--price-per-second \(p) must be a number ≥ 0")
        }
    }

    var options: PlanningOptions {
        PlanningOptions(maxFrames: maxFrames, resolution: resolution, pricePerSecond: pricePerSecond)
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
              infinistitch plan podcast.mp3 --speaker ann=ann.jpg --speaker bob=bob.jpg --diarization podcast.rttm
            """
    )

    @Argument(help: "The audio file (any format FFmpeg reads; a video's audio track works too).")
    var audio: String

    @OptionGroup var planning: PlanningArguments

    @OptionGroup var speakers: SpeakerArguments

    @Flag(help: "Print the plan as JSON (the format `infinistitch stitch --plan` reads).")
    var json = false

    func run() async throws {
        let audio = self.audio
        let options = planning.options
        _ = try SegmentPlanner.effectiveMaxFrames(options.maxFrames)
        let multi = try speakers.parsed()
        if let (list, source) = multi {
            // What the run would refuse before reading anything, plan refuses too.
            for speaker in list { try FileChecks.requireInputFile(speaker.image, role: "image") }
            switch source {
            case .diarization(let path): try FileChecks.requireInputFile(path, role: "diarization")
            case .tracks(let files):
                for name in files.keys.sorted() { try FileChecks.requireInputFile(files[name]!, role: "speaker track") }
            case .channels: break
            }
        }
        let minShot = speakers.minShot
        let (plan, outputAudio, warnings) = try await runBlocking {
            // The output's audio is decided (and proven with a scratch MP4) as a run would.
            let outputAudio = try OutputAudio.decide(audio: audio, scratchDirectory: NSTemporaryDirectory())
            let analysis = try AudioAnalysis.analyze(path: audio)
            guard let (list, source) = multi else {
                return (try SegmentPlanner.plan(analysis, options: options), outputAudio, analysis.warnings)
            }
            let (plan, timeline) = try SegmentPlanner.plan(
                analysis, speakers: list, source: source, minShot: minShot, options: options)
            return (plan, outputAudio, analysis.warnings + timeline.warnings)
        }
        for warning in warnings { writeStderr("warning: \(warning)\n") }
        if json {
            // The plan as `stitch --plan` reads it, plus `outputAudio` (which stitch ignores).
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let data = try encoder.encode(PlanWithAudio(plan: plan, outputAudio: outputAudio))
            writeStdout(String(decoding: data, as: UTF8.self) + "\n")
        } else {
            writeStdout(
                "\(audio): \(String(format: "%.3f", plan.audio.duration)) s, \(plan.audio.sampleRate) Hz, \(plan.audio.channels) ch\n"
            )
            writeStdout(plan.renderTable())
            writeStdout("output audio: \(outputAudio.summary)\n")
        }
    }
}

/// A plan's JSON with one more top-level key, `outputAudio`.
private struct PlanWithAudio: Encodable {
    let plan: Plan
    let outputAudio: OutputAudio

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
    }
}
