import ArgumentParser
import Dispatch
import Foundation
import InfiniPipeline
import Logging
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension InfiniTalk.Acceleration: ExpressibleByArgument {}
extension BackendKind: ExpressibleByArgument {}

/// `infinistitch AUDIO --image IMAGE`: the whole job.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Make one talking-avatar MP4 from an audio file and a portrait (the default command).",
        discussion: """
            Examples:
              infinistitch long_podcast.mp3 --image me.jpg                 # writes long_podcast.mp4
              infinistitch talk.m4a --image me.png --dry-run               # plan and price only
              infinistitch talk.m4a --image me.png --sample --sample-at 12:30   # 30 s from 12:30 first: talk.sample.mp4
              infinistitch talk.m4a --image me.png --backend preview       # free local preview
              infinistitch talk.m4a --image me.png --provider wavespeed    # the same model, a sixth of the price
              infinistitch talk.m4a --image me.png --resolution 720p --max-cost 50 -o talk-720p.mp4
              infinistitch podcast.mp3 --speaker ann=ann.jpg --speaker bob=bob.jpg --diarization podcast.rttm
              infinistitch interview.wav --speaker ann=ann.jpg --speaker bob=bob.jpg --speaker-channel ann=0 --speaker-channel bob=1
              infinistitch talk.m4a --image me.png --backend preview --captions talk.srt   # soft subtitles + talk.srt/.vtt, offline

            Running the same command again after a crash or Ctrl-C resumes: finished clips are
            reused and submitted requests are fetched by their id, never paid for twice.
            The fal provider reads FAL_KEY (or FAL_KEY_ID and FAL_KEY_SECRET) from the environment;
            the WaveSpeed provider reads WAVESPEED_API_KEY.
            """
    )

    @Argument(help: "The audio file (any format FFmpeg reads; a video's audio track works too).")
    var audio: String

    @Option(help: "The portrait (PNG or JPEG); with several voices, give --speaker instead.")
    var image: String?

    @OptionGroup var speakers: SpeakerArguments

    @Option(help: "Text prompt for the model.")
    var prompt: String = PipelineOptions.defaultPrompt

    @Option(name: .shortAndLong, help: "The MP4 to write (default: the audio's name with .mp4, in the current directory).")
    var output: String?

    @OptionGroup var planning: PlanningArguments

    @Option(parsing: .unconditional, help: "Generation seed.")
    var seed: Int = InfiniTalk.defaultSeed

    @Option(help: "Model acceleration: none, regular or high.")
    var acceleration: InfiniTalk.Acceleration = InfiniTalk.defaultAcceleration

    @Option(parsing: .unconditional, help: "Requests in flight at once.")
    var concurrency: Int = PipelineOptions.defaultConcurrency

    @Option(help: "The older spelling of --provider: fal, wavespeed or preview.")
    var backend: BackendKind?

    @Option(help: "The model endpoint id.")
    var endpoint: String = InfiniTalk.endpoint

    @Option(
        help: ArgumentHelp("fal queue base URL (default $INFINISTITCH_QUEUE_URL or https://queue.fal.run).", valueName: "URL"))
    var queueURL: String?

    @Option(help: ArgumentHelp("fal REST base URL (default $INFINISTITCH_REST_URL or https://rest.fal.ai).", valueName: "URL"))
    var restURL: String?

    @Option(
        help: ArgumentHelp(
            "WaveSpeed API base URL (default: INFINISTITCH_WAVESPEED_URL or https://api.wavespeed.ai); plain http only to loopback.",
            valueName: "URL"))
    var providerURL: String?

    @Flag(help: "Send the image and audio inline as data: URIs instead of uploading them.")
    var inline = false

    @Option(
        help: ArgumentHelp(
            "The run's work dir (default: derived from the inputs and options, under the cache dir).", valueName: "DIR"))
    var workDir: String?

    @Flag(help: "Neither use nor fill the clip cache.")
    var noCache = false

    @Flag(help: "Print the plan and the cost; send nothing.")
    var dryRun = false

    @OptionGroup var sampling: SampleArguments

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Refuse to start when the estimated cost is higher, and stop before a submit (retries and earlier runs of the job counted) would commit more.",
            valueName: "USD"))
    var maxCost: Double?

    @Flag(
        help:
            "Send again the segments whose submit got no answer in an earlier run (they may have been accepted: each may be paid for twice)."
    )
    var resubmitUnknown = false

    @Option(
        help: ArgumentHelp(
            "Write an HLS stream of the finished part of the video here while the run goes on (DIR/index.m3u8, closed when the run ends; a resumed run continues it), with the same transitions, colour match and burned captions as the MP4.",
            valueName: "DIR"))
    var live: String?

    @OptionGroup var fit: FitArguments

    @OptionGroup var stitching: StitchArguments

    @OptionGroup var transitions: TransitionOptions

    @OptionGroup var captionArguments: CaptionArguments

    @OptionGroup var captionBurning: CaptionBurnArguments

    @Option(
        help: ArgumentHelp(
            "Correct colour drift inside each clip against the portrait its request was made from (portrait, re-encodes the video) or not (off).",
            valueName: "MODE"))
    var colorMatch: ColorMatchMode = .portrait

    @Flag(help: "Write NDJSON events to standard output (plan, segment states, warnings, summary).")
    var json = false

    @Flag(name: .shortAndLong, help: "Show the log (requests, polls, retries) above the progress; the same as --log-level debug.")
    var verbose = false

    @Option(
        help: ArgumentHelp(
            "Show log lines of this level and above: trace, debug, info, notice, warning, error, critical (default warning; debug with --verbose).",
            valueName: "LEVEL"))
    var logLevel: String?

    /// The library checks the values; the command line names them by their flags.
    func validate() throws {
        switch (image, speakers.isMultiSpeaker) {
        case (nil, false):
            throw ValidationError("Missing expected argument '--image <image>' (or --speaker NAME=IMAGE for each voice)")
        case (_?, true):
            throw ValidationError(
                "--image and --speaker are alternatives: give --image for one voice, --speaker for each of several")
        default: break
        }
        if let backend, let provider = planning.provider, backend.rawValue != provider.id {
            throw ValidationError("--backend \(backend.rawValue) and --provider \(provider.id) disagree: give one")
        }
        if let logLevel, Logger.Level(rawValue: logLevel) == nil {
            let levels = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
            throw ValidationError("--log-level \(logLevel) is not a level (\(levels))")
        }
        do {
            try makeOptions().validate()
        } catch let error as PipelineError {
            throw ValidationError(ErrorReport.line(for: error))
        }
    }

    func makeOptions() throws -> PipelineOptions {
        var o = PipelineOptions(audio: audio, image: image ?? "")
        if let (list, source) = try speakers.parsed() {
            o = PipelineOptions(audio: audio, speakers: list, source: source)
            o.minShot = speakers.minShot
        }
        o.output = output
        o.prompt = prompt
        o.resolution = planning.resolution
        o.maxFrames = planning.maxFramesValue
        o.pricePerSecond = planning.pricePerSecond
        o.seed = seed
        o.acceleration = acceleration
        o.concurrency = concurrency
        o.provider = planning.provider ?? backend.flatMap { Provider.named($0.rawValue) } ?? .fal
        o.endpoint = endpoint
        o.queueURL = queueURL
        o.restURL = restURL
        o.providerURL = providerURL
        o.inline = inline
        o.workDir = workDir
        o.useCache = !noCache
        o.dryRun = dryRun
        o.maxCost = maxCost
        o.sample = try sampling.parsed()
        o.resubmitUnknown = resubmitUnknown
        o.live = live
        o.stitch = transitions.applied(to: stitching.options, default: .morph)
        (o.burnCaptions, o.captionStyle) = (captionBurning.burnCaptions, captionBurning.captionStyle)
        o.colorMatch = colorMatch == .portrait ? .portrait : .off
        (o.aspect, o.cropAnchor, o.background) = try fit.parsed()
        return captionArguments.applied(to: o)
    }

    func run() async throws {
        let options = try makeOptions()
        let reporter = ProgressReporter(json: json, dryRun: dryRun, preview: !options.provider.isBilled)
        let level = logLevel.flatMap(Logger.Level.init(rawValue:)) ?? (verbose ? .debug : .warning)
        let logger = Logger(label: "infinistitch") { _ in ReporterLogHandler(reporter: reporter, logLevel: level) }
        let pipeline = Pipeline(options: options, logger: logger)
        let consumer = Task { await reporter.consume(pipeline.events) }
        let work = Task { try await pipeline.run() }
        let signals = SignalWatcher { work.cancel() }
        defer { signals.stop() }
        do {
            let summary = try await work.value
            await consumer.value
            if !json { reporter.printSummary(summary) }
        } catch let error as PipelineError {
            await consumer.value
            var message = ErrorReport.line(for: error)
            let code = ErrorReport.exitCode(for: error)
            let resume =
                error.requiredMaxCost.map { Self.resumeCommand(maxCost: $0) } ?? Self.resumeCommand()
            if code == 1 { message += "\nfinished clips are kept; to resume, run: \(resume)" }
            if json { writeStdout(ErrorReport.jsonLine(for: error, resume: code == 1 ? resume : nil) + "\n") }
            throw CLIError(message: message, exitCode: code)
        }
    }

    /// The command line that resumes this run (the same command), with `--max-cost` set to
    /// `maxCost` when given.
    static func resumeCommand(maxCost: Double? = nil, arguments: [String] = CommandLine.arguments) -> String {
        var given = Array(arguments.dropFirst())
        if let maxCost {
            let value = String(format: "%.2f", maxCost)
            if let at = given.firstIndex(of: "--max-cost"), at + 1 < given.count {
                given[at + 1] = value
            } else if let at = given.firstIndex(where: { $0.hasPrefix("--max-cost=") }) {
                given[at] = "--max-cost=\(value)"
            } else {
                given += ["--max-cost", value]
            }
        }
        return shellLine(["infinistitch"] + given)
    }

    /// Words as one shell command line, each quoted when it needs to be.
    static func shellLine(_ words: [String]) -> String {
        words.map { arg -> String in
            let safe = arg.allSatisfy { $0.isLetter || $0.isNumber || "-_./:=,@%+".contains($0) }
            return safe && !arg.isEmpty ? arg : "'" + arg.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }.joined(separator: " ")
    }
}

/// Ctrl-C and SIGTERM: the first stops the command cleanly (for a run: queued requests
/// cancelled, manifest saved, exit 130), saying `notice`; a second exits at once.
final class SignalWatcher {
    private let sources: [any DispatchSourceSignal]

    init(
        notice: String = "stopping (cancelling queued requests, saving the manifest); press Ctrl-C again to quit at once",
        onFirst: @escaping @Sendable () -> Void
    ) {
        // Signals received so far.
        let count = NIOLockedValueBox(0)
        sources = [SIGINT, SIGTERM].map { sig in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                let n = count.withLockedValue { count in
                    count += 1
                    return count
                }
                if n == 1 {
                    writeStderr("\ninfinistitch: \(notice)\n")
                    onFirst()
                } else {
                    exit(130)
                }
            }
            source.resume()
            return source
        }
    }

    func stop() {
        for s in sources { s.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
