// InfiniPipeline: captions (timed cues of at most two short lines) made from word timings.

import Foundation

/// One caption cue: at most ``CaptionRules/maxLines`` lines shown from ``start`` to ``end``.
public struct Caption: Codable, Sendable, Hashable {
    /// When the cue appears, in seconds on the output's timeline.
    public var start: Double
    /// When it disappears, in seconds.
    public var end: Double
    /// The lines shown, without the speaker's name.
    public var lines: [String]
    /// Who speaks, set when the transcript has several speakers.
    public var speaker: String?

    public init(start: Double, end: Double, lines: [String], speaker: String? = nil) {
        self.start = start
        self.end = end
        self.lines = lines
        self.speaker = speaker
    }

    /// The lines joined by spaces.
    public var text: String { lines.joined(separator: " ") }
}

/// The rules cues are made by; ``standard`` is what broadcasters and phone screens expect.
public struct CaptionRules: Sendable, Hashable, Codable {
    /// A cue lasts at least this long (s) when the words around it leave room.
    public var minDuration: Double
    /// A cue lasts at most this long (s), unless one word alone is longer.
    public var maxDuration: Double
    /// A cue stays at most this long (s) after its last word ends.
    public var maxLinger: Double
    /// A silence at least this long (s) between words ends a cue.
    public var pause: Double
    /// Lines per cue.
    public var maxLines: Int
    /// Characters per line, the speaker's `NAME: ` prefix included.
    public var maxLineLength: Int

    public init(
        minDuration: Double = 1, maxDuration: Double = 7, maxLinger: Double = 0.5, pause: Double = 0.6, maxLines: Int = 2,
        maxLineLength: Int = 42
    ) {
        self.minDuration = minDuration
        self.maxDuration = maxDuration
        self.maxLinger = maxLinger
        self.pause = pause
        self.maxLines = max(1, maxLines)
        self.maxLineLength = max(8, maxLineLength)
    }

    /// 1–7 s, at most 0.5 s after the last word, breaks at silences of 0.6 s, 2 lines of 42
    /// characters.
    public static let standard = CaptionRules()
}

extension Transcript {
    /// The captions of this transcript: cues made from the words (or, without words, from the
    /// segments, their time shared among their words by length), broken at speaker changes and
    /// silences first, then after sentences and clauses, and only then where the length runs
    /// out. Deterministic; the cues never overlap, each starts when its first word is heard and
    /// ends at most ``CaptionRules/maxLinger`` after its last.
    public func captions(rules: CaptionRules = .standard) -> [Caption] {
        let labelled = speakers.count > 1
        let words = CueMaker.prepared(words.isEmpty ? CueMaker.words(of: segments) : words, rules: rules)
        return CueMaker(rules: rules, labelled: labelled).cues(words)
    }
}

/// Cue making, step by step: prepared words → groups → timed, wrapped cues.
struct CueMaker {
    let rules: CaptionRules
    let labelled: Bool

    /// Words from segments: each segment's time shared among its words by their length.
    static func words(of segments: [Transcript.Segment]) -> [Transcript.Word] {
        segments.flatMap { segment -> [Transcript.Word] in
            let parts = segment.text.split(whereSeparator: \.isWhitespace).map(String.init)
            let total = Double(parts.reduce(0) { $0 + $1.count + 1 })
            var at = segment.start
            return parts.map { part in
                let length = (segment.end - segment.start) * Double(part.count + 1) / max(total, 1)
                defer { at += length }
                return Transcript.Word(word: part, start: at, end: min(segment.end, at + length), speaker: segment.speaker)
            }
        }
    }

    /// Words in order of start, without blanks, none ending after the next starts, none longer
    /// than a line (a longer one is cut into pieces that share its time).
    static func prepared(_ words: [Transcript.Word], rules: CaptionRules) -> [Transcript.Word] {
        var list = words.compactMap { w -> Transcript.Word? in
            let text = w.word.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty, w.start.isFinite, w.end.isFinite else { return nil }
            return Transcript.Word(word: text, start: w.start, end: max(w.start, w.end), speaker: w.speaker)
        }
        list = list.enumerated().sorted { ($0.element.start, $0.offset) < ($1.element.start, $1.offset) }.map(\.element)
        let width = rules.maxLineLength - 12  // room for a `NAME: ` prefix
        list = list.flatMap { w -> [Transcript.Word] in
            guard w.word.count > width else { return [w] }
            let chars = Array(w.word)
            let pieces = stride(from: 0, to: chars.count, by: width).map { String(chars[$0..<min(chars.count, $0 + width)]) }
            let step = (w.end - w.start) / Double(pieces.count)
            return pieces.enumerated().map { i, piece in
                Transcript.Word(
                    word: piece, start: w.start + step * Double(i), end: w.start + step * Double(i + 1), speaker: w.speaker)
            }
        }
        for i in list.indices.dropLast() where list[i].end > list[i + 1].start {
            list[i].end = max(list[i].start, list[i + 1].start)
        }
        return list
    }

    func cues(_ words: [Transcript.Word]) -> [Caption] {
        var groups: [ArraySlice<Transcript.Word>] = []
        var start = words.startIndex
        while start < words.endIndex {
            let end = groupEnd(words, from: start)
            groups.append(words[start..<end])
            start = end
        }
        return groups.enumerated().map { index, group in
            let first = group.first!
            let last = group.last!
            let next = index + 1 < groups.count ? groups[index + 1].first!.start : Double.infinity
            var end = min(last.end + rules.maxLinger, next, max(first.start + rules.maxDuration, last.end))
            if end - first.start < rules.minDuration {
                end = min(first.start + rules.minDuration, last.end + rules.maxLinger, next)
            }
            end = max(end, last.end)
            let speaker = labelled ? first.speaker : nil
            return Caption(start: first.start, end: end, lines: lines(group.map(\.word), speaker: speaker), speaker: speaker)
        }
    }

    /// Where the cue that starts at `start` ends (exclusive).
    func groupEnd(_ words: [Transcript.Word], from start: Int) -> Int {
        var end = start + 1
        while end < words.count {
            let previous = words[end - 1]
            let word = words[end]
            if word.speaker != previous.speaker && labelled { break }
            if word.start - previous.end >= rules.pause { break }
            let shown = previous.end + min(rules.maxLinger, 0.2) - words[start].start
            if shown >= rules.minDuration, previous.word.last.map({ ".?!…".contains($0) }) == true { break }
            let tooLong = word.end - words[start].start > rules.maxDuration
            let tooWide = wrap(words[start...end].map(\.word), speaker: labelled ? words[start].speaker : nil) == nil
            if tooLong || tooWide {
                return betterBreak(words, start, end)
            }
            end += 1
        }
        return end
    }

    /// A cue that must end before `end`: after the last clause or the longest silence in its
    /// second half, if there is one, else just before `end`.
    func betterBreak(_ words: [Transcript.Word], _ start: Int, _ end: Int) -> Int {
        guard end - start >= 4 else { return end }
        let half = start + (end - start + 1) / 2
        var best = end
        var bestScore = 0.0
        for i in half..<end {
            let word = words[i - 1]
            var score = 0.0
            if let mark = word.word.last, ".?!…".contains(mark) {
                score = 3
            } else if let mark = word.word.last, ",;:–—".contains(mark) {
                score = 2
            }
            score += min(1, (words[i].start - word.end) * 4)
            if score >= 1, score >= bestScore {
                best = i
                bestScore = score
            }
        }
        return best
    }

    /// ``wrap(_:speaker:)``, or, when a speaker's name leaves no room for the one word, the
    /// text cut to the room there is.
    func lines(_ words: [String], speaker: String?) -> [String] {
        if let lines = wrap(words, speaker: speaker) { return lines }
        var chars = Array(words.joined(separator: " "))[...]
        var out: [String] = []
        var room = max(1, rules.maxLineLength - (speaker.map { $0.count + 2 } ?? 0))
        while !chars.isEmpty {
            out.append(String(chars.prefix(room)))
            chars = chars.dropFirst(room)
            room = rules.maxLineLength
        }
        return out
    }

    /// The words in at most `maxLines` lines of at most `maxLineLength` characters (the first
    /// line shares its room with the `NAME: ` prefix), balanced, breaking after a comma when it
    /// can; nil when they do not fit.
    func wrap(_ words: [String], speaker: String?) -> [String]? {
        let prefix = speaker.map { $0.count + 2 } ?? 0
        let width = rules.maxLineLength
        let text = words.joined(separator: " ")
        if text.count + prefix <= width { return [text] }
        guard rules.maxLines >= 2, words.count >= 2 else { return nil }
        var best: (lines: [String], score: Int)?
        for split in 1..<words.count {
            let top = words[..<split].joined(separator: " ")
            let bottom = words[split...].joined(separator: " ")
            guard top.count + prefix <= width, bottom.count <= width || rules.maxLines > 2 else { continue }
            var rest = [bottom]
            if bottom.count > width {
                guard
                    let more = CueMaker(rules: rules.withLines(rules.maxLines - 1), labelled: false).wrap(
                        Array(words[split...]), speaker: nil)
                else { continue }
                rest = more
            }
            let comma = top.last.map { ",;:.?!".contains($0) } == true ? 12 : 0
            let score = max(top.count + prefix, bottom.count) * 2 - comma + (bottom.count > top.count + prefix ? 1 : 0)
            if best == nil || score < best!.score { best = ([top] + rest, score) }
        }
        return best?.lines
    }
}

extension CaptionRules {
    func withLines(_ lines: Int) -> CaptionRules {
        var copy = self
        copy.maxLines = max(1, lines)
        return copy
    }
}
