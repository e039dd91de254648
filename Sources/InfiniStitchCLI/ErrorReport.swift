import ArgumentParser
import Foundation
import InfiniPipeline

/// How the command line tells the library's errors: their flags and exit codes. The library
/// names option values by their Swift property; users know them by their flags.
enum ErrorReport {
    /// The flag of each option property the library names in its errors.
    static let flags: [String: String] = [
        "concurrency": "--concurrency", "maxCost": "--max-cost", "prompt": "--prompt", "seed": "--seed",
        "maxAttempts": "--max-attempts", "maxFrames": "--max-frames", "provider": "--provider", "providerURL": "--provider-url",
        "maxSegment": "--max-segment", "resubmitUnknown": "--resubmit-unknown",
        "pricePerSecond": "--price-per-second",
        "workDir": "--work-dir", "aspect": "--aspect", "cropAnchor": "--crop-anchor", "background": "--background",
        "crf": "--crf", "preset": "--preset", "audioBitRate": "--audio-bitrate", "crossfadeFrames": "--crossfade",
        "transition": "--transition", "transitionFrames": "--transition-frames",
        "reencode": "--reencode", "endpoint": "--endpoint", "queueURL": "--queue-url", "restURL": "--rest-url",
        "minShot": "--min-shot", "speakers": "--speaker", "sample": "--sample", "sampleAt": "--sample-at",
        "transcriber": "--transcriber", "burnCaptions": "--burn-captions", "burnedCaptions": "--burn-captions",
        "captionStyle": "--caption-style",
    ]

    /// `message` with the option's property name replaced by its flag (the first time it
    /// appears as a word).
    static func withFlag(_ message: String, option: String?) -> String {
        guard let option, let flag = flags[option] else { return message }
        var searchStart = message.startIndex
        while let range = message.range(of: option, range: searchStart..<message.endIndex) {
            let before = range.lowerBound == message.startIndex ? nil : message[message.index(before: range.lowerBound)]
            let after = range.upperBound == message.endIndex ? nil : message[range.upperBound]
            if !(before?.isLetter ?? false) && !(after?.isLetter ?? false) {
                return message.replacingCharacters(in: range, with: flag)
            }
            searchStart = range.upperBound
        }
        return message
    }

    /// What to do, after the line of an error that names one of these options.
    static let hints: [String: String] = [
        "credentials": ", or use --backend preview or --dry-run",
        "workDir": "; choose another --work-dir",
    ]

    /// Any error of the library as the command line says it: flags for option names, and what
    /// to do when an option lets the run start.
    static func line(for error: any InfiniPipelineError) -> String {
        withFlag(error.description, option: error.option) + (error.option.flatMap { hints[$0] } ?? "")
    }

    /// The exit code of any error of the library: 130 interrupted, 2 when what was given must
    /// change (an input, an option, the key, the output's place; a clip given to `stitch` that
    /// cannot be used too), 1 for a failure.
    static func exitCode(for error: any InfiniPipelineError) -> Int32 {
        if error.fault == .interrupted { return 130 }
        return error.isInputProblem ? 2 : 1
    }

    /// An error as one NDJSON line for `--json`: `{"event":"error","reason":<its fault, e.g.
    /// "budget">,"kind":…,"message":…}`, with the command that resumes the run when there is one.
    static func jsonLine(for error: any InfiniPipelineError, resume: String?) -> String {
        struct Line: Encodable {
            let event = "error"
            let reason: String
            let kind: String
            let message: String
            let resume: String?
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let line = Line(reason: error.fault.description, kind: error.kindName, message: self.line(for: error), resume: resume)
        return (try? encoder.encode(line)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
