import CMediaShims
import Foundation

// Burned captions as an option of the stitch: the cues, how they look, and where they must not
// go. The ASS script libass draws from is made here (``CaptionScript``); the drawing itself is
// ``CaptionBurner``'s, on the re-encode path.

extension StitchOptions {
    /// Captions drawn into the picture (libass, through libavfilter's `ass` filter), styled for a
    /// phone screen: a bold sans-serif at about 1/18 of the frame height (smaller when a line
    /// would not fit the width), white with a dark outline, centred in the lower third, at most
    /// ``CaptionRules/maxLines`` lines of at most ``CaptionRules/maxLineLength`` characters, a
    /// colour per speaker, and moved off the face (``face``, or the face of the shot on screen in
    /// ``shots``) when there is room. Burning needs the re-encode path; the frame count, the sync
    /// and the seams' transitions are unchanged.
    public struct BurnedCaptions: Sendable, Equatable {
        /// The cues, in seconds on the output's timeline (``Transcript/captions(rules:)``).
        public var cues: [Caption]
        /// A user's ASS file whose styles replace ours (`--caption-style`): its `[Script Info]`
        /// and `[V4+ Styles]` are kept, its events replaced by the cues (a cue uses the style
        /// named after its speaker when there is one, else `Default`, else the first).
        public var styleFile: String?
        /// The face the crop was anchored on, as fractions of the frame: captions are moved
        /// off it when there is room below or above it (with our own style). With ``shots``, the
        /// face of the time no shot covers.
        public var face: ColorRegion?
        /// Who is on screen when, in a multi-speaker run: each shot's face, kept clear by the cues
        /// shown during it (a cue that spans a shot change keeps off every face it shows with
        /// when one place does, else off the face on screen longest). Empty: ``face`` throughout.
        public var shots: [Shot]
        /// Lines and characters per line of a burned cue (a longer cue is wrapped again, and
        /// split in time when it needs more lines).
        public var rules: CaptionRules

        /// Burned captions.
        /// - Parameters:
        ///   - cues: the cues, in seconds on the output's timeline.
        ///   - styleFile: an ASS file with the styles to use instead of ours.
        ///   - face: the face to keep clear, as fractions of the frame.
        ///   - shots: who is on screen when (each shot's face to keep clear), in a multi-speaker run.
        ///   - rules: line limits, ``CaptionRules/standard`` by default (2 lines of 42 characters).
        public init(
            cues: [Caption], styleFile: String? = nil, face: ColorRegion? = nil, shots: [Shot] = [],
            rules: CaptionRules = .standard
        ) {
            self.cues = cues
            self.styleFile = styleFile
            self.face = face
            self.shots = shots
            self.rules = rules
        }

        /// A stretch of the output showing one face (a speaker's shot), in seconds on the
        /// output's timeline.
        public struct Shot: Sendable, Equatable {
            /// When the shot starts and ends, in seconds on the output's timeline.
            public var start: Double
            public var end: Double
            /// The face on screen, as fractions of the frame; nil when its portrait had none.
            public var face: ColorRegion?

            /// A shot from `start` to `end` seconds showing `face`.
            public init(start: Double, end: Double, face: ColorRegion?) {
                self.start = start
                self.end = end
                self.face = face
            }
        }

        /// The faces on screen from `start` to `end` seconds, the one shown longest first (each
        /// face once): the faces of the shots in that time, and ``face`` for any part of it no
        /// shot covers.
        func faces(from start: Double, to end: Double) -> [ColorRegion] {
            guard !shots.isEmpty else { return face.map { [$0] } ?? [] }
            var shown: [(face: ColorRegion, seconds: Double)] = []
            func add(_ face: ColorRegion?, _ seconds: Double) {
                guard let face, seconds > 0 else { return }
                if let i = shown.firstIndex(where: { $0.face == face }) {
                    shown[i].seconds += seconds
                } else {
                    shown.append((face, seconds))
                }
            }
            var covered = 0.0
            for shot in shots {
                let overlap = min(end, shot.end) - max(start, shot.start)
                guard overlap > 0 else { continue }
                covered += overlap
                add(shot.face, overlap)
            }
            add(face, end - start - covered)
            // A stable sort: equal times keep the order shown.
            return shown.enumerated().sorted { ($0.element.seconds, -$0.offset) > ($1.element.seconds, -$1.offset) }.map(
                \.element.face)
        }

        /// Checks the cues, the style file and that fontconfig finds a font, without drawing.
        /// - Throws: ``StitchError`` `.invalidOption` (`burnedCaptions`) for a cue with bad
        ///   times; ``CaptionBurnError`` for a style file that is not ASS or no font.
        public func validate() throws {
            if let bad = cues.firstIndex(where: { !($0.start.isFinite && $0.end.isFinite && $0.start >= 0 && $0.end > $0.start) })
            {
                throw StitchError.invalidOption(
                    "burnedCaptions",
                    "cue \(bad + 1) runs from \(cues[bad].start) to \(cues[bad].end) s: it must end after it starts, at 0 s or later"
                )
            }
            if let face, !face.isValid {
                throw StitchError.invalidOption("burnedCaptions", "the face is not a rectangle inside the frame")
            }
            if let bad = shots.firstIndex(where: { !($0.start.isFinite && $0.end.isFinite && $0.start >= 0 && $0.end > $0.start) }
            ) {
                throw StitchError.invalidOption(
                    "burnedCaptions",
                    "shot \(bad + 1) runs from \(shots[bad].start) to \(shots[bad].end) s: it must end after it starts, at 0 s or later"
                )
            }
            if let bad = shots.firstIndex(where: { $0.face.map { !$0.isValid } ?? false }) {
                throw StitchError.invalidOption(
                    "burnedCaptions", "the face of shot \(bad + 1) is not a rectangle inside the frame")
            }
            if let styleFile { _ = try CaptionScript.UserStyle(file: styleFile) }
            _ = try CaptionScript.font()
        }
    }
}

/// The ASS script of burned captions: our style (or a user's), and one event per cue.
enum CaptionScript {
    /// What fontconfig finds for a bold sans-serif: its family (the style's `Fontname`) and file.
    /// - Throws: ``CaptionBurnError`` `.noFont`.
    static func font() throws -> (family: String, file: String) {
        var family = [CChar](repeating: 0, count: 256), file = [CChar](repeating: 0, count: 4096)
        var err = [CChar](repeating: 0, count: 512)
        let rc = CMediaShims_font_match("sans-serif:bold", &family, family.count, &file, file.count, &err, err.count)
        guard rc == 0 else { throw CaptionBurnError.noFont(FFmpeg.cString(err)) }
        let name = FFmpeg.cString(family)
        return (name.isEmpty ? "sans-serif" : name, FFmpeg.cString(file))
    }

    /// A user's ASS style file, checked: UTF-8 text with a `[V4+ Styles]` section holding a
    /// `Format:` line and at least one `Style:`.
    struct UserStyle {
        /// The file's sections other than `[Events]`, as they were.
        let header: String
        /// The style names, in order.
        let styles: [String]

        init(file: String) throws {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw CaptionBurnError.invalidStyle(file: file, "cannot be read")
            }
            guard var text = String(data: data, encoding: .utf8) else {
                throw CaptionBurnError.invalidStyle(file: file, "is not UTF-8 text, so not an ASS style file")
            }
            if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
            var kept: [String] = [], styles: [String] = []
            var section = "", sawStyles = false, sawFormat = false
            for raw in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
                let line = raw.trimmingCharacters(in: .whitespaces)
                if line.hasPrefix("[") && line.hasSuffix("]") {
                    section = line.lowercased()
                    if section == "[v4+ styles]" { sawStyles = true }
                }
                if section == "[events]" { continue }
                if section == "[v4+ styles]" {
                    if line.lowercased().hasPrefix("format:") { sawFormat = true }
                    if line.lowercased().hasPrefix("style:") {
                        let name = line.dropFirst(6).split(separator: ",", omittingEmptySubsequences: false).first
                        styles.append(name.map { $0.trimmingCharacters(in: .whitespaces) } ?? "")
                    }
                }
                kept.append(String(raw))
            }
            guard sawStyles else {
                throw CaptionBurnError.invalidStyle(file: file, "not an ASS style file: it has no [V4+ Styles] section")
            }
            guard sawFormat, let first = styles.first, !first.isEmpty else {
                throw CaptionBurnError.invalidStyle(
                    file: file, "its [V4+ Styles] section needs a Format: line and at least one Style: line")
            }
            header = kept.joined(separator: "\n")
            self.styles = styles
        }

        /// The style a cue of `speaker` uses.
        func style(for speaker: String?) -> String {
            if let speaker, styles.contains(speaker) { return speaker }
            return styles.contains("Default") ? "Default" : styles[0]
        }
    }

    /// Speakers' colours (ASS `&HBBGGRR&`), in the order they are first heard: white, yellow,
    /// cyan, green, pink, orange.
    static let speakerColours = ["&HFFFFFF&", "&H4DE1FF&", "&HFFE15C&", "&H8CF08C&", "&HDB9EFF&", "&H4DA6FF&"]
    /// The width of an average character of a bold sans-serif in running text, spaces
    /// included, in ems (DejaVu Sans Bold's is about 0.52; a little more leaves room for
    /// capitals): how wide a line is guessed to be. libass wraps a line that is wider still.
    static let charWidth = 0.56
    /// Line height, in font sizes.
    static let lineHeight = 1.25

    /// The whole script for a `width`×`height` picture.
    /// - Throws: ``CaptionBurnError`` for the style file or a missing font.
    static func make(_ captions: StitchOptions.BurnedCaptions, width: Int, height: Int) throws -> String {
        let cues = wrapped(captions.cues, rules: captions.rules)
        var out: String
        if let file = captions.styleFile {
            let user = try UserStyle(file: file)
            out = user.header.trimmingCharacters(in: .whitespacesAndNewlines) + "\n\n" + eventsHeader
            for cue in cues {
                out += dialogue(
                    cue, style: user.style(for: cue.speaker), marginV: 0, text: cue.lines.map(escape).joined(separator: "\\N"))
            }
            return out
        }
        let font = try font()
        let layout = Layout(width: width, height: height, cues: cues)
        out = """
            [Script Info]
            ScriptType: v4.00+
            PlayResX: \(width)
            PlayResY: \(height)
            WrapStyle: 0
            ScaledBorderAndShadow: yes

            [V4+ Styles]
            Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
            Style: Default,\(font.family.replacingOccurrences(of: ",", with: " ")),\(layout.fontSize),&H00FFFFFF,&H00FFFFFF,&H00101010,&H80000000,-1,0,0,0,100,100,0,0,1,\(layout.outline),\(layout.shadow),2,\(layout.sideMargin),\(layout.sideMargin),\(layout.bottomMargin),1


            """ + eventsHeader
        let speakers = cues.compactMap(\.speaker).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        for cue in cues {
            var text = cue.lines.map(escape).joined(separator: "\\N")
            if speakers.count > 1, let speaker = cue.speaker, let n = speakers.firstIndex(of: speaker) {
                text = "{\\1c\(speakerColours[n % speakerColours.count])}" + text
            }
            let place = layout.placement(lines: cue.lines, faces: captions.faces(from: cue.start, to: cue.end))
            if place.above { text = "{\\an8}" + text }
            out += dialogue(cue, style: "Default", marginV: place.marginV, text: text)
        }
        return out
    }

    static let eventsHeader = "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"

    static func dialogue(_ cue: Caption, style: String, marginV: Int, text: String) -> String {
        "Dialogue: 0,\(time(cue.start)),\(time(cue.end)),\(style),,0,0,\(marginV),,\(text)\n"
    }

    /// `h:mm:ss.cc`, to the centisecond (ASS's resolution), rounded.
    static func time(_ seconds: Double) -> String {
        let cs = Int((max(0, seconds) * 100).rounded())
        return String(format: "%d:%02d:%02d.%02d", cs / 360_000, cs / 6000 % 60, cs / 100 % 60, cs % 100)
    }

    /// Text as ASS shows it literally: braces would open override blocks, and a backslash an
    /// escape, so braces become parentheses and a word joiner follows each backslash.
    static func escape(_ line: String) -> String {
        line.replacingOccurrences(of: "\\", with: "\\\u{2060}").replacingOccurrences(of: "{", with: "(")
            .replacingOccurrences(of: "}", with: ")").replacingOccurrences(of: "\n", with: " ")
    }

    /// The cues with at most `rules.maxLines` lines of at most `rules.maxLineLength` characters:
    /// a cue that already fits is kept as it is; one that does not is wrapped again, and split
    /// in time (by characters) into cues of `maxLines` lines when it needs more.
    static func wrapped(_ cues: [Caption], rules: CaptionRules) -> [Caption] {
        cues.flatMap { cue -> [Caption] in
            if cue.lines.count <= rules.maxLines && cue.lines.allSatisfy({ $0.count <= rules.maxLineLength }) { return [cue] }
            var lines: [String] = []
            for word in cue.text.split(whereSeparator: \.isWhitespace).map(String.init) {
                for piece in stride(from: 0, to: word.count, by: rules.maxLineLength).map({
                    String(Array(word)[$0..<min(word.count, $0 + rules.maxLineLength)])
                }) {
                    if let last = lines.last, last.count + 1 + piece.count <= rules.maxLineLength {
                        lines[lines.count - 1] = last + " " + piece
                    } else {
                        lines.append(piece)
                    }
                }
            }
            guard !lines.isEmpty else { return [] }
            let groups = stride(from: 0, to: lines.count, by: rules.maxLines).map {
                Array(lines[$0..<min(lines.count, $0 + rules.maxLines)])
            }
            let total = Double(groups.reduce(0) { $0 + $1.joined().count })
            var at = cue.start
            return groups.map { group in
                let length = (cue.end - cue.start) * Double(group.joined().count) / max(total, 1)
                defer { at += length }
                return Caption(start: at, end: min(cue.end, at + length), lines: group, speaker: cue.speaker)
            }
        }
    }
}
