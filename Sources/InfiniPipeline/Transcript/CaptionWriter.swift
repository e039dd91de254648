// InfiniPipeline: captions written as SRT and WebVTT, with exact millisecond times.

import Foundation

/// Writes captions as subtitle files: SRT with a `NAME: ` prefix when a cue has a speaker,
/// WebVTT with a `<v NAME>` voice span. Times are the cues' own, rounded to the millisecond.
public enum CaptionWriter {
    /// The captions as SubRip (`.srt`): numbered cues, `hh:mm:ss,mmm`, LF line ends.
    public static func srt(_ captions: [Caption]) -> String {
        var out = ""
        for (index, cue) in captions.enumerated() {
            out += "\(index + 1)\n\(Timecode.srt(cue.start)) --> \(Timecode.srt(cue.end))\n"
            for (n, line) in cue.lines.enumerated() {
                out += (n == 0 ? cue.speaker.map { "\($0): " } ?? "" : "") + line + "\n"
            }
            out += "\n"
        }
        return out
    }

    /// The captions as WebVTT (`.vtt`): a `WEBVTT` header, `hh:mm:ss.mmm`, `<`, `>` and `&`
    /// escaped.
    public static func webVTT(_ captions: [Caption]) -> String {
        var out = "WEBVTT\n\n"
        for cue in captions {
            out += "\(Timecode.webVTT(cue.start)) --> \(Timecode.webVTT(cue.end))\n"
            for (n, line) in cue.lines.enumerated() {
                let voice = cue.speaker.map { "<v \(escape($0).replacingOccurrences(of: "&gt;", with: ""))>" } ?? ""
                out += (n == 0 ? voice : "") + escape(line) + "\n"
            }
            out += "\n"
        }
        return out
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}

extension Transcript {
    /// The transcript as Whisper-style JSON (`{"segments": [{"start", "end", "text", "speaker"?,
    /// "words": [{"word", "start", "end"}]}]}`), each word under the segment it falls in, times
    /// in milliseconds: what ``read(file:audioDuration:)`` reads back.
    public func whisperJSON() -> String {
        func time(_ t: Double) -> String { String(format: "%.3f", t) }
        func quoted(_ s: String) -> String {
            let data =
                (try? JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])) ?? Data("[\"\"]".utf8)
            return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
        }
        var remaining = words[...]
        var lines: [String] = []
        for (n, segment) in segments.enumerated() {
            let isLast = n == segments.count - 1
            var inside: [Word] = []
            while let word = remaining.first, isLast || word.start < segment.end || word.start < segments[n + 1].start - 1e-9 {
                inside.append(word)
                remaining = remaining.dropFirst()
            }
            var fields = [
                "\"start\": \(time(segment.start))", "\"end\": \(time(segment.end))", "\"text\": \(quoted(segment.text))",
            ]
            if let speaker = segment.speaker { fields.append("\"speaker\": \(quoted(speaker))") }
            if !inside.isEmpty {
                let list = inside.map {
                    "{\"word\": \(quoted($0.word)), \"start\": \(time($0.start)), \"end\": \(time($0.end))}"
                }
                fields.append("\"words\": [" + list.joined(separator: ", ") + "]")
            }
            lines.append("    {" + fields.joined(separator: ", ") + "}")
        }
        return "{\"segments\": [\n" + lines.joined(separator: ",\n") + "\n]"
            + (language.map { ", \"language\": \(quoted($0))" } ?? "")
            + "}\n"
    }
}
