import Foundation

extension PipelineOptions {
    /// Checks the values that need no file: concurrency, cost limit, prompt, seed, attempts,
    /// the request size limit and the stitch options.
    /// - Throws: ``PipelineError`` (``PipelineError/Kind/invalidOption``) naming the property.
    public func validate() throws {
        func invalid(_ option: String, _ text: String) -> PipelineError {
            PipelineError(.invalidOption, "\(option) \(text)", option: option)
        }
        guard Self.concurrencyRange.contains(concurrency) else {
            throw invalid(
                "concurrency",
                "\(concurrency) must be between \(Self.concurrencyRange.lowerBound) and \(Self.concurrencyRange.upperBound)")
        }
        if let maxCost, !(maxCost.isFinite && maxCost >= 0) {
            throw invalid("maxCost", "\(maxCost) must be a number ≥ 0")
        }
        guard !prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw invalid("prompt", "must not be empty")
        }
        guard seed >= 0 else { throw invalid("seed", "\(seed) must not be negative") }
        guard maxAttempts >= 1 else { throw invalid("maxAttempts", "\(maxAttempts) must be at least 1") }
        if let language, !(2...3).contains(language.count) || !language.allSatisfy({ ("a"..."z").contains($0) }) {
            throw invalid("language", "\"\(language)\" is not a language code (two or three lowercase letters, such as en)")
        }
        if case .file(let path)? = captions, path.isEmpty { throw invalid("captions", "needs a transcript file or auto") }
        try validateSpeakers()
        try validateBurnedCaptions(hasCaptions: hasRunCaptions)
        do {
            if provider.lengths.setBy == .numFrames {
                _ = try SegmentPlanner.effectiveMaxFrames(maxFrames)
            } else if maxFrames < provider.billing.billedFrames(1) {
                throw PlanningError.maxFramesBelowMinimum(maxFrames, minimum: provider.billing.billedFrames(1))
            }
            try stitch.validate()
            try sample?.validate()
        } catch {
            throw PipelineError.from(error)
        }
    }

    /// Speakers need a source of who speaks when, and a source needs speakers.
    private func validateSpeakers() throws {
        func invalid(_ option: String, _ text: String) -> PipelineError {
            PipelineError(.invalidOption, "\(option) \(text)", option: option)
        }
        guard !speakers.isEmpty else {
            if speakerSource != nil {
                throw invalid("speakerSource", "needs the speakers: give each one's name and portrait")
            }
            return
        }
        let range = Self.speakerCountRange
        guard range.contains(speakers.count) else {
            throw invalid(
                "speakers",
                "has \(speakers.count): a multi-speaker run has \(range.lowerBound) to \(range.upperBound) speakers")
        }
        let names = speakers.map(\.name)
        if let bad = names.first(where: SpeakerTimeline.hasControlCharacters) {
            // Shown escaped: the raw name would break the line or reach the terminal.
            throw invalid("speakers", "name \(bad.debugDescription) holds a control character: names are single-line text")
        }
        if let bad = names.first(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty || $0.contains(where: \.isWhitespace) })
        {
            throw invalid("speakers", "name \"\(bad)\" is empty or has spaces (RTTM names have none)")
        }
        if let twice = names.first(where: { name in names.filter { $0 == name }.count > 1 }) {
            throw invalid("speakers", "name \(twice) is given twice")
        }
        guard let source = speakerSource else {
            throw invalid("speakerSource", "is missing: a multi-speaker run needs to know who speaks when")
        }
        switch source {
        case .diarization: break
        case .automatic:
            guard transcriber == .whisper else {
                throw invalid(
                    "transcriber",
                    "\(transcriber.rawValue) cannot tell voices apart: the automatic speaker source (--diarization auto) needs fal-ai/whisper"
                )
            }
        case .tracks(let files):
            if let extra = files.keys.sorted().first(where: { !names.contains($0) }) {
                throw invalid(
                    "speakerSource", "has a track for \(extra), who is not a speaker (\(names.joined(separator: ", ")))")
            }
            if let missing = names.first(where: { files[$0] == nil }) {
                throw invalid("speakerSource", "has no track for speaker \(missing): give one per speaker")
            }
        case .channels(let channels):
            if let extra = channels.keys.sorted().first(where: { !names.contains($0) }) {
                throw invalid(
                    "speakerSource", "has a channel for \(extra), who is not a speaker (\(names.joined(separator: ", ")))")
            }
            if let missing = names.first(where: { channels[$0] == nil }) {
                throw invalid("speakerSource", "has no channel for speaker \(missing): give one per speaker")
            }
            if let (name, n) = channels.sorted(by: { $0.key < $1.key }).first(where: { $0.value < 0 }) {
                throw invalid("speakerSource", "channel \(n) of \(name) is negative: channels count from 0")
            }
        }
        if let minShot, !(minShot.isFinite && minShot >= 0) {
            throw invalid("minShot", "\(minShot) must be a number of seconds ≥ 0")
        }
    }
}
