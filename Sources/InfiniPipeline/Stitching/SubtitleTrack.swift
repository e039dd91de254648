import Foundation

/// Soft subtitles for the stitched MP4: a `mov_text` track that players show or hide, with its
/// language, on the output's timeline (the audio's: the output carries it whole from frame 0).
public struct SubtitleTrack: Sendable, Hashable {
    /// The cues, in order, not overlapping; times are seconds on the output's timeline. A cue
    /// that reaches past the video's end is cut there; one that starts after it is left out.
    public var captions: [Caption]
    /// The language (an ISO 639-1 or 639-2 code such as `en` or `eng`); nil is undetermined.
    public var language: String?

    /// A track of `captions` in `language`.
    public init(captions: [Caption], language: String? = nil) {
        self.captions = captions
        self.language = language
    }

    /// The MP4 language tag (ISO 639-2; `und` when unknown).
    public var languageTag: String { MovText.languageTag(language) }

    /// Each cue's text as the track carries it: its lines, the first prefixed with the speaker
    /// (`NAME: `) when the cue has one.
    static func text(of cue: Caption) -> String {
        cue.lines.enumerated().map { n, line in (n == 0 ? cue.speaker.map { "\($0): " } ?? "" : "") + line }
            .joined(separator: "\n")
    }

    /// The cues that fall inside a video of `duration` seconds, cut at its end.
    func cues(within duration: Double) -> [(text: String, start: Double, end: Double)] {
        Self.clipped(captions, to: duration).map { (Self.text(of: $0), $0.start, $0.end) }
    }

    /// `captions` inside a video of `duration` seconds: a cue reaching past its end is cut
    /// there (to the millisecond the track and the sidecars share), one starting after it left out.
    public static func clipped(_ captions: [Caption], to duration: Double) -> [Caption] {
        let end = (duration * 1000).rounded(.down) / 1000
        return captions.compactMap { cue in
            var cue = cue
            cue.end = min(cue.end, end)
            return cue.start < cue.end ? cue : nil
        }
    }

    /// `captions` on the timeline of the stretch `start..<end` of the video (a sample's): the
    /// cues that overlap it, cut to it and moved by `-start`, to the millisecond.
    public static func excerpt(_ captions: [Caption], from start: Double, to end: Double) -> [Caption] {
        func millisecond(_ t: Double) -> Double { (t * 1000).rounded() / 1000 }
        return captions.compactMap { cue in
            var cue = cue
            cue.start = millisecond(max(cue.start, start) - start)
            cue.end = millisecond(min(cue.end, end) - start)
            return cue.start < cue.end ? cue : nil
        }
    }
}

extension StitchOptions {
    /// These options with `subtitles` as the soft subtitle track.
    public func with(subtitles: SubtitleTrack?) -> StitchOptions {
        var options = self
        options.subtitles = subtitles
        return options
    }
}
