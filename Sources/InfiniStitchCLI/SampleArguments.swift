import ArgumentParser
import Foundation
import InfiniPipeline

/// `--sample [SECONDS]` and `--sample-at TIME`, shared by the main command and `plan`.
struct SampleArguments: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Make only a sample first: the requests covering SECONDS (30 when no value is given) of the job, written beside the output (talk.mp4 → talk.sample.mp4); the full run reuses its clips. --max-cost then limits the sample.",
            valueName: "SECONDS"))
    var sample: String?

    @Option(
        help: ArgumentHelp(
            "Where the sample starts: MM:SS, HH:MM:SS or seconds (default 0:00); implies --sample.", valueName: "TIME"))
    var sampleAt: String?

    func validate() throws { _ = try parsed() }

    /// The sample asked for, or nil when neither flag is given.
    func parsed() throws -> SampleSpan? {
        guard sample != nil || sampleAt != nil else { return nil }
        var span = SampleSpan()
        if let sample {
            guard let seconds = Self.seconds(sample) else {
                throw ValidationError("--sample \(sample) is not a length: give seconds (45) or MM:SS (1:30)")
            }
            span.seconds = seconds
        }
        if let sampleAt {
            guard let at = Self.seconds(sampleAt) else {
                throw ValidationError("--sample-at \(sampleAt) is not a time: give MM:SS (12:30), HH:MM:SS (1:02:10) or seconds")
            }
            span.at = at
        }
        do {
            try span.validate()
        } catch let error as PlanningError {
            throw ValidationError(ErrorReport.line(for: error))
        }
        return span
    }

    /// Seconds from `SS`, `MM:SS` or `HH:MM:SS` (the last part may have a fraction; minutes and
    /// seconds after the first part below 60), or nil.
    static func seconds(_ text: String) -> Double? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard (1...3).contains(parts.count) else { return nil }
        var total = 0.0
        for (i, part) in parts.enumerated() {
            let last = i == parts.count - 1
            guard !part.isEmpty, part.allSatisfy({ $0.isASCII && ($0.isNumber || (last && $0 == ".")) }),
                let value = Double(part), value.isFinite
            else { return nil }
            if i > 0 && value >= 60 { return nil }
            total = total * 60 + value
        }
        return total
    }

    /// The command line with `--sample` given a value where it has none: `--sample` followed
    /// by nothing, another option or a word that is not a length means 30 s (options take a
    /// value, so the default is written in).
    static func normalized(_ arguments: [String]) -> [String] {
        var result: [String] = []
        var i = 0
        while i < arguments.count {
            let word = arguments[i]
            result.append(word)
            if word == "--" {
                result += arguments[(i + 1)...]
                break
            }
            if word == "--sample" {
                let next = i + 1 < arguments.count ? arguments[i + 1] : nil
                if next.flatMap(seconds) == nil {
                    result.append(String(format: "%g", SampleSpan.defaultSeconds))
                }
            }
            i += 1
        }
        return result
    }
}
