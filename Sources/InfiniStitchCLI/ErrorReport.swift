import ArgumentParser
import Foundation
import InfiniPipeline

/// How the command line tells the library's errors: their flags and exit codes. The library
/// names option values by their Swift property; users know them by their flags.
enum ErrorReport {
    /// The flag of each option property the library names in its errors.
    static let flags: [String: String] = [
        "concurrency": "--concurrency", "maxCost": "--max-cost", "prompt": "--prompt", "seed": "--seed",
        "maxAttempts": "--max-attempts", "maxFrames": "--max-frames", "pricePerSecond": "--price-per-second",
        "workDir": "--work-dir", "aspect": "--aspect", "cropAnchor": "--crop-anchor", "background": "--background",
        "crf": "--crf", "preset": "--preset", "audioBitRate": "--audio-bitrate", "crossfadeFrames": "--crossfade",
        "transition": "--transition", "transitionFrames": "--transition-frames",
        "reencode": "--reencode", "endpoint": "--endpoint", "queueURL": "--queue-url", "restURL": "--rest-url",
        "minShot": "--min-shot", "speakers": "--speaker",
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

    /// A pipeline error as the command line says it: flags for option names, and what to do.
    static func line(for error: PipelineError) -> String {
        let message = withFlag(error.message, option: error.option)
        switch (error.kind, error.option) {
        case (.missingCredentials, "credentials"): return message + ", or use --backend preview or --dry-run"
        case (.invalidWorkDir, "workDir"): return message + "; choose another --work-dir"
        default: return message
        }
    }

    /// The exit code of a pipeline error: 2 bad input or usage, 130 interrupted, 1 failure.
    static func exitCode(for error: PipelineError) -> Int32 {
        switch error.kind {
        case .interrupted: return 130
        case .invalidInput, .invalidOption, .invalidOutput, .missingCredentials, .workDirInUse, .invalidWorkDir,
            .overBudget, .insufficientDiskSpace:
            return 2
        default: return 1
        }
    }

    /// The exit code of a stage's error (the `plan`, `fit-image` and `stitch` commands call the
    /// stages directly): 2 when the input is bad (a clip given to `stitch` that cannot be used
    /// is too), 1 otherwise.
    static func exitCode(forStage error: any Error) -> Int32? {
        switch error {
        case let media as MediaError: return media.isInputProblem ? 2 : 1
        case is ImageFitError, is ClipError, is PlanningError, is PlanFileError, is StitchError, is SpeakerError: return 2
        default: return nil
        }
    }

    /// A stage's error as the command line says it (flags for option names).
    static func line(forStage error: any Error) -> String {
        switch error {
        case let e as ImageFitError: return withFlag(e.description, option: e.option)
        case let e as PlanningError: return withFlag(e.description, option: e.option)
        case let e as StitchError: return withFlag(e.description, option: e.option)
        case let e as SpeakerError: return withFlag(e.description, option: e.option)
        default: return "\(error)"
        }
    }
}
