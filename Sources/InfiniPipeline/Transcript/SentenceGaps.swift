// InfiniPipeline: where one sentence ends and the next begins, for the planner's cuts.

import Foundation

extension Transcript {
    /// A pause between chunks at least this long (seconds) ends a sentence even without `.`,
    /// `?` or `!`.
    public static let sentencePause = 0.7

    /// The stretches between sentences, in seconds: from the end of a sentence's last word to
    /// the start of the next sentence's first, plus the time before the first word and after
    /// the last. A sentence ends after a word (or, without words, a segment) ending in `.`,
    /// `?` or `!` (closing quotes and brackets aside), or at a pause of at least `longPause`
    /// between chunks. Empty for an empty transcript.
    public func sentenceGaps(longPause: Double = Transcript.sentencePause) -> [ClosedRange<Double>] {
        let pieces: [(text: String, start: Double, end: Double)] =
            words.isEmpty ? segments.map { ($0.text, $0.start, $0.end) } : words.map { ($0.word, $0.start, $0.end) }
        let sorted = pieces.filter { $0.start.isFinite && $0.end.isFinite }.sorted { $0.start < $1.start }
        guard let first = sorted.first, let last = sorted.last else { return [] }
        var gaps: [ClosedRange<Double>] = [0...max(0, first.start)]
        for (a, b) in zip(sorted, sorted.dropFirst()) {
            let ended = Self.endsSentence(a.text) || b.start - a.end >= longPause
            if ended { gaps.append(min(a.end, b.start)...max(a.end, b.start)) }
        }
        gaps.append(max(last.end, 0)...Double.greatestFiniteMagnitude)
        return gaps
    }

    /// Whether `text` ends a sentence: its last mark, past closing quotes and brackets, is `.`,
    /// `?`, `!` or `…`.
    static func endsSentence(_ text: String) -> Bool {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let mark = trimmed.last(where: { !"\"'”’)]»".contains($0) }) else { return false }
        return ".?!…".contains(mark)
    }
}
