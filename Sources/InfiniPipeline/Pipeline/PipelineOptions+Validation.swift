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
        do {
            _ = try SegmentPlanner.effectiveMaxFrames(maxFrames)
            try stitch.validate()
        } catch {
            throw PipelineError.from(error, options: self)
        }
    }
}
