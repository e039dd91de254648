import ArgumentParser
import Foundation
import InfiniPipeline

/// `infinistitch transcribe AUDIO [-o FILE.srt|.vtt|.json]`: the transcript stage alone.
struct TranscribeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transcribe",
        abstract: "Transcribe the audio on fal (fal-ai/whisper or fal-ai/wizper) and write the captions or the transcript.",
        discussion: """
            Examples:
              infinistitch transcribe talk.mp3 -o talk.srt          # captions as SubRip
              infinistitch transcribe talk.mp3 -o talk.vtt --language en
              infinistitch transcribe talk.mp3 -o talk.json --transcriber fal-ai/wizper

            .srt and .vtt get the captions (cues of 1-7 s); .json gets the transcript with its word
            timings ({"segments": [{"start", "end", "text", "words": [...]}]}), which --captions
            reads back. Without -o the SRT goes to standard output. The transcript is cached by the
            audio's content, so transcribing the same audio again costs nothing. Reads FAL_KEY.
            """
    )

    @Argument(help: "The audio file (any format FFmpeg reads).")
    var audio: String

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write: FILE.srt, FILE.vtt or FILE.json.", valueName: "FILE"))
    var output: String?

    @Option(
        help: ArgumentHelp("The fal endpoint: fal-ai/whisper (word timings, default) or fal-ai/wizper.", valueName: "ENDPOINT"))
    var transcriber: TranscriptionModel = .whisper

    @Option(help: ArgumentHelp("The language spoken, an ISO 639-1 code such as en (default: detected).", valueName: "CODE"))
    var language: String?

    @Flag(help: "Neither use nor fill the transcript cache.")
    var noCache = false

    @Option(
        help: ArgumentHelp("fal queue base URL (default $INFINISTITCH_QUEUE_URL or https://queue.fal.run).", valueName: "URL"))
    var queueURL: String?

    @Option(help: ArgumentHelp("fal REST base URL (default $INFINISTITCH_REST_URL or https://rest.fal.ai).", valueName: "URL"))
    var restURL: String?

    func validate() throws {
        if let output, !["srt", "vtt", "json"].contains(URL(fileURLWithPath: output).pathExtension.lowercased()) {
            throw ValidationError("-o \(output): name a .srt, .vtt or .json file")
        }
        do {
            try options().validate()
        } catch let error as PipelineError {
            throw ValidationError(ErrorReport.line(for: error))
        }
    }

    func options() -> PipelineOptions {
        var o = PipelineOptions(audio: audio, image: "")
        o.captions = .auto
        o.transcriber = transcriber
        o.language = language
        o.useCache = !noCache
        o.queueURL = queueURL
        o.restURL = restURL
        return o
    }

    func absolute(_ path: String) -> String {
        path.hasPrefix("/")
            ? path
            : URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(path).standardizedFileURL.path
    }

    func run() async throws {
        let options = options()
        if let output {
            let path = absolute(output)
            guard FileManager.default.fileExists(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path) else {
                throw CLIError.badInput("\(output): the directory does not exist")
            }
            if URL(fileURLWithPath: path).standardizedFileURL == URL(fileURLWithPath: absolute(audio)).standardizedFileURL {
                throw CLIError.badInput("\(output): the output would overwrite the audio")
            }
        }
        let outcome: TranscriptStage.Outcome
        do {
            outcome = try await TranscriptStage(options: options).run()
        } catch let error as PipelineError {
            throw CLIError(message: ErrorReport.line(for: error), exitCode: ErrorReport.exitCode(for: error))
        }
        let transcript = outcome.transcript
        let text: String
        switch output.map({ URL(fileURLWithPath: $0).pathExtension.lowercased() }) {
        case "vtt": text = CaptionWriter.webVTT(outcome.captions)
        case "json": text = transcript.whisperJSON()
        default: text = CaptionWriter.srt(outcome.captions)
        }
        let cost = outcome.cached ? "cached, nothing paid" : String(format: "$%.2f", outcome.cost)
        guard let output else {
            writeStdout(text)
            writeStderr("transcribed by \(outcome.source) (\(cost))\n")
            return
        }
        let path = absolute(output)
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw CLIError.failure("\(output): cannot write the file (\(error.localizedDescription))")
        }
        writeStdout(
            "\(path): \(transcript.segments.count) segments, \(transcript.words.count) words, by \(outcome.source) (\(cost))\n")
    }
}
