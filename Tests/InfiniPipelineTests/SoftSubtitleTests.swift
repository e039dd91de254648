import Foundation
import Testing

@testable import InfiniPipeline

/// Captions in the file: the soft `mov_text` track the stitcher muxes (copy and re-encode paths)
/// and the sidecars a run writes beside the MP4, each read back and compared with the cues.
extension Serial {
    @Suite("Soft subtitles", .timeLimit(.minutes(4)))
    struct SoftSubtitleTests {
        /// The cues a track should carry: its text (speaker prefixed), times in milliseconds.
        static func expected(_ captions: [Caption]) -> [MovText.Cue] {
            captions.map {
                MovText.Cue(
                    start: Double(MovText.milliseconds($0.start)) / 1000, end: Double(MovText.milliseconds($0.end)) / 1000,
                    text: SubtitleTrack.text(of: $0))
            }
        }

        static func expectSame(
            _ read: [MovText.Cue], _ expected: [MovText.Cue], sourceLocation: SourceLocation = #_sourceLocation
        ) {
            #expect(read.count == expected.count, sourceLocation: sourceLocation)
            for (a, b) in zip(read, expected) {
                #expect(a.text == b.text, sourceLocation: sourceLocation)
                #expect(abs(a.start - b.start) < 0.0005, "\(a) vs \(b)", sourceLocation: sourceLocation)
                #expect(abs(a.end - b.end) < 0.0005, "\(a) vs \(b)", sourceLocation: sourceLocation)
            }
        }

        /// The fixture transcript's cues.
        static func fixtureCaptions() throws -> [Caption] {
            try Transcript.read(file: URL(fileURLWithPath: Fixture.path("speech.srt"))).captions()
        }

        /// Both stitch paths carry the track: same cues, same times, the language tagged.
        @Test(arguments: [false, true])
        func stitcherMuxesTheTrack(reencode: Bool) throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let out = dir.path("out.mp4")
            let plan = try StitchTests.plan([(41, 41), (45, 45), (41, 41)], audio: "speech.wav")
            let captions = try Self.fixtureCaptions()
            var options = StitchOptions(reencode: reencode)
            options.subtitles = SubtitleTrack(captions: captions, language: "en")
            let result = try Stitcher.stitch(
                plan: plan, clips: ["clip-a.mp4", "clip-b.mp4", "clip-c.mp4"].map(Fixture.path),
                audio: Fixture.path("speech.wav"), output: out, options: options)
            #expect(result.videoPath == (reencode ? .reencode : .copy))
            #expect(result.totalFrames == 127)
            let track = try MovText.readTrack(path: out)
            #expect(track.codec == "mov_text")
            #expect(track.language == "eng")
            // The video is 127 frames (5.08 s): the second cue is cut there, the third left out.
            let within = SubtitleTrack.clipped(captions, to: 5.08)
            #expect(within.count == 2 && within[1].end == 5.08)
            Self.expectSame(track.cues, Self.expected(within))
            // The video and audio are untouched by the extra stream.
            #expect(try Self.frameCount(out) == 127)
            if let ffprobe = Self.tool("ffprobe") {
                let probe = try runProcess(
                    ffprobe,
                    [
                        "-v", "error", "-select_streams", "s", "-show_entries", "stream=codec_name:stream_tags=language",
                        "-of", "csv=p=0", out,
                    ], timeout: .seconds(60))
                #expect(
                    String(decoding: probe.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                        == "mov_text,eng")
            }
        }

        static func frameCount(_ path: String) throws -> Int {
            let reader = try VideoReader(path: path, pixelFormat: .yuv420p)
            var n = 0
            while try reader.nextFrame() != nil { n += 1 }
            return n
        }

        static func tool(_ name: String) -> String? {
            ["/usr/bin/\(name)", "/usr/local/bin/\(name)", "/opt/homebrew/bin/\(name)"].first {
                FileManager.default.isExecutableFile(atPath: $0)
            }
        }

        /// A run with `--captions FILE` on the preview backend, offline: the MP4 carries the
        /// track, the sidecars hold the same cues, and they read back as the transcript's cues.
        @Test func previewRunWritesTrackAndSidecars() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            var o = PipelineTests.options(dir)
            o.captions = .file(Fixture.path("speech.srt"))
            o.language = "en"
            let (summary, events) = try await runCollectingEvents(Pipeline(options: o))
            let srt = dir.path("out.srt"), vtt = dir.path("out.vtt")
            #expect(summary.captionFiles == [srt, vtt])
            let report = events.compactMap { event -> CaptionsReport? in
                if case .captions(let r) = event { return r }
                return nil
            }
            #expect(report.count == 1 && report.first?.cues == 3 && report.first?.cost == 0)
            // The transcript was known before planning: the plan counts its cuts at sentence ends.
            let plans = events.compactMap { event -> Plan? in
                if case .plan(let p) = event { return p }
                return nil
            }
            #expect(plans.count == 1 && plans[0].cutsAtSentenceEnds == plans[0].segments.count - 1)
            let video = ModelLimits.seconds(forFrames: summary.frames)
            // Cues end with the audio, which the video covers.
            #expect(summary.duration <= video)
            let cues = SubtitleTrack.clipped(try Self.fixtureCaptions(), to: summary.duration)
            #expect(cues.count == 3)
            // The track, and both sidecars read back with the transcript readers.
            let track = try MovText.readTrack(path: dir.path("out.mp4"))
            #expect(track.language == "eng")
            Self.expectSame(track.cues, Self.expected(cues))
            for file in [srt, vtt] {
                let back = try Transcript.read(file: URL(fileURLWithPath: file))
                #expect(back.segments.map(\.text) == cues.map(\.text))
                #expect(back.segments.map(\.start) == cues.map { Double(MovText.milliseconds($0.start)) / 1000 })
                #expect(back.segments.map(\.end) == cues.map { Double(MovText.milliseconds($0.end)) / 1000 })
            }
            // No cue outlasts the video; the first is heard at the transcript's first time.
            #expect(cues.last!.end <= video)
            #expect(cues.first!.start == 0)
        }

        /// Several speakers: `NAME: ` in the SRT and the track, `<v NAME>` in the WebVTT.
        @Test func speakersAreNamedInEachFormat() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let transcript = dir.path("two.vtt")
            try """
            WEBVTT

            00:00.000 --> 00:02.200
            <v Ann>The lander touched down gently.

            00:02.800 --> 00:05.074
            <v Bob>Nobody in the room said a word.

            """.write(toFile: transcript, atomically: true, encoding: .utf8)
            var o = PipelineTests.options(dir)
            o.captions = .file(transcript)
            _ = try await Pipeline(options: o).run()
            let srt = try String(contentsOfFile: dir.path("out.srt"), encoding: .utf8)
            let vtt = try String(contentsOfFile: dir.path("out.vtt"), encoding: .utf8)
            #expect(srt.contains("\nAnn: The lander touched down gently.\n"))
            #expect(srt.contains("\nBob: Nobody in the room said a word.\n"))
            #expect(vtt.contains("\n<v Ann>The lander touched down gently.\n"))
            #expect(vtt.contains("\n<v Bob>Nobody in the room said a word.\n"))
            let track = try MovText.readTrack(path: dir.path("out.mp4"))
            #expect(track.cues.map(\.text) == ["Ann: The lander touched down gently.", "Bob: Nobody in the room said a word."])
            #expect(track.language == "und")
            let back = try Transcript.read(file: URL(fileURLWithPath: dir.path("out.vtt")))
            #expect(back.segments.map(\.speaker) == ["Ann", "Bob"])
        }

        /// A malformed transcript, or one of another (longer) recording, stops the run before
        /// anything is made: one line naming the file (and line), nothing written.
        @Test func badTranscriptsAreRefusedUpFront() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let broken = dir.path("broken.srt")
            try "1\n00:00:00,000 --> 00:00:0x,000\nHello.\n".write(toFile: broken, atomically: true, encoding: .utf8)
            for (file, kind, text) in [
                (broken, TranscriptError.Kind.malformed, "broken.srt:2:"),
                (Fixture.path("speech-long.srt"), .beyondAudio, "speech-long.srt:"),
            ] {
                var o = PipelineTests.options(dir)
                o.captions = .file(file)
                let backend = ScriptedBackend(directory: dir.url.appendingPathComponent("backend"))
                let error = await #expect(throws: PipelineError.self) { try await Pipeline(options: o, backend: backend).run() }
                #expect(error?.kind == .invalidInput)
                #expect((error?.underlying as? TranscriptError)?.kind == kind)
                #expect(error?.description.contains(text) == true, "\(error?.description ?? "")")
                #expect(error?.description.contains("\n") == false)
                #expect(backend.totalSubmits == 0)
                for name in ["out.mp4", "out.srt", "out.vtt"] {
                    #expect(!FileManager.default.fileExists(atPath: dir.path(name)), "\(name)")
                }
            }
        }

        /// The transcript beside the output is the user's own: it is left as it is, and the
        /// WebVTT sidecar is still written.
        @Test func captionsFileBesideTheOutputIsKept() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let own = dir.path("out.srt")
            let original = try String(contentsOfFile: Fixture.path("speech.srt"), encoding: .utf8) + "\n"
            try original.write(toFile: own, atomically: true, encoding: .utf8)
            var o = PipelineTests.options(dir)
            o.captions = .file(own)
            let summary = try await Pipeline(options: o).run()
            #expect(summary.captionFiles == [dir.path("out.vtt")])
            #expect(try String(contentsOfFile: own, encoding: .utf8) == original)
            #expect(FileManager.default.fileExists(atPath: dir.path("out.vtt")))
        }

        /// The README's offline example, through the binary: exit 0 and the sidecars; a broken
        /// transcript is one line naming the file and line, exit 2, nothing written.
        @Test func commandLineCaptionsOffline() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let environment = ["XDG_CACHE_HOME": dir.path("cache"), "HOME": dir.url.path, "PATH": "/usr/bin:/bin"]
            let base = [
                Fixture.path("speech.mp3"), "--image", Fixture.path("portrait.jpg"), "--backend", "preview", "--transition",
                "cut",
            ]
            let ok = try runProcess(
                infinistitchBinary, base + ["--captions", Fixture.path("speech.srt"), "-o", dir.path("talk.mp4")],
                environment: environment, timeout: .seconds(120))
            #expect(ok.status == 0, "\(String(decoding: ok.stderr, as: UTF8.self))")
            #expect(
                String(decoding: ok.stdout, as: UTF8.self).contains("captions: \(dir.path("talk.srt")), \(dir.path("talk.vtt"))"))
            #expect(try MovText.readTrack(path: dir.path("talk.mp4")).cues.count == 3)
            let broken = dir.path("broken.vtt")
            try "WEBVTT\n\n00:01.000 -> 00:02.000\nHello.\n".write(toFile: broken, atomically: true, encoding: .utf8)
            let bad = try runProcess(
                infinistitchBinary, base + ["--captions", broken, "-o", dir.path("bad.mp4")], environment: environment,
                timeout: .seconds(120))
            let stderr = String(decoding: bad.stderr, as: UTF8.self)
            #expect(bad.status == 2, "\(stderr)")
            #expect(stderr.contains("broken.vtt:4:"), "\(stderr)")  // line 3 reads as a cue id
            #expect(stderr.split(separator: "\n").count == 1, "\(stderr)")
            for name in ["bad.mp4", "bad.srt", "bad.vtt"] { #expect(!FileManager.default.fileExists(atPath: dir.path(name))) }
        }
    }
}
