import Foundation
import Testing

@testable import InfiniPipeline
@testable import InfiniStitchCLI

#if canImport(Glibc)
import Glibc
#endif

/// Runs `infinistitch` with a clean environment; its output as text.
func infinistitch(_ arguments: [String], in dir: TempDir) throws -> (status: Int32, stdout: String, stderr: String) {
    let r = try runProcess(
        infinistitchBinary, arguments,
        environment: ["HOME": dir.url.path, "XDG_CACHE_HOME": dir.path("cache"), "PATH": "/usr/bin:/bin"])
    return (r.status, String(decoding: r.stdout, as: UTF8.self), String(decoding: r.stderr, as: UTF8.self))
}

extension Serial {
    /// Real inputs that used to break (issue 22), each refused or handled as the README says:
    /// bad input is one line naming the file or value, exit 2, nothing written.
    @Suite("Real inputs", .timeLimit(.minutes(3)))
    struct RealInputTests {
        /// Expects a refusal: exit 2, one line on standard error containing `expected`, nothing on
        /// standard output.
        static func expectRefused(
            _ r: (status: Int32, stdout: String, stderr: String), _ expected: String,
            sourceLocation: SourceLocation = #_sourceLocation
        ) {
            #expect(r.status == 2, "\(r.stderr)", sourceLocation: sourceLocation)
            #expect(r.stderr.contains(expected), "\(r.stderr)", sourceLocation: sourceLocation)
            #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)", sourceLocation: sourceLocation)
            #expect(r.stdout.isEmpty, "\(r.stdout)", sourceLocation: sourceLocation)
        }

        /// speech.mp3 planned in 41-frame requests (5 segments), written to `plan.json` in `dir`,
        /// with copies of the audio and a clip in `dir` as the stitch's inputs.
        static func stitchInputs(_ dir: TempDir) throws -> (plan: String, audio: String, clips: [String]) {
            let plan = try SegmentPlanner.plan(
                AudioAnalysis.analyze(path: Fixture.path("speech.mp3")), options: PlanningOptions(maxFrames: 41))
            try plan.jsonData().write(to: URL(fileURLWithPath: dir.path("plan.json")))
            try FileManager.default.copyItem(atPath: Fixture.path("speech.mp3"), toPath: dir.path("talk.mp3"))
            try FileManager.default.copyItem(atPath: Fixture.path("clip-a.mp4"), toPath: dir.path("clip.mp4"))
            return (dir.path("plan.json"), dir.path("talk.mp3"), plan.segments.map { _ in dir.path("clip.mp4") })
        }

        // MARK: 1. An output that is one of the inputs

        @Test func stitchNeverWritesOverItsInputs() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let (plan, audio, clips) = try Self.stitchInputs(dir)
            try FileManager.default.createSymbolicLink(atPath: dir.path("link.mp4"), withDestinationPath: dir.path("clip.mp4"))
            let before = try [plan, audio, clips[0]].map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
            for (target, role) in [
                (audio, "audio"), (plan, "plan"), (clips[0], "clip for segment 0"),
                (dir.url.path + "/./talk.mp3", "audio"), (dir.path("link.mp4"), "clip for segment 0"),
            ] {
                let r = try infinistitch(["stitch", "--plan", plan, "--audio", audio, "-o", target] + clips, in: dir)
                Self.expectRefused(r, "\(target): the output would overwrite an input (the \(role))")
            }
            let after = try [plan, audio, clips[0]].map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
            #expect(after == before)
            #expect(
                try FileManager.default.contentsOfDirectory(atPath: dir.url.path).sorted() == [
                    "clip.mp4", "link.mp4", "plan.json", "talk.mp3",
                ])
            // The library refuses too.
            #expect {
                try Stitcher.stitch(
                    plan: Plan.from(json: Data(contentsOf: URL(fileURLWithPath: plan))), clips: clips, audio: audio,
                    output: audio)
            } throws: { error in
                (error as? MediaError)?.isInputProblem == true && "\(error)".contains("would overwrite an input (the audio)")
            }
        }

        @Test func fitImageNeverWritesOverItsSource() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let image = dir.path("me.jpg")
            try FileManager.default.copyItem(atPath: Fixture.path("portrait.jpg"), toPath: image)
            let before = try Data(contentsOf: URL(fileURLWithPath: image))
            for target in [image, dir.url.path + "/../\(dir.url.lastPathComponent)/me.jpg"] {
                let r = try infinistitch(["fit-image", image, "-o", target], in: dir)
                Self.expectRefused(r, "\(target): the output would overwrite an input (the image)")
            }
            #expect(try Data(contentsOf: URL(fileURLWithPath: image)) == before)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path) == ["me.jpg"])
        }

        @Test func theMainCommandKnowsAnInputByAnyName() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            try FileManager.default.copyItem(atPath: Fixture.path("speech.mp3"), toPath: dir.path("talk.mp3"))
            let before = try Data(contentsOf: URL(fileURLWithPath: dir.path("talk.mp3")))
            let r = try infinistitch(
                [
                    dir.path("talk.mp3"), "--image", Fixture.path("portrait.jpg"), "--backend", "preview",
                    "-o", dir.url.path + "/./talk.mp3", "--work-dir", dir.path("w"),
                ], in: dir)
            Self.expectRefused(r, "the output would overwrite an input (the audio)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: dir.path("talk.mp3"))) == before)
        }

        // MARK: 2. One limit for both spellings of a transition's length

        @Test func crossfadeHasTheTransitionFramesLimit() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let (plan, audio, clips) = try Self.stitchInputs(dir)
            for (flags, expected) in [
                (["--crossfade", "51"], "--crossfade 51 is outside 0…50"),
                (["--crossfade", "100"], "--crossfade 100 is outside 0…50"),
                (["--transition", "crossfade", "--transition-frames", "100"], "--transition-frames 100 is outside 0…50"),
            ] {
                let r = try infinistitch(
                    ["stitch", "--plan", plan, "--audio", audio, "-o", dir.path("out.mp4")] + flags + clips, in: dir)
                Self.expectRefused(r, expected)
                #expect(!FileManager.default.fileExists(atPath: dir.path("out.mp4")))
            }
            #expect(throws: Never.self) { try TransitionOptions.parse(["--crossfade", "50"]) }
            #expect(throws: StitchError.self) { try StitchOptions(crossfadeFrames: 100).validate() }
        }

        // MARK: 3, 4. Files that do not exist

        @Test func aMissingDiarizationFileIsSaidToBeMissing() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let missing = dir.path("nowhere.rttm")
            let r = try infinistitch(
                [
                    "plan", Fixture.path("conversation-mix.opus"), "--speaker", "A=\(Fixture.path("portrait.jpg"))",
                    "--speaker", "B=\(Fixture.path("portrait.jpg"))", "--diarization", missing,
                ], in: dir)
            Self.expectRefused(r, "\(missing): no such diarization file")
            #expect {
                try SpeakerTimeline.load(.diarization(path: missing), speakers: ["A", "B"], audio: Conversation.mix())
            } throws: { error in
                "\(error)" == "\(missing): no such diarization file"
            }
        }

        @Test func planRefusesAPortraitThatDoesNotExist() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let missing = dir.path("ann.jpg")
            let r = try infinistitch(
                [
                    "plan", Fixture.path("conversation-mix.opus"), "--speaker", "A=\(missing)",
                    "--speaker", "B=\(Fixture.path("portrait.jpg"))", "--diarization", Fixture.path("conversation.rttm"),
                ], in: dir)
            Self.expectRefused(r, "\(missing): no such image file")
        }

        // MARK: 5. A bad clip is bad input

        @Test func stitchRefusesABadClipWithExitCode2() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let (plan, audio, clips) = try Self.stitchInputs(dir)
            var bad = clips
            bad[2] = Fixture.path("clip-corrupt.mp4")
            let r = try infinistitch(["stitch", "--plan", plan, "--audio", audio, "-o", dir.path("out.mp4")] + bad, in: dir)
            Self.expectRefused(r, "clip for segment 2 (\(bad[2]))")
            #expect(!FileManager.default.fileExists(atPath: dir.path("out.mp4")))
        }

        // MARK: 6. Control characters in speaker names

        @Test(arguments: ["A\nB", "A\u{1B}[31mred", "A\tB"])
        func aSpeakerNameWithAControlCharacterIsRefusedEscaped(_ name: String) throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let portrait = Fixture.path("portrait.jpg")
            let speakers = ["--speaker", "\(name)=\(portrait)", "--speaker", "B=\(portrait)"]
            let rttm = ["--diarization", Fixture.path("conversation.rttm")]
            for arguments in [
                ["plan", Fixture.path("conversation-mix.opus")] + speakers + rttm,
                [Fixture.path("conversation-mix.opus")] + speakers + rttm + ["--backend", "preview", "-o", dir.path("o.mp4")],
            ] {
                let r = try infinistitch(arguments, in: dir)
                Self.expectRefused(r, name.debugDescription)
                #expect(r.stderr.contains("control character"), "\(r.stderr)")
                #expect(!r.stderr.contains(name), "the raw name is echoed: \(r.stderr.debugDescription)")
                #expect(!r.stderr.contains("\u{1B}"), "\(r.stderr.debugDescription)")
            }
            // The library refuses it in one line too.
            var options = PipelineOptions(
                audio: "a.mp3", speakers: [Plan.Speaker(name: name, image: "a.png"), Plan.Speaker(name: "B", image: "b.png")],
                source: .diarization(path: "a.rttm"))
            options.output = dir.path("o.mp4")
            #expect {
                try options.validate()
            } throws: { error in
                !"\(error)".contains(name) && !"\(error)".contains("\n") && "\(error)".contains(name.debugDescription)
            }
            #expect(
                speakerErrorKind {
                    _ = try SpeakerTimeline.diarization(rttm: "", file: "a.rttm", speakers: [name, "B"], duration: 10)
                } == .invalidSpeakers)
        }

        @Test func aSpeakerSourceValueWithAControlCharacterIsShownEscaped() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let portrait = Fixture.path("portrait.jpg")
            let r = try infinistitch(
                [
                    "plan", Fixture.path("conversation-stereo.mp3"), "--speaker", "A=\(portrait)", "--speaker", "B=\(portrait)",
                    "--speaker-channel", "A=0\u{1B}[2J", "--speaker-channel", "B=1",
                ], in: dir)
            Self.expectRefused(r, "\"A=0\\u{1B}[2J\": \"0\\u{1B}[2J\" is not a channel number")
            #expect(!r.stderr.contains("\u{1B}"), "\(r.stderr.debugDescription)")
        }

        // MARK: 7. Speakers who would never be on screen

        @Test func twoSpeakersCannotShareAChannelOrATrack() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let stereo = try AudioAnalysis.analyze(path: Fixture.path("conversation-stereo.mp3"))
            #expect(
                speakerErrorKind {
                    _ = try SpeakerTimeline.load(.channels(["A": 1, "B": 1]), speakers: ["A", "B"], audio: stereo)
                }
                    == .sharedSource)
            let track = Fixture.path("conversation-a.opus")
            let alias = Fixture.directory.path + "/./conversation-a.opus"
            for tracks in [["A": track, "B": track], ["A": track, "B": alias]] {
                #expect(
                    speakerErrorKind {
                        _ = try SpeakerTimeline.load(.tracks(tracks), speakers: ["A", "B"], audio: Conversation.mix())
                    } == .sharedSource)
            }
            let portrait = Fixture.path("portrait.jpg")
            let r = try infinistitch(
                [
                    "plan", Fixture.path("conversation-stereo.mp3"), "--speaker", "A=\(portrait)", "--speaker", "B=\(portrait)",
                    "--speaker-channel", "A=0", "--speaker-channel", "B=0",
                ], in: dir)
            Self.expectRefused(r, "speakers \"A\" and \"B\" are both given channel 0")
            let t = try infinistitch(
                [
                    "plan", Fixture.path("conversation-mix.opus"), "--speaker", "A=\(portrait)", "--speaker", "B=\(portrait)",
                    "--speaker-track", "A=\(track)", "--speaker-track", "B=\(alias)",
                ], in: dir)
            Self.expectRefused(t, "speakers \"A\" and \"B\" are both given the same track")
        }

        @Test func anRTTMSpeakerWhollyPastTheEndIsNeverOnScreen() throws {
            let rttm = """
                SPEAKER talk 1 0.50 4.00 <NA> <NA> A <NA> <NA>
                SPEAKER talk 1 12.00 2.00 <NA> <NA> B <NA> <NA>
                SPEAKER talk 1 10.00 1.50 <NA> <NA> B <NA> <NA>
                """
            let timeline = try SpeakerTimeline.diarization(rttm: rttm, file: "t.rttm", speakers: ["A", "B"], duration: 10)
            #expect(timeline.voiced("B").isEmpty)
            #expect(
                timeline.warnings.contains { $0.hasPrefix("t.rttm:") && $0.contains("\"B\"") && $0.contains("never on screen") },
                "\(timeline.warnings)")
            #expect(!timeline.warnings.contains { $0.contains("\"A\"") })
        }

        // MARK: 8. Audio the output cannot hold

        @Test func audioTooShortToConvertIsRefusedBeforeAnyRequest() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            // 10 samples (8 ms) at 1234 Hz: libswresample gives nothing at the output's 8 kHz.
            let tiny = dir.path("tiny.wav")
            let tone = (0..<10).map { Float(0.3 * sin(Double($0))) }
            try WAV.file(tone, sampleRate: 1234, channels: 1).write(to: URL(fileURLWithPath: tiny))
            #expect {
                try OutputAudio.decide(audio: tiny, scratchDirectory: dir.url.path)
            } throws: { error in
                (error as? MediaError)?.kind == .tooSmall && (error as? MediaError)?.file == tiny
                    && "\(error)".contains("too short to convert")
            }
            let run = try infinistitch(
                [
                    tiny, "--image", Fixture.path("portrait.jpg"), "--backend", "preview", "-o", dir.path("out.mp4"),
                    "--work-dir", dir.path("w"),
                ], in: dir)
            Self.expectRefused(run, "\(tiny): holds 10 samples (8.1 ms at 1234 Hz), too short to convert")
            #expect(!FileManager.default.fileExists(atPath: dir.path("out.mp4")))
            #expect(!FileManager.default.fileExists(atPath: dir.path("w")))
            Self.expectRefused(try infinistitch(["plan", tiny], in: dir), "\(tiny): holds 10 samples")
            // A second at that rate converts.
            let second = dir.path("second.wav")
            try WAV.file([Float](repeating: 0.1, count: 1234), sampleRate: 1234, channels: 1).write(
                to: URL(fileURLWithPath: second))
            let decided = try OutputAudio.decide(audio: second, scratchDirectory: dir.url.path)
            #expect(decided.strategy == .encode && decided.sampleRate == 8_000)
            // A file with no samples at all is still said to be empty.
            #expect {
                try OutputAudio.decide(audio: Fixture.path("zero-length.wav"), scratchDirectory: dir.url.path)
            } throws: { error in
                !"\(error)".contains("too short to convert")
            }
        }

        // MARK: 9. Leftovers of killed processes

        /// The id of a process that has ended (and been reaped).
        static func deadPID() throws -> pid_t {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/true")
            try p.run()
            p.waitUntilExit()
            return p.processIdentifier
        }

        @Test func aStitchRemovesWhatKilledStitchesLeftBesideItsOutput() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let out = dir.path("out.mp4")
            let dead = try Self.deadPID()
            #expect(!AtomicFile.isAlive(dead))
            // Another process, alive while the stitch runs: its files are never touched.
            let sleeper = Process()
            sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
            sleeper.arguments = ["60"]
            try sleeper.run()
            defer {
                // SIGKILL: the test runner's children may inherit an ignored SIGTERM.
                kill(sleeper.processIdentifier, SIGKILL)
                sleeper.waitUntilExit()
            }
            let live = sleeper.processIdentifier
            let me = "partial-\(getpid())-"
            func partial(_ pid: pid_t) -> String {
                AtomicFile.temporaryPath(for: out).replacingOccurrences(of: me, with: "partial-\(pid)-")
            }
            let leftovers = [
                partial(dead), dir.path(".out.mp4.audio-\(dead).m4a"), dir.path(".infinistitch-audio-check-\(dead)-0badf00d.mp4"),
            ]
            let kept = [partial(live), dir.path(".out.mp4.audio-\(live).m4a"), dir.path(".other.mp4.partial-\(dead)-7")]
            for path in leftovers + kept { #expect(FileManager.default.createFile(atPath: path, contents: Data(count: 1000))) }
            // speech.wav is PCM: the stitch encodes it to a temporary M4A too.
            _ = try Stitcher.stitch(
                plan: StitchTests.plan([(41, 41)], audio: "speech.wav"), clips: [Fixture.path("clip-a.mp4")],
                audio: Fixture.path("speech.wav"), output: out)
            for path in leftovers { #expect(!FileManager.default.fileExists(atPath: path), "\(path) was left") }
            for path in kept { #expect(FileManager.default.fileExists(atPath: path), "\(path) was removed") }
            #expect(FileManager.default.fileExists(atPath: out))
        }

        @Test func theStitchAfterAKilledOneLeavesNoPartialFile() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            // 70 s in 41-frame requests, morphed at every seam: a few seconds of stitching to kill.
            let plan = try SegmentPlanner.plan(
                AudioAnalysis.analyze(path: Fixture.path("speech-long.mp3")), options: PlanningOptions(maxFrames: 41))
            try plan.jsonData().write(to: URL(fileURLWithPath: dir.path("plan.json")))
            let arguments =
                [
                    "stitch", "--plan", dir.path("plan.json"), "--audio", Fixture.path("speech-long.mp3"),
                    "-o", dir.path("talk.mp4"), "--transition", "morph",
                ] + plan.segments.map { _ in Fixture.path("clip-a.mp4") }
            func hidden() throws -> [String] {
                try FileManager.default.contentsOfDirectory(atPath: dir.url.path).filter { $0.hasPrefix(".") }
            }
            let stitch = Process()
            stitch.executableURL = URL(fileURLWithPath: infinistitchBinary)
            // x264's slowest presets make the window to kill it in long on a busy machine too.
            stitch.arguments = arguments + ["--preset", "veryslow"]
            stitch.standardOutput = FileHandle.nullDevice
            stitch.standardError = FileHandle.nullDevice
            try stitch.run()
            // Polled on this thread (not with task sleeps, which a busy test run may delay for
            // longer than the stitch takes).
            let deadline = Date().addingTimeInterval(60)
            while try !hidden().contains(where: { $0.hasPrefix(".talk.mp4.partial-") }), stitch.isRunning, Date() < deadline {
                usleep(1000)
            }
            kill(stitch.processIdentifier, SIGKILL)
            stitch.waitUntilExit()
            let killed = stitch.processIdentifier
            try #require(try hidden().contains { $0.hasPrefix(".talk.mp4.partial-\(killed)-") })
            #expect(!FileManager.default.fileExists(atPath: dir.path("talk.mp4")))
            // The next stitch of the same output removes what the killed one left.
            let again = try infinistitch(arguments, in: dir)
            #expect(again.status == 0, "\(again.stderr)")
            let left = try hidden()
            #expect(left.isEmpty, "\(left)")
            #expect(FileManager.default.fileExists(atPath: dir.path("talk.mp4")))
        }

        // MARK: 10. Clips with a display matrix

        @Test(.enabled(if: ffmpegTool != nil))
        func aRotatedClipIsRefusedBeforeStitching() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let rotated = dir.path("rotated.mp4")
            let made = try runProcess(
                ffmpegTool!,
                ["-v", "error", "-y", "-i", Fixture.path("clip-a.mp4"), "-c", "copy", "-metadata:s:v:0", "rotate=90", rotated])
            try #require(made.status == 0)
            #expect {
                try Stitcher.stitch(
                    plan: StitchTests.plan([(41, 41)]), clips: [rotated], audio: Fixture.path("speech.m4a"),
                    output: dir.path("out.mp4"))
            } throws: { error in
                guard let clip = error as? ClipError else { return false }
                return clip.segment == 0 && clip.clip == rotated && clip.reason.contains("rotation")
                    && !clip.description.contains("\n")
            }
            #expect(!FileManager.default.fileExists(atPath: dir.path("out.mp4")))
            // An upright clip has no such complaint.
            #expect(throws: Never.self) { try ClipInspection.inspect(path: Fixture.path("clip-a.mp4")) }
        }

        // MARK: 11. Speaker tracks: the other voices' turns silenced

        @Test func aSpeakerTrackIsSilencedWhereTheTimelineGivesTheOtherVoice() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            // A's microphone: A's voice (440 Hz) for 0–2 s, then B's voice bleeding in (1 kHz, lower).
            let rate = 16_000
            func track(_ name: String, _ level: (Double) -> Double) throws -> String {
                let samples = (0..<(4 * rate)).map { i -> Float in
                    let t = Double(i) / Double(rate)
                    return Float(level(t) * sin(2 * .pi * (t < 2 ? 440 : 1000) * t))
                }
                let path = dir.path("\(name).wav")
                try WAV.file(samples, sampleRate: rate, channels: 1).write(to: URL(fileURLWithPath: path))
                return path
            }
            let a = try track("a") { $0 < 2 ? 0.5 : 0.1 }
            let b = try track("b") { $0 < 2 ? 0.1 : 0.5 }
            let timeline = SpeakerTimeline(speakers: ["A", "B"], voiced: [[0..<2], [2..<4]], duration: 4)
            let plan = Plan(
                totalFrames: 100, maxFrames: 721, resolution: .p480, pricePerSecond: 0.2, layout: .wholeClips,
                audio: Plan.Audio(sampleRate: rate, channels: 1, samples: 4 * rate, duration: 4),
                segments: [Plan.Segment(index: 0, startFrame: 0, frameCount: 81, numFrames: 81, cutLoudnessDb: nil, speaker: "A")]
            )
            let files = try SpeakerAudio.export(
                mix: a, plan: plan, source: .tracks(["A": a, "B": b]), timeline: timeline, segments: [0],
                to: dir.url.appendingPathComponent("out"))
            let pcm = try AudioReader(path: files[0]!.path).readAll()
            func peak(_ from: Double, _ to: Double) -> Float { pcm[Int(from * 16_000)..<Int(to * 16_000)].map(abs).max() ?? 0 }
            #expect(peak(0.1, 1.98) > 0.45)
            #expect(peak(2.0, 3.4) == 0, "B's voice bleeding into A's track is sent with A's request")
        }

        // MARK: 12. Face search: two people, a small and a large one

        /// A 1600×1066 picture of two people, the way group photos go wrong: the portrait at 1.8×
        /// at the bottom left (the large person) and at 0.6× a third of the way down on the right
        /// (the small one, further away). The Haar cascade boxes the small one's head about four
        /// times too large, a box larger than the large person's face.
        static func twoPeople(smallScale: Double = 0.6, largeScale: Double = 1.8) throws -> (
            image: PixelBuffer, large: FaceDetector.Rect, small: FaceDetector.Rect
        ) {
            let (portrait, face) = try FramingPictures.portrait()
            // A soft gray texture, free of faces.
            var canvas = PixelBuffer(width: 1600, height: 1066, format: .rgb8)
            for y in 0..<canvas.height {
                for x in 0..<canvas.width {
                    let v = UInt8(150 + 18 * sin(Double(x + 2 * y) / 37) + 12 * cos(Double(3 * x - y) / 53))
                    for c in 0..<3 { canvas.bytes[(y * canvas.width + x) * 3 + c] = v }
                }
            }
            func paste(scale: Double, x: Int, y: Int) -> FaceDetector.Rect {
                let w = Int(Double(portrait.width) * scale), h = Int(Double(portrait.height) * scale)
                let person = Resampler.resample(portrait, width: w, height: h)
                for row in 0..<h {
                    let from = row * w * 3, to = ((y + row) * canvas.width + x) * 3
                    canvas.bytes.replaceSubrange(to..<(to + w * 3), with: person.bytes[from..<(from + w * 3)])
                }
                return FaceDetector.Rect(
                    x: x + Int(Double(face.x) * scale), y: y + Int(Double(face.y) * scale),
                    width: Int(Double(face.width) * scale), height: Int(Double(face.height) * scale))
            }
            let large = paste(scale: largeScale, x: 20, y: 1066 - Int(384 * largeScale))
            let small = paste(
                scale: smallScale, x: 1200 - Int(384 * smallScale / 2), y: max(0, 355 - Int(384 * smallScale / 2)))
            return (canvas, large, small)
        }

        @Test func aFaceBoxFarLargerThanItsFaceIsNotTakenForTheFace() throws {
            let (picture, large, small) = try Self.twoPeople()
            let faces = try FaceDetector().faces(gray: lumaBytes(picture), width: picture.width, height: picture.height)
            // Every face kept is a face, not a box around a head four times its size.
            for face in faces {
                let matches = [large, small].contains { face.overlap($0) > 0.3 }
                #expect(matches, "\(face) is no face (faces at \(large) and \(small)); found \(faces)")
            }
            let first = try #require(faces.first)
            #expect(first.overlap(large) > 0.3, "the largest face is \(first), not the large person's \(large)")
            // The crop goes around the large person, and says that there was more than one face.
            let fitted = try ImageFitter(resolution: .p480, aspect: try ImageFitter.Aspect(parsing: "9:16")).fit(picture)
            let face = try #require(fitted.face)
            #expect(face.overlap(large) > 0.3, "\(face)")
            if faces.count > 1 {
                #expect(fitted.warnings.contains { $0.contains("\(faces.count) faces") }, "\(fitted.warnings)")
            }
        }

        @Test func twoFacesFoundAreSaidInAWarning() throws {
            // Both people near enough to be found: the crop goes around the larger, and says so.
            let (picture, large, small) = try Self.twoPeople(smallScale: 1.5)
            let faces = try FaceDetector().faces(gray: lumaBytes(picture), width: picture.width, height: picture.height)
            #expect(faces.count == 2, "\(faces)")
            #expect(faces.first.map { $0.overlap(large) > 0.3 } == true, "\(faces)")
            #expect(faces.last.map { $0.overlap(small) > 0.3 } == true, "\(faces)")
            let fitted = try ImageFitter(resolution: .p480).fit(picture)
            #expect(fitted.face.map { $0.overlap(large) > 0.3 } == true)
            #expect(
                fitted.warnings.contains { $0.hasPrefix("2 faces found; the crop is around the largest") }, "\(fitted.warnings)")
        }

        @Test func aPassedOverBoxIsNamedWhenNoFaceIsLeft() throws {
            // The small person alone (the large one too small to be searched for): the only box is
            // the one around the small person's head, four times too large, and it is passed over.
            let (picture, _, _) = try Self.twoPeople(smallScale: 0.6, largeScale: 0.3)
            let fitted = try ImageFitter(resolution: .p480).fit(picture)
            #expect(fitted.face == nil, "\(String(describing: fitted.face))")
            #expect(
                fitted.warnings.contains { $0.hasPrefix("no face found (1 face-like area without a face's eyes passed over)") },
                "\(fitted.warnings)")
        }
    }
}
