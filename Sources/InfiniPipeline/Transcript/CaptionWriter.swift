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
