// InfiniPipeline: reading SRT and WebVTT as other tools write them.

import Foundation

/// Subtitle times: reading `hh:mm:ss,mmm`, `mm:ss.mmm` and their kin, writing exact milliseconds.
enum Timecode {
    /// Seconds from `hh:mm:ss,mmm`, `hh:mm:ss.mmm`, `mm:ss.mmm` (hours of any length, 1 to 3
    /// fraction digits, `,` or `.`); nil when it is not one.
    static func seconds(_ text: Substring) -> Double? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3 else { return nil }
        let last = parts[parts.count - 1]
        let secondsAndFraction = last.split(
            maxSplits: 1, omittingEmptySubsequences: false, whereSeparator: { $0 == "," || $0 == "." })
        let whole = secondsAndFraction[0]
        let fraction = secondsAndFraction.count == 2 ? secondsAndFraction[1] : ""
        func digits(_ s: Substring, _ count: ClosedRange<Int>) -> Int? {
            guard count.contains(s.count), s.allSatisfy(\.isASCII), s.allSatisfy(\.isNumber) else { return nil }
            return Int(s)
        }
        guard let s = digits(whole, 1...2), s < 60,
            fraction.isEmpty || (1...3).contains(fraction.count),
            let m = digits(parts[parts.count - 2], 1...2), m < 60
        else { return nil }
        let h = parts.count == 3 ? digits(parts[0], 1...6) : 0
        guard let h else { return nil }
        let ms = fraction.isEmpty ? 0 : Int(fraction.padding(toLength: 3, withPad: "0", startingAt: 0)) ?? 0
        return Double(((h * 60 + m) * 60 + s) * 1000 + ms) / 1000
    }

    /// Whole milliseconds, rounded to the nearest.
    static func milliseconds(_ seconds: Double) -> Int { Int((max(0, seconds) * 1000).rounded()) }

    static func format(_ seconds: Double, separator: Character) -> String {
        let ms = milliseconds(seconds)
        let (h, m, s, f) = (ms / 3_600_000, ms / 60000 % 60, ms / 1000 % 60, ms % 1000)
        func pad(_ n: Int, _ width: Int) -> String { String(repeating: "0", count: max(0, width - String(n).count)) + String(n) }
        return "\(pad(h, 2)):\(pad(m, 2)):\(pad(s, 2))\(separator)\(pad(f, 3))"
    }

    /// `hh:mm:ss,mmm`.
    static func srt(_ seconds: Double) -> String { format(seconds, separator: ",") }
    /// `hh:mm:ss.mmm`.
    static func webVTT(_ seconds: Double) -> String { format(seconds, separator: ".") }
}

/// Reads the cues of an SRT or WebVTT file: numbered or not, CRLF or LF, cue settings after the
/// times, WebVTT header, NOTE, STYLE and REGION blocks, tags (`<i>`, `<font …>`, `{\an8}`),
/// `<v Name>` voice spans (the cue's speaker) and entities.
struct SubtitleReader {
    let text: String
    let name: String

    func read() throws -> Transcript.Lined {
        let lines = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
            .split(separator: "\n", omittingEmptySubsequences: false)
        var lined = Transcript.Lined()
        var index = 0
        var first = true
        while index < lines.count {
            // A block: lines up to a blank one.
            while index < lines.count, lines[index].allSatisfy(\.isWhitespace) { index += 1 }
            guard index < lines.count else { break }
            let start = index
            while index < lines.count, !lines[index].allSatisfy(\.isWhitespace) { index += 1 }
            let block = Array(lines[start..<index])
            defer { first = false }
            let head = block[0].trimmingCharacters(in: .whitespaces)
            if first && head.hasPrefix("WEBVTT") { continue }
            if ["NOTE", "STYLE", "REGION"].contains(where: { head == $0 || head.hasPrefix($0 + " ") || head.hasPrefix($0 + "\t") }
            ),
                !block[0].contains("-->")
            {
                continue
            }
            // The time line is the first or (after a number or cue identifier) the second.
            let timing: Int
            if block[0].contains("-->") {
                timing = 0
            } else if block.count > 1, block[1].contains("-->") {
                timing = 1
            } else {
                throw TranscriptError.malformed(
                    file: name, line: start + 1 + min(1, block.count - 1),
                    "expected a cue's times (\"00:00:01,000 --> 00:00:02,500\") but found \"\(block[min(1, block.count - 1)].prefix(60))\""
                )
            }
            let lineNumber = start + timing + 1
            let (from, to) = try times(block[timing], line: lineNumber)
            let (text, speaker) = Self.clean(block[(timing + 1)...].map(String.init))
            guard !text.isEmpty else { continue }
            lined.segments.append((Transcript.Segment(start: from, end: to, text: text, speaker: speaker), lineNumber))
        }
        guard !lined.segments.isEmpty else { throw TranscriptError.empty(file: name, "cues") }
        Self.takeNamePrefixes(&lined)
        return lined
    }

    /// The start and end of a `-->` line, ignoring cue settings after the end.
    func times(_ line: Substring, line number: Int) throws -> (Double, Double) {
        let sides = line.components(separatedBy: "-->")
        guard sides.count == 2 else {
            throw TranscriptError.malformed(file: name, line: number, "a cue's times need exactly one \"-->\"")
        }
        let startText = sides[0].trimmingCharacters(in: .whitespaces)
        let endText = sides[1].split(whereSeparator: { $0 == " " || $0 == "\t" }).first.map(String.init) ?? ""
        for text in [startText, endText] where Timecode.seconds(Substring(text)) == nil {
            throw TranscriptError.malformed(
                file: name, line: number, "\"\(text.prefix(40))\" is not a time (hh:mm:ss,mmm or mm:ss.mmm)")
        }
        let start = Timecode.seconds(Substring(startText))!
        let end = Timecode.seconds(Substring(endText))!
        guard end >= start else {
            throw TranscriptError.malformed(file: name, line: number, "the cue ends (\(endText)) before it starts (\(startText))")
        }
        return (start, end)
    }

    /// A cue's text on one line without markup, and the name of its first `<v Name>` span.
    static func clean(_ lines: [String]) -> (text: String, speaker: String?) {
        var speaker: String?
        var out = ""
        for line in lines {
            var text = ""
            var chars = line[...]
            while let c = chars.first {
                if c == "<", let close = chars.firstIndex(of: ">") {
                    let tag = chars[chars.index(after: chars.startIndex)..<close]
                    // `<v Name>` or `<v.class Name>`: the voice.
                    if tag.hasPrefix("v ") || tag.hasPrefix("v.") || tag.hasPrefix("v\t"), speaker == nil {
                        let name = tag.drop { !$0.isWhitespace }.trimmingCharacters(in: .whitespaces)
                        if !name.isEmpty { speaker = decodeEntities(name) }
                    }
                    chars = chars[chars.index(after: close)...]
                } else if c == "{", chars.dropFirst().first == "\\", let close = chars.firstIndex(of: "}") {
                    chars = chars[chars.index(after: close)...]  // an ASS override such as {\an8}
                } else {
                    text.append(c)
                    chars = chars.dropFirst()
                }
            }
            let trimmed = decodeEntities(text).trimmingCharacters(in: .whitespaces)
            if !trimmed.isEmpty { out += (out.isEmpty ? "" : " ") + trimmed }
        }
        return (out.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " "), speaker)
    }

    static func decodeEntities(_ text: String) -> String {
        guard text.contains("&") else { return text }
        var out = text
        for (entity, value) in [
            ("&lt;", "<"), ("&gt;", ">"), ("&nbsp;", " "), ("&lrm;", ""), ("&rlm;", ""), ("&quot;", "\""), ("&#39;", "'"),
            ("&apos;", "'"), ("&amp;", "&"),
        ] {
            out = out.replacingOccurrences(of: entity, with: value)
        }
        return out
    }

    /// When every cue without a voice span starts with a short `NAME:` prefix (as SRT files with
    /// speakers are written), the prefix is the cue's speaker; one cue without it and none is.
    static func takeNamePrefixes(_ lined: inout Transcript.Lined) {
        func prefix(_ text: String) -> String? {
            guard let colon = text.firstIndex(of: ":") else { return nil }
            let name = text[..<colon]
            let rest = text[text.index(after: colon)...]
            guard !name.isEmpty, name.count <= 32, rest.first == " ", name.split(separator: " ").count <= 3,
                !name.contains(where: { ".?!,;\"".contains($0) || $0.isNumber })
            else { return nil }
            return String(name)
        }
        let unnamed = lined.segments.indices.filter { lined.segments[$0].0.speaker == nil }
        guard !unnamed.isEmpty, unnamed.allSatisfy({ prefix(lined.segments[$0].0.text) != nil }) else { return }
        for i in unnamed {
            let name = prefix(lined.segments[i].0.text)!
            lined.segments[i].0.speaker = name
            lined.segments[i].0.text = String(lined.segments[i].0.text.dropFirst(name.count + 1))
                .trimmingCharacters(in: .whitespaces)
        }
    }
}
