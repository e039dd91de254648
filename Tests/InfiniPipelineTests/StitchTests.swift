import Foundation
import Testing

@testable import InfiniPipeline

extension Serial {
    @Suite("Stitcher", .timeLimit(.minutes(3)))
    struct StitchTests {
        /// A plan over fixture clips: one segment per (frameCount, numFrames), made for `audio`
        /// (a fixture, decoded here), whose length need not match the frames.
        static func plan(_ sizes: [(Int, Int)], audio: String = "speech.m4a") throws -> Plan {
            let analysis = try AudioAnalysis.analyze(path: Fixture.path(audio))
            var start = 0
            var segments: [Plan.Segment] = []
            for (i, size) in sizes.enumerated() {
                segments.append(
                    Plan.Segment(
                        index: i, startFrame: start, frameCount: size.0, numFrames: size.1, cutLoudnessDb: i == 0 ? nil : -80))
                start += size.0
            }
            return Plan(
                totalFrames: start, maxFrames: 721, resolution: .p480, pricePerSecond: 0.2, layout: .wholeClips,
                audio: Plan.Audio(
                    sampleRate: analysis.format.sampleRate, channels: analysis.format.channels,
                    samples: analysis.samples, duration: analysis.duration),
                segments: segments)
        }

        /// Decodes a video and returns (barcode index, clip colour) per frame.
        static func markers(_ path: String) throws -> [(Int, (Double, Double, Double))] {
            let reader = try VideoReader(path: path)
            var result: [(Int, (Double, Double, Double))] = []
            while let frame = try reader.nextFrame() { result.append((barcodeIndex(frame), lowerAreaColor(frame))) }
            return result
        }

        static func isColor(_ c: (Double, Double, Double), _ r: Double, _ g: Double, _ b: Double) -> Bool {
            abs(c.0 - r) < 8 && abs(c.1 - g) < 8 && abs(c.2 - b) < 8
        }

        /// The lag (in samples) that best aligns `b` with `a`, searched over ±`range`.
        static func bestLag(_ a: [Float], _ b: [Float], range: Int) -> Int {
            let n = min(a.count, b.count, 96_000) - range
            var best = 0, bestScore = -Double.infinity
            for lag in -range...range {
                var score = 0.0
                var i = range
                while i < n { score += Double(a[i]) * Double(b[i + lag]); i += 3 }
                if score > bestScore { bestScore = score; best = lag }
            }
            return best
        }

        @Test func copyPathJoinsClipsLosslesslyWithExactFrames() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let out = dir.path("out.mp4")
            let result = try Stitcher.stitch(
                plan: Self.plan([(41, 41), (45, 45), (41, 41)], audio: "speech.wav"),
                clips: ["clip-a.mp4", "clip-b.mp4", "clip-c.mp4"].map(Fixture.path),
                audio: Fixture.path("speech.wav"), output: out)
            #expect(result.videoPath == .copy)
            #expect(result.totalFrames == 127)
            #expect(!result.audioCopied)
            #expect(try mp4TopLevelBoxes(out).prefix(2) == ["ftyp", "moov"])
            let marks = try Self.markers(out)
            #expect(marks.count == 127)
            for (i, m) in marks.enumerated() {
                let (expectedIndex, color): (Int, (Double, Double, Double)) =
                    i < 41 ? (i, (60, 90, 160)) : i < 86 ? (i - 41, (160, 90, 60)) : (i - 86, (60, 160, 90))
                #expect(m.0 == expectedIndex, "frame \(i)")
                #expect(Self.isColor(m.1, color.0, color.1, color.2), "frame \(i)")
            }
            // Lossless: the output's frames are the clips' frames, bit for bit.
            let output = try VideoReader(path: out, pixelFormat: .yuv420p)
            for clip in ["clip-a.mp4", "clip-b.mp4"] {
                let source = try VideoReader(path: Fixture.path(clip), pixelFormat: .yuv420p)
                while let expected = try source.nextFrame() {
                    #expect(try output.nextFrame()?.planes == expected.planes)
                }
            }
            let video = try Demuxer(path: out).bestStream(.video)
            #expect(video.frameRate == Rational(25, 1))
            #expect(abs((video.duration ?? 0) - 127.0 / 25) < 1e-6)
        }

        /// Apps stitch from async code without blocking the cooperative pool; the output is the
        /// blocking call's, and media errors match by code in a catch.
        @Test func asyncStitchMatchesTheBlockingOne() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let plan = try Self.plan([(41, 41), (45, 45)], audio: "speech.wav")
            let clips = ["clip-a.mp4", "clip-b.mp4"].map(Fixture.path)
            let result = try await Stitcher.stitch(
                plan: plan, clips: clips, audio: Fixture.path("speech.wav"), output: dir.path("a.mp4"))
            // A synchronous context gets the blocking call.
            let blocking = try {
                try Stitcher.stitch(plan: plan, clips: clips, audio: Fixture.path("speech.wav"), output: dir.path("b.mp4"))
            }()
            #expect(result.totalFrames == blocking.totalFrames && result.videoPath == blocking.videoPath)
            #expect(try Self.markers(dir.path("a.mp4")).map(\.0) == (try Self.markers(dir.path("b.mp4")).map(\.0)))
            do {
                _ = try await Stitcher.stitch(plan: plan, clips: clips, audio: dir.path("missing.wav"), output: dir.path("c.mp4"))
                Issue.record("a missing audio file must be refused")
            } catch MediaError.Kind.cannotOpen {
            }
            #expect(!FileManager.default.fileExists(atPath: dir.path("c.mp4")))
        }

        @Test(arguments: ["speech.mp3", "speech.m4a", "speech.wav", "speech.ogg", "talk-video.mp4"])
        func originalAudioIsInSync(_ name: String) throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let out = dir.path("out.mp4")
            // 74 frames (2.96 s): the shortest audio here, talk-video.mp4's, lasts 3.02 s.
            let result = try Stitcher.stitch(
                plan: Self.plan([(41, 41), (33, 45)], audio: name),
                clips: ["clip-a.mp4", "clip-b.mp4"].map(Fixture.path), audio: Fixture.path(name), output: out)
            let codec = try Demuxer(path: Fixture.path(name)).bestStream(.audio).codecName
            #expect(result.audioCopied == (codec == "aac" || codec == "mp3"))
            let original = try AudioReader(path: Fixture.path(name), channels: 1).readAll()
            let stitched = try AudioReader(path: out, channels: 1).readAll()
            let rate = try AudioReader(path: out).outputFormat.sampleRate
            // Whole: nothing cut (AAC may add up to one frame of padding at the end).
            #expect(stitched.count >= original.count)
            let lag = Self.bestLag(original, stitched, range: 2400)
            #expect(Double(abs(lag)) / Double(rate) < 0.002, "\(name): audio offset \(lag) samples")
        }

        @Test func tailCutInCopyPathKeepsFrames() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let out = dir.path("out.mp4")
            // The last segment keeps 42 of clip-b's 45 frames (a trimmed request).
            let result = try Stitcher.stitch(
                plan: Self.plan([(41, 41), (42, 45)]), clips: ["clip-a.mp4", "clip-b.mp4"].map(Fixture.path),
                audio: Fixture.path("speech.m4a"), output: out)
            let marks = try Self.markers(out)
            #expect(marks.count == 83)
            #expect(marks.map(\.0) == Array(0..<41) + Array(0..<42))
            #expect(result.totalFrames == 83)
            if result.videoPath == .copy {
                #expect(
                    try Stitcher.tailCutKeepsFramesIdentical(ClipInspection.inspect(path: Fixture.path("clip-b.mp4")), keep: 42))
            }
        }

        @Test func reencodePathWithCrossfade() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let out = dir.path("out.mp4")
            let result = try Stitcher.stitch(
                plan: Self.plan([(41, 41), (45, 45)]), clips: ["clip-a.mp4", "clip-b.mp4"].map(Fixture.path),
                audio: Fixture.path("speech.m4a"), output: out,
                options: StitchOptions(crf: 16, preset: "ultrafast", crossfadeFrames: 4))
            #expect(result.videoPath == .reencode)
            #expect(result.reencodeReason == "a crossfade needs re-encoding")
            let marks = try Self.markers(out)
            #expect(marks.count == 86)
            #expect(Self.isColor(marks[40].1, 60, 90, 160))
            // The first frames of clip b fade in from clip a's last frame.
            let red = marks[41...45].map { $0.1.0 }
            #expect(red[0] > 62 && red[0] < 158)
            #expect(red[0] < red[1] && red[1] < red[2] && red[2] < red[3])
            #expect(Self.isColor(marks[45].1, 160, 90, 60))
            #expect(marks[46...].map(\.0) == Array(5..<45))
        }

        @Test func shortClipIsPaddedWithAWarning() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let out = dir.path("out.mp4")
            var warnings: [String] = []
            let result = try Stitcher.stitch(
                plan: Self.plan([(41, 41), (41, 41)]), clips: ["clip-a.mp4", "clip-short.mp4"].map(Fixture.path),
                audio: Fixture.path("speech.m4a"), output: out, warning: { warnings.append($0) })
            #expect(result.videoPath == .reencode)
            #expect(warnings.count == 1 && warnings[0].contains("segment 1"))
            let marks = try Self.markers(out)
            #expect(marks.count == 82)
            #expect(marks[41...].map(\.0) == Array(0..<39) + [38, 38])
        }

        @Test(arguments: [
            ("clip-odd-size.mp4", "96x128"),
            ("clip-short.mp4", "needs 45"),
            ("clip-corrupt.mp4", "ends early"),
            ("clip-30fps.mp4", "30.000 fps"),
            ("speech.wav", "no video stream"),
            ("missing-clip.mp4", "no such file"),
        ])
        func unusableClipsAreNamed(_ clip: String, _ reason: String) throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let out = dir.path("out.mp4")
            #expect {
                try Stitcher.stitch(
                    plan: Self.plan([(41, 41), (45, 45)]), clips: [Fixture.path("clip-a.mp4"), Fixture.path(clip)],
                    audio: Fixture.path("speech.m4a"), output: out)
            } throws: { error in
                guard let e = error as? ClipError else { return false }
                return e.segment == 1 && e.clip.hasSuffix(clip) && e.description.contains(reason)
            }
            #expect(!FileManager.default.fileExists(atPath: out))
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).isEmpty)
        }

        @Test func clipsAreInspectedTogetherAndReportedInSegmentOrder() throws {
            let paths = ["clip-a.mp4", "clip-corrupt.mp4", "clip-b.mp4", "missing-clip.mp4", "clip-c.mp4"].map(Fixture.path)
            let results = ClipInspection.inspectAll(paths: paths)
            #expect(results.count == 5)
            for (i, result) in results.enumerated() {
                switch result {
                case .success(let info):
                    #expect([0, 2, 4].contains(i))
                    #expect(info.path == paths[i])
                    #expect(info == (try ClipInspection.inspect(path: paths[i])))
                case .failure(let error):
                    #expect([1, 3].contains(i))
                    #expect(error.file == paths[i])
                }
            }
            // With two unusable clips, the stitch names the earlier segment.
            let dir = try TempDir()
            defer { dir.cleanup() }
            #expect {
                try Stitcher.stitch(
                    plan: Self.plan([(41, 41), (41, 41), (41, 41)]),
                    clips: [paths[0], paths[3], paths[1]], audio: Fixture.path("speech.m4a"), output: dir.path("o.mp4"))
            } throws: { error in
                (error as? ClipError)?.segment == 1
            }
        }

        @Test func reencodingOnRequestSaysSoInValues() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let result = try Stitcher.stitch(
                plan: Self.plan([(41, 41)]), clips: [Fixture.path("clip-a.mp4")],
                audio: Fixture.path("speech.m4a"), output: dir.path("out.mp4"),
                options: StitchOptions(reencode: true, preset: "ultrafast"))
            #expect(result.videoPath == .reencode)
            #expect(result.reencodeReason == "reencode was requested")
            #expect(try VideoReader(path: dir.path("out.mp4")).countFrames() == 41)
        }

        @Test(arguments: [
            (StitchOptions(crf: 52), "crf", "crf 52 is outside 0…51"),
            (StitchOptions(crf: -1), "crf", "crf -1 is outside 0…51"),
            (StitchOptions(preset: "warp"), "preset", "preset \"warp\" is not an x264 preset"),
            (StitchOptions(audioBitRate: 0), "audioBitRate", "audioBitRate 0 must be positive"),
            (StitchOptions(crossfadeFrames: -3), "crossfadeFrames", "crossfadeFrames -3 is outside 0…50"),
            (StitchOptions(crossfadeFrames: 51), "crossfadeFrames", "crossfadeFrames 51 is outside 0…50"),
            (StitchOptions(transitionFrames: 51), "transitionFrames", "transitionFrames 51 is outside 0…50"),
            (StitchOptions(maxPaddedFrames: -1), "maxPaddedFrames", "maxPaddedFrames -1 must not be negative"),
        ])
        func optionsOutOfRangeAreNamedByProperty(_ options: StitchOptions, _ option: String, _ text: String) throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            #expect(throws: StitchError.self) { try options.validate() }
            #expect {
                try Stitcher.stitch(
                    plan: Self.plan([(41, 41)]), clips: [Fixture.path("clip-a.mp4")],
                    audio: Fixture.path("speech.m4a"), output: dir.path("out.mp4"), options: options)
            } throws: { error in
                guard let e = error as? StitchError, case StitchError.Kind.invalidOption = error else { return false }
                return e.option == option && e.description.hasPrefix(text) && !e.description.contains("--")
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).isEmpty)
            #expect(throws: Never.self) { try StitchOptions().validate() }
        }

        @Test func clipCountMustBeThePlans() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            #expect {
                try Stitcher.stitch(
                    plan: Self.plan([(41, 41), (41, 41)]), clips: [Fixture.path("clip-a.mp4")],
                    audio: Fixture.path("speech.m4a"), output: dir.path("out.mp4"))
            } throws: { error in
                guard let e = error as? StitchError else { return false }
                return e.kind == .clipCountMismatch && e.option == nil
                    && e.description == "the plan has 2 segments but 1 clips were given"
            }
        }

        @Test func unwritableOutputLeavesNothing() throws {
            #expect(throws: MediaError.self) {
                try Stitcher.stitch(
                    plan: Self.plan([(41, 41)]), clips: [Fixture.path("clip-a.mp4")],
                    audio: Fixture.path("speech.m4a"), output: "/nonexistent-dir/out.mp4")
            }
            let dir = try TempDir()
            defer { dir.cleanup() }
            // A bad audio file fails before anything is written.
            #expect(throws: MediaError.self) {
                try Stitcher.stitch(
                    plan: Self.plan([(41, 41)]), clips: [Fixture.path("clip-a.mp4")],
                    audio: Fixture.path("not-audio.mp3"), output: dir.path("out.mp4"))
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).isEmpty)
        }

        @Test func stitchCommandEndToEnd() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            // The real plan of speech.mp3 in 41-frame requests (202 frames: 4 whole, 1 trimmed).
            let plan = try SegmentPlanner.plan(
                AudioAnalysis.analyze(path: Fixture.path("speech.mp3")),
                options: PlanningOptions(maxFrames: 41))
            try plan.jsonData().write(to: dir.url.appendingPathComponent("plan.json"))
            let clips = plan.segments.map { _ in Fixture.path("clip-a.mp4") }
            let out = dir.path("talk.mp4")
            let ok = try runProcess(
                infinistitchBinary,
                [
                    "stitch", "--plan", dir.path("plan.json"), "--audio", Fixture.path("speech.mp3"),
                    "-o", out,
                ] + clips)
            #expect(ok.status == 0, "\(String(decoding: ok.stderr, as: UTF8.self))")
            #expect(String(decoding: ok.stdout, as: UTF8.self).contains("\(plan.totalFrames) frames"))
            #expect(try VideoReader(path: out).countFrames() == plan.totalFrames)

            var oddOne = clips
            oddOne[1] = Fixture.path("clip-odd-size.mp4")
            let bad = try runProcess(
                infinistitchBinary,
                [
                    "stitch", "--plan", dir.path("plan.json"), "--audio", Fixture.path("speech.mp3"),
                    "-o", dir.path("bad.mp4"),
                ] + oddOne)
            // A clip that cannot be used is bad input, like any other file given.
            #expect(bad.status == 2)
            #expect(String(decoding: bad.stderr, as: UTF8.self).contains("segment 1"))
            #expect(!FileManager.default.fileExists(atPath: dir.path("bad.mp4")))

            let count = try runProcess(
                infinistitchBinary,
                [
                    "stitch", "--plan", dir.path("plan.json"), "--audio", Fixture.path("speech.mp3"),
                    "-o", dir.path("bad.mp4"), Fixture.path("clip-a.mp4"),
                ])
            #expect(count.status == 2)

            // Audio that is not the plan's (another file, twice as long) is refused in one line.
            let other = try runProcess(
                infinistitchBinary,
                [
                    "stitch", "--plan", dir.path("plan.json"), "--audio",
                    Fixture.path("speech-long.mp3"), "-o", dir.path("bad.mp4"),
                ] + clips)
            #expect(other.status == 2)
            let stderr = String(decoding: other.stderr, as: UTF8.self)
            #expect(
                stderr.contains("the plan was made for \(String(format: "%.2f", plan.audio.duration)) s of audio"), "\(stderr)")
            #expect(stderr.split(separator: "\n").count == 1)
            #expect(!FileManager.default.fileExists(atPath: dir.path("bad.mp4")))
        }

        /// Ctrl-C or SIGTERM during `stitch`: exit 130 with one line, nothing at the output and
        /// no temporary file beside it (the partial video, the encoded audio).
        @Test(arguments: [SIGINT, SIGTERM])
        func anInterruptedStitchLeavesNothingBehind(_ signal: Int32) throws {
            guard let ffmpeg = ffmpegTool else { return }
            let dir = try TempDir()
            defer { dir.cleanup() }
            // Clips long enough to be still stitching when the signal comes: the 70 s fixture in
            // three segments.
            let audio = Fixture.path("speech-long.mp3")
            let analysis = try AudioAnalysis.analyze(path: audio)
            let rate = analysis.format.sampleRate
            let total = (analysis.samples * 25 + rate - 1) / rate
            let sizes = [total / 3, total / 3, total - 2 * (total / 3)]
            let requested = sizes.map { ($0 + 2) / 4 * 4 + 1 }
            var clips: [String] = []
            for (i, frames) in requested.enumerated() {
                let clip = dir.path("clip\(i).mp4")
                let made = try runProcess(
                    ffmpeg,
                    [
                        "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=448x448:rate=25", "-frames:v", "\(frames)",
                        "-c:v",
                        "libx264", "-preset", "ultrafast", clip,
                    ])
                #expect(made.status == 0)
                clips.append(clip)
            }
            let plan = dir.path("plan.json")
            try Self.plan(Array(zip(sizes, requested)), audio: "speech-long.mp3").jsonData()
                .write(to: URL(fileURLWithPath: plan))
            let process = Process()
            process.executableURL = URL(fileURLWithPath: infinistitchBinary)
            process.arguments =
                [
                    "stitch", "--plan", plan, "--audio", audio, "--transition", "morph", "--preset",
                    "medium", "-o",
                    dir.path("out.mp4"),
                ] + clips
            let err = Pipe()
            process.standardError = err
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            // Once the partial output is there, the stitch is under way.
            let started = ContinuousClock.now
            func leftovers() -> [String] {
                ((try? FileManager.default.contentsOfDirectory(atPath: dir.path(""))) ?? []).filter { $0.hasPrefix(".out.mp4") }
            }
            while process.isRunning && leftovers().isEmpty && ContinuousClock.now - started < .seconds(60) {
                Thread.sleep(forTimeInterval: 0.02)
            }
            #expect(process.isRunning, "the stitch ended before it could be interrupted")
            kill(process.processIdentifier, signal)
            let stopped = ContinuousClock.now
            while process.isRunning && ContinuousClock.now - stopped < .seconds(60) { Thread.sleep(forTimeInterval: 0.02) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            let said = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(process.terminationStatus == 130, "\(said)")
            #expect(said.contains("interrupted: nothing was written"), "\(said)")
            #expect(!FileManager.default.fileExists(atPath: dir.path("out.mp4")))
            #expect(leftovers().isEmpty, "left behind: \(leftovers())")
        }
    }
}
