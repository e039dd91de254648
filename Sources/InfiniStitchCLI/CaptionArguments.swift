import ArgumentParser
import InfiniPipeline

extension TranscriptionModel: ExpressibleByArgument {}

/// Captions: `--captions FILE|auto`, `--transcriber`, `--language`.
struct CaptionArguments: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Caption the video: a transcript file (SRT, WebVTT, Whisper-style JSON or fal chunks), or auto to transcribe the audio on fal. The MP4 gets a soft subtitle track, and NAME.srt and NAME.vtt are written beside it.",
            valueName: "FILE|auto"))
    var captions: String?

    @Option(
        help: ArgumentHelp(
            "The fal endpoint --captions auto transcribes with: fal-ai/whisper (word timings) or fal-ai/wizper (faster, segments). (default: fal-ai/whisper)",
            valueName: "ENDPOINT"))
    var transcriber: TranscriptionModel = .whisper

    @Option(
        help: ArgumentHelp(
            "The language spoken, an ISO 639-1 code such as en (default: detected); also the subtitle track's language.",
            valueName: "CODE"))
    var language: String?

    /// `options` with these settings.
    func applied(to options: PipelineOptions) -> PipelineOptions {
        var o = options
        o.captions = captions.map(CaptionSource.init(argument:))
        o.transcriber = transcriber
        o.language = language
        return o
    }
}
