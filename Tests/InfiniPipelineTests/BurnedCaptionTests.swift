import ArgumentParser
import Foundation
import Testing

@testable import InfiniPipeline
@testable import InfiniStitchCLI

/// The ASS script burned captions are drawn from: sizes, lines, places, colours, a user's style.
@Suite("Burned captions: the script", .ownThreads)
struct CaptionScriptTests {
    static let cues = [
        Caption(start: 0, end: 2.2, lines: ["The lander touched down gently."], speaker: "ann"),
        Caption(start: 2.8, end: 5.07, lines: ["Nobody in the room said a word."], speaker: "bob"),
    ]

    /// The Dialogue lines of a script.
    static func events(_ script: String) -> [String] {
        script.split(separator: "\n").filter { $0.hasPrefix("Dialogue:") }.map(String.init)
    }

    @Test func ourStyleIsBoldWhiteOutlinedCentredLowAndSizedToTheFrame() throws {
        let captions = StitchOptions.BurnedCaptions(cues: Self.cues)
        let script = try CaptionScript.make(captions, width: 1280, height: 720)
        let style = try #require(script.split(separator: "\n").first { $0.hasPrefix("Style: Default,") })
        let fields = style.dropFirst(7).split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        #expect(fields[2] == "40", "1/18 of 720 px")
        #expect(fields[3] == "&H00FFFFFF" && fields[5] == "&H00101010", "white on a dark outline")
        #expect(fields[7] == "-1", "bold")
        #expect(fields[18] == "2", "bottom centre")
        #expect(Int(fields[21])! >= 720 / 20 && Int(fields[21])! < 720 / 3, "in the lower third")
        #expect(script.contains("PlayResX: 1280\nPlayResY: 720"))
        // Two speakers: the second in its own colour.
        let events = Self.events(script)
        #expect(events.count == 2)
        #expect(events[0].hasPrefix("Dialogue: 0,0:00:00.00,0:00:02.20,Default,,0,0,0,,{\\1c&HFFFFFF&}The lander"))
        #expect(events[1].contains("0:00:02.80,0:00:05.07") && events[1].contains("{\\1c&H4DE1FF&}Nobody"))
        // A tall frame: the longest line must fit the width, so the size is smaller than 1/18.
        let tall = try CaptionScript.make(captions, width: 360, height: 640)
        let size = Int(
            tall.split(separator: "\n").first { $0.hasPrefix("Style: Default,") }!.split(separator: ",")[2])!
        #expect(size < 640 / 18 && Double(size) * CaptionScript.charWidth * 31 <= 0.9 * 360 + 1)
    }

    @Test func longCuesAreWrappedIntoTwoLinesOf42AndSplitInTime() throws {
        let words = (1...30).map { "word\($0)" }.joined(separator: " ")  // 200 characters
        let cue = Caption(start: 10, end: 20, lines: [words])
        let wrapped = CaptionScript.wrapped([cue], rules: .standard)
        #expect(wrapped.count == 3)
        #expect(wrapped.allSatisfy { $0.lines.count <= 2 && $0.lines.allSatisfy { $0.count <= 42 } })
        #expect(wrapped.map(\.text).joined(separator: " ") == words)
        #expect(wrapped.first!.start == 10 && abs(wrapped.last!.end - 20) < 1e-9)
        for (a, b) in zip(wrapped, wrapped.dropFirst()) { #expect(abs(a.end - b.start) < 1e-9 && a.end > a.start) }
        // A cue that fits is left as it is, and braces cannot open override blocks.
        let fits = Caption(start: 1, end: 2, lines: ["{\\b0}two", "lines"])
        #expect(CaptionScript.wrapped([fits], rules: .standard) == [fits])
        let script = try CaptionScript.make(.init(cues: [fits]), width: 640, height: 360)
        #expect(Self.events(script)[0].hasSuffix(",(\\\u{2060}b0)two\\Nlines"))
    }

    /// A face low in the frame pushes the cue below it when there is room, else above it.
    @Test func captionsMoveOffTheFace() throws {
        let cues = [Caption(start: 0, end: 1, lines: ["one line"])]
        let layout = { (face: ColorRegion) in
            CaptionScript.Layout(width: 640, height: 640, cues: cues, face: face).placement(lines: cues[0].lines)
        }
        let clear = CaptionScript.Layout(width: 640, height: 640, cues: cues, face: nil)
        let free = clear.placement(lines: cues[0].lines)
        #expect(free.marginV == 0 && !free.above)
        // A face high in the frame is not in the way.
        let high = layout(ColorRegion(x: 0.3, y: 0.1, width: 0.4, height: 0.4))
        #expect(high.marginV == 0 && !high.above)
        let below = layout(ColorRegion(x: 0.3, y: 0.5, width: 0.4, height: 0.35))
        #expect(!below.above && below.marginV > 0 && below.marginV < clear.bottomMargin)
        let above = layout(ColorRegion(x: 0.3, y: 0.5, width: 0.4, height: 0.48))
        #expect(above.above && Double(above.marginV) + 35 < 0.5 * 640)
    }

    /// The Dialogue line of `script` starting at `start` (`h:mm:ss.cc`): its MarginV and whether
    /// it is top-aligned (`\an8`, above a face: 1).
    static func place(_ script: String, at start: String) throws -> [Int] {
        let event = try #require(events(script).first { $0.hasPrefix("Dialogue: 0,\(start),") }, "no cue at \(start)")
        let fields = event.split(separator: ",", maxSplits: 9, omittingEmptySubsequences: false)
        return [try #require(Int(fields[7])), fields[9].hasPrefix("{\\an8}") ? 1 : 0]
    }

    /// A placement as ``place(_:at:)`` reads it from a script.
    static func key(_ place: CaptionScript.Layout.Placement) -> [Int] { [place.marginV, place.above ? 1 : 0] }

    /// Several speakers: each cue keeps off the face of the shot on screen while it shows; one
    /// spanning a shot change keeps off both faces when one place does, else off the face
    /// shown longest; a face high in the frame leaves the cue where the style puts it.
    @Test func eachCueKeepsOffTheFaceOfTheShotOnScreen() throws {
        typealias Shot = StitchOptions.BurnedCaptions.Shot
        let high = ColorRegion(x: 0.3, y: 0.1, width: 0.4, height: 0.4)
        let low = ColorRegion(x: 0.3, y: 0.5, width: 0.4, height: 0.35)
        let shots = [Shot(start: 0, end: 3, face: high), Shot(start: 3, end: 6, face: low), Shot(start: 6, end: 9, face: nil)]
        let cues = [
            Caption(start: 0.5, end: 2.5, lines: ["on the high face"]),
            Caption(start: 3.5, end: 5.5, lines: ["on the low face"]),
            Caption(start: 2, end: 4.5, lines: ["across the change"]),
            Caption(start: 1, end: 3.8, lines: ["mostly the high face"]),
            Caption(start: 6.5, end: 8, lines: ["no face"]),
            Caption(start: 9.5, end: 10, lines: ["after the shots"]),
        ]
        let captions = StitchOptions.BurnedCaptions(cues: cues, face: low, shots: shots)
        #expect(captions.faces(from: 2, to: 4.5) == [low, high], "1.5 s of the low face, 1 s of the high one")
        #expect(captions.faces(from: 6.5, to: 8).isEmpty && captions.faces(from: 9.5, to: 10) == [low])
        let script = try CaptionScript.make(captions, width: 640, height: 640)
        let layout = CaptionScript.Layout(width: 640, height: 640, cues: cues)
        let underLow = layout.placement(lines: ["on the low face"], faces: [low])
        #expect(!underLow.above && underLow.marginV > 0, "below the low face: \(underLow)")
        #expect(try Self.place(script, at: "0:00:00.50") == [0, 0])
        #expect(try Self.place(script, at: "0:00:03.50") == Self.key(underLow))
        #expect(try Self.place(script, at: "0:00:02.00") == Self.key(underLow), "below the low face is clear of the high one too")
        #expect(try Self.place(script, at: "0:00:01.00") == Self.key(underLow), "the style's place would cover the low face")
        #expect(try Self.place(script, at: "0:00:06.50") == [0, 0])
        #expect(try Self.place(script, at: "0:00:09.50") == Self.key(underLow), "outside the shots: the face given")
        // One face alone is placed as it always was.
        let single = try CaptionScript.make(.init(cues: cues, face: low), width: 640, height: 640)
        #expect(try Self.place(single, at: "0:00:00.50") == Self.key(underLow))

        // No place clears both: a tall face reaching the bottom (nothing fits below it; above it
        // covers the other) and one high (the style's place or below it covers the tall one):
        // the cue goes where it goes with the face shown longest alone.
        let tall = ColorRegion(x: 0.3, y: 0.4, width: 0.4, height: 0.5)
        let top = ColorRegion(x: 0.3, y: 0.05, width: 0.4, height: 0.4)
        let overTall = layout.placement(lines: ["x"], faces: [tall]), clearOfTop = layout.placement(lines: ["x"], faces: [top])
        #expect(overTall.above && !clearOfTop.above && clearOfTop.marginV == 0, "\(overTall) \(clearOfTop)")
        let crossing = [
            Caption(start: 1, end: 4, lines: ["x"]),  // 2 s of the top face, 1 s of the tall one
            Caption(start: 2.5, end: 4.5, lines: ["x"]),  // 0.5 s, then 1.5 s
        ]
        let both = try CaptionScript.make(
            .init(cues: crossing, shots: [Shot(start: 0, end: 3, face: top), Shot(start: 3, end: 6, face: tall)]),
            width: 640, height: 640)
        #expect(try Self.place(both, at: "0:00:01.00") == Self.key(clearOfTop))
        #expect(try Self.place(both, at: "0:00:02.50") == Self.key(overTall))

        // A shot with bad times or a face outside the frame is an option error.
        for bad in [
            Shot(start: 2, end: 1, face: nil), Shot(start: 0, end: 1, face: ColorRegion(x: 0.8, y: 0, width: 0.4, height: 0.2)),
        ] {
            let error = try #require(throws: StitchError.self) {
                try StitchOptions.BurnedCaptions(cues: cues, shots: [bad]).validate()
            }
            #expect(error.description.contains("shot 1") && !error.description.contains("\n"), "\(error)")
        }
    }

    @Test func aUserStyleFileIsCheckedAndUsed() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let good = dir.path("style.ass")
        try """
        \u{FEFF}[Script Info]
        PlayResX: 384
        PlayResY: 384

        [V4+ Styles]
        Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
        Style: Big,DejaVu Sans,40,&H0000FFFF,&H0000FFFF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,2,0,8,10,10,10,1
        Style: bob,DejaVu Sans,30,&H00FF00FF,&H0000FFFF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,2,0,8,10,10,10,1

        [Events]
        Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
        Dialogue: 0,0:00:00.00,0:00:09.00,Big,,0,0,0,,not ours
        """.write(toFile: good, atomically: true, encoding: .utf8)
        let script = try CaptionScript.make(.init(cues: Self.cues, styleFile: good), width: 640, height: 360)
        #expect(script.contains("Style: Big,DejaVu Sans,40,&H0000FFFF") && !script.contains("not ours"))
        #expect(!script.contains("Style: Default,"))
        let events = Self.events(script)
        #expect(events.count == 2 && events[0].contains(",Big,,") && events[1].contains(",bob,,"))

        // Not ASS, or no styles: one line naming the file.
        let bad = dir.path("bad.ass")
        try "[Script Info]\nTitle: x\n".write(toFile: bad, atomically: true, encoding: .utf8)
        for (file, words) in [(bad, "no [V4+ Styles] section"), (dir.path("missing.ass"), "cannot be read")] {
            let error = try #require(throws: CaptionBurnError.self) {
                try StitchOptions.BurnedCaptions(cues: Self.cues, styleFile: file).validate()
            }
            #expect(error.kind == .invalidStyle && error.description == "\(file): " + error.description.dropFirst(file.count + 2))
            #expect(error.description.contains(words) && !error.description.contains("\n"), "\(error)")
        }
        #expect(throws: StitchError.self) {
            try StitchOptions.BurnedCaptions(cues: [Caption(start: 2, end: 1, lines: ["x"])]).validate()
        }
    }

    /// The face the crop anchored on, as fractions of the fitted frame: what the pipeline keeps
    /// the captions off.
    @Test func theFittedPortraitsFaceIsAFractionOfTheFrame() throws {
        let fitted = try ImageFitter(resolution: .p480).fit(path: Fixture.path("portrait.jpg"))
        let face = try #require(fitted.faceRegion)
        #expect(face.isValid, "\(face)")
        // In pixels of the fitted frame it is the detected face moved and scaled as the crop was.
        let source = try #require(fitted.face)
        let window = fitted.geometry.sourceWindow
        let scale = Double(fitted.bucket.width) / window.width
        #expect(abs(face.x * Double(fitted.bucket.width) - (Double(source.x) - window.x) * scale) < 1)
        #expect(abs(face.width * Double(fitted.bucket.width) - Double(source.width) * scale) < 1)
        #expect(face.y + face.height / 2 < 0.7, "the face of a portrait is not in the lower third: \(face)")
        #expect(try ImageFitter(resolution: .p480, cropAnchor: .center).fit(path: Fixture.path("portrait.jpg")).faceRegion == nil)
    }

    /// `--burn-captions` without captions and `--caption-style` without burning are option errors.
    @Test func theOptionsAreCheckedOnTheCommandLine() throws {
        let base = ["talk.mp3", "--image", "me.jpg", "--backend", "preview"]
        for (extra, words) in [
            (["--burn-captions"], "--burn-captions needs the run's captions"),
            (["--caption-style", "s.ass"], "--caption-style is only used with --burn-captions"),
        ] {
            do {
                _ = try RunCommand.parse(base + extra)
                Issue.record("\(extra) was accepted")
            } catch {
                let message = RunCommand.message(for: error)
                #expect(message.contains(words) && !message.contains("\n"), "\(message)")
            }
        }
        let stitch = ["--plan", "p.json", "--audio", "a.m4a", "-o", "o.mp4", "c.mp4"]
        #expect(throws: (any Error).self) { try StitchCommand.parse(stitch + ["--burn-captions"]) }
        #expect(throws: (any Error).self) { try StitchCommand.parse(stitch + ["--captions", "t.srt"]) }
        #expect(throws: (any Error).self) { try StitchCommand.parse(stitch + ["--caption-style", "s.ass"]) }
        let ok = try StitchCommand.parse(stitch + ["--captions", "t.srt", "--burn-captions", "--caption-style", "s.ass"])
        #expect(ok.captionBurning.burnCaptions && ok.captionBurning.captionStyle == "s.ass")
        // The pipeline passes the run's cues to the stitcher when burning is on, and only then.
        var options = PipelineOptions(audio: "a.mp3", image: "me.jpg")
        let face = ColorRegion(x: 0.3, y: 0.2, width: 0.4, height: 0.4)
        #expect(options.stitchOptions(burning: Self.cues, face: face).burnedCaptions == nil)
        options.burnCaptions = true
        #expect(options.stitchOptions(burning: Self.cues, face: face).burnedCaptions?.cues == Self.cues)
        #expect(options.stitchOptions(burning: Self.cues, face: face).burnedCaptions?.face == face)
    }
}
