import Foundation
import Testing

@testable import InfiniPipeline

extension Serial {
    /// Captions burned into real stitches: compared with the same stitch without them.
    @Suite("Burned captions in the stitch", .timeLimit(.minutes(6)))
    struct BurnedCaptionStitchTests {
        /// 2 clips of 61 frames (4.88 s) of the portrait moving (384×384), seam at frame 61.
        static let frames = 61

        /// Cues of the fixture speech's words, with room between them (0.4–1.6 s, 2.6–3.8 s; the
        /// stitch is 4.88 s long, its seam at 2.44 s).
        static let cues = [
            Caption(start: 0.4, end: 1.6, lines: ["The lander touched down gently."]),
            Caption(start: 2.6, end: 3.8, lines: ["Nobody in the room", "said a word."]),
        ]

        static func clips(_ dir: TempDir, frames: Int = frames) throws -> [String] {
            let image = try DriftClips.portrait()
            return try (0..<2).map { s in
                let path = dir.path("clip\(s).mp4")
                try DriftClips.write(path, count: frames, segment: s, image: image)
                return path
            }
        }

        static func stitch(
            _ clips: [String], _ out: String, transition: StitchOptions.Transition = .cut, colorMatch: Bool = false,
            captions: StitchOptions.BurnedCaptions? = nil
        ) throws -> StitchResult {
            var options = StitchOptions(reencode: true, crf: 12, preset: "ultrafast", transition: transition)
            if colorMatch { options.colorMatch = StitchOptions.ColorMatch(references: [Fixture.path("portrait.jpg")]) }
            options.burnedCaptions = captions
            let plan = try StitchTests.plan([(frames, frames), (frames, frames)])
            return try Stitcher.stitch(plan: plan, clips: clips, audio: Fixture.path("speech.m4a"), output: out, options: options)
        }

        /// Every frame's luma plane, and the frame size.
        static func luma(_ path: String) throws -> (width: Int, height: Int, frames: [[UInt8]]) {
            let reader = try VideoReader(path: path, pixelFormat: .yuv420p)
            var frames: [[UInt8]] = [], size = (0, 0)
            while let f = try reader.nextFrame() {
                frames.append(f.planes[0])
                size = (f.width, f.height)
            }
            return (size.0, size.1, frames)
        }

        /// The percentage of pixels over rows `rows` and columns `columns` whose luma differs
        /// between `a` and `b` by more than 48 levels: what drawing changes (white letters, a dark
        /// outline), not what encoding the same picture twice does (a few levels here and there).
        static func difference(_ a: [UInt8], _ b: [UInt8], width: Int, rows: Range<Int>, columns: Range<Int>) -> Double {
            var changed = 0
            for y in rows { for x in columns where abs(Int(a[y * width + x]) - Int(b[y * width + x])) > 48 { changed += 1 } }
            return 100 * Double(changed) / Double(rows.count * columns.count)
        }

        /// The audio packets (pts, dts, bytes) of a file: the same packets mean the same sync.
        static func audioPackets(_ path: String) throws -> [[Int64]] {
            let demuxer = try Demuxer(path: path)
            let index = try demuxer.bestStream(.audio).index
            let packet = try Packet()
            var all: [[Int64]] = []
            while try demuxer.read(into: packet) {
                let p = packet.pointer.pointee
                if Int(p.stream_index) == index {
                    all.append(
                        [p.pts, p.dts, Int64(p.size)] + UnsafeBufferPointer(start: p.data, count: Int(p.size)).map(Int64.init))
                }
                packet.unref()
            }
            return all
        }

        /// Frames wholly inside a cue, and frames at least one frame away from every cue.
        static func frameSets(_ cues: [Caption], count: Int) -> (inside: [Int], outside: [Int]) {
            let fps = Double(ModelLimits.fps)
            let inside = (0..<count).filter { k in cues.contains { Double(k) / fps >= $0.start && Double(k + 1) / fps <= $0.end }
            }
            let outside = (0..<count).filter { k in
                cues.allSatisfy { Double(k + 1) / fps < $0.start - 1 / fps || Double(k) / fps > $0.end + 1 / fps }
            }
            return (inside, outside)
        }

        /// The issue's check: during a cue the lower third differs widely from the same stitch
        /// without captions, between cues not at all; the frame count and the audio packets are
        /// the same; and this holds with every seam transition and with the colour match.
        @Test(arguments: [
            (StitchOptions.Transition.cut, false), (.crossfade, false), (.morph, false), (.cut, true),
        ])
        func captionsShowDuringCuesAndNowhereElse(_ transition: StitchOptions.Transition, _ colorMatch: Bool) throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let clips = try Self.clips(dir)
            let cues = Self.cues
            let burned = try Self.stitch(
                clips, dir.path("burned.mp4"), transition: transition, colorMatch: colorMatch,
                captions: .init(cues: cues))
            _ = try Self.stitch(clips, dir.path("plain.mp4"), transition: transition, colorMatch: colorMatch)
            #expect(burned.videoPath == .reencode && burned.totalFrames == 2 * Self.frames)
            let a = try Self.luma(dir.path("burned.mp4")), b = try Self.luma(dir.path("plain.mp4"))
            #expect(a.frames.count == 2 * Self.frames && b.frames.count == a.frames.count)
            let (w, h) = (a.width, a.height)
            let (inside, outside) = Self.frameSets(cues, count: a.frames.count)
            #expect(inside.count == 60 && outside.count >= 50, "\(inside.count) / \(outside.count)")
            var (least, most, top) = (Double.infinity, 0.0, 0.0)
            for k in inside {
                least = min(least, Self.difference(a.frames[k], b.frames[k], width: w, rows: (2 * h / 3)..<h, columns: 0..<w))
                top = max(top, Self.difference(a.frames[k], b.frames[k], width: w, rows: 0..<(h / 2), columns: 0..<w))
            }
            for k in outside {
                most = max(most, Self.difference(a.frames[k], b.frames[k], width: w, rows: 0..<h, columns: 0..<w))
            }
            #expect(least > 2, "\(transition): a frame inside a cue has only \(least) % of the lower third changed")
            #expect(most < 0.01, "\(transition): a frame between cues has \(most) % changed")
            #expect(top < 0.01, "\(transition): captions reached the top half (\(top) %)")
            #expect(try Self.audioPackets(dir.path("burned.mp4")) == Self.audioPackets(dir.path("plain.mp4")))
            if ProcessInfo.processInfo.environment["CAPTION_FIGURES"] == "1" {
                print("burned \(transition) colour \(colorMatch): inside ≥ \(least), outside ≤ \(most), top ≤ \(top)")
            }
        }

        /// With the face low in the frame, the captions keep off it: nothing changes inside the
        /// face during cues, while each cue shows below it when it fits there (the one-line cue
        /// under the shorter face), else above it (the two-line cue, and both under the taller face).
        @Test(arguments: [
            (ColorRegion(x: 0.15, y: 0.55, width: 0.7, height: 0.33), [false, true]),
            (ColorRegion(x: 0.15, y: 0.55, width: 0.7, height: 0.43), [true, true]),
        ])
        func captionsKeepOffTheFace(_ face: ColorRegion, _ above: [Bool]) throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let clips = try Self.clips(dir)
            let cues = Self.cues
            _ = try Self.stitch(clips, dir.path("burned.mp4"), captions: .init(cues: cues, face: face))
            _ = try Self.stitch(clips, dir.path("plain.mp4"))
            let a = try Self.luma(dir.path("burned.mp4")), b = try Self.luma(dir.path("plain.mp4"))
            let (w, h) = (a.width, a.height)
            let faceRows = Int(face.y * Double(h))..<Int((face.y + face.height) * Double(h))
            let faceColumns = Int(face.x * Double(w))..<Int((face.x + face.width) * Double(w))
            for (cue, above) in zip(cues, above) {
                let elsewhere = above ? 0..<faceRows.lowerBound : faceRows.upperBound..<h
                for k in Self.frameSets([cue], count: a.frames.count).inside {
                    let onFace = Self.difference(a.frames[k], b.frames[k], width: w, rows: faceRows, columns: faceColumns)
                    let off = Self.difference(a.frames[k], b.frames[k], width: w, rows: elsewhere, columns: 0..<w)
                    #expect(onFace < 0.01, "frame \(k): the captions cover the face (\(onFace) %)")
                    #expect(off > 1, "frame \(k): no captions \(above ? "above" : "below") the face (\(off) %)")
                }
            }
        }

        /// A user's style file decides the look: here top-centred, so the lower third is untouched.
        @Test func aUserStyleFileIsUsed() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let style = dir.path("top.ass")
            try """
            [Script Info]
            PlayResX: 384
            PlayResY: 384

            [V4+ Styles]
            Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
            Style: Default,DejaVu Sans,24,&H0000FFFF,&H0000FFFF,&H00000000,&H00000000,-1,0,0,0,100,100,0,0,1,2,0,8,10,10,12,1
            """.write(toFile: style, atomically: true, encoding: .utf8)
            let clips = try Self.clips(dir)
            let cues = Self.cues
            _ = try Self.stitch(clips, dir.path("burned.mp4"), captions: .init(cues: cues, styleFile: style))
            _ = try Self.stitch(clips, dir.path("plain.mp4"))
            let a = try Self.luma(dir.path("burned.mp4")), b = try Self.luma(dir.path("plain.mp4"))
            let (w, h) = (a.width, a.height)
            for k in Self.frameSets(cues, count: a.frames.count).inside {
                #expect(Self.difference(a.frames[k], b.frames[k], width: w, rows: 0..<(h / 4), columns: 0..<w) > 2, "frame \(k)")
                #expect(
                    Self.difference(a.frames[k], b.frames[k], width: w, rows: (h / 2)..<h, columns: 0..<w) < 0.01, "frame \(k)")
            }
        }

        /// `infinistitch stitch --captions --burn-captions` end to end, and with no font (fontconfig
        /// given an empty configuration in the child process): one line, exit 2, nothing written.
        @Test func theStitchCommandBurnsAndSaysWhenThereIsNoFont() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            // A plan read from a file covers the whole audio: 202 frames (8.08 s; the fixture
            // transcript's cues run to 8.04 s).
            let clips = try Self.clips(dir, frames: 101)
            let planFile = dir.path("plan.json")
            try StitchTests.plan([(101, 101), (101, 101)]).jsonData().write(to: URL(fileURLWithPath: planFile))
            let arguments = [
                "stitch", "--plan", planFile, "--audio", Fixture.path("speech.m4a"), "--preset", "ultrafast",
                "--captions", Fixture.path("speech.srt"), "--burn-captions",
            ]
            let run = try runProcess(infinistitchBinary, arguments + ["-o", dir.path("out.mp4")] + clips)
            #expect(run.status == 0, "\(String(decoding: run.stderr, as: UTF8.self))")
            #expect(String(decoding: run.stdout, as: UTF8.self).contains("video reencode (burned captions need re-encoding)"))
            #expect(try Self.luma(dir.path("out.mp4")).frames.count == 202)

            let empty = dir.path("empty-fonts.conf")
            try "<?xml version=\"1.0\"?>\n<fontconfig></fontconfig>\n".write(toFile: empty, atomically: true, encoding: .utf8)
            var environment = ProcessInfo.processInfo.environment
            environment["FONTCONFIG_FILE"] = empty
            environment["XDG_CACHE_HOME"] = dir.path("cache")
            let none = try runProcess(
                infinistitchBinary, arguments + ["-o", dir.path("none.mp4")] + clips, environment: environment)
            let stderr = String(decoding: none.stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(none.status == 2, "\(stderr)")
            #expect(stderr.contains("no font to draw the captions with") && !stderr.contains("\n"), "\(stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir.path("none.mp4")))
        }
    }
}
