import ArgumentParser
import Foundation
import Testing

@testable import InfiniPipeline
@testable import InfiniStitchCLI

/// Colour that changes for a while and comes back (a hand, a head turn, a bright object passing)
/// is content, not drift.
@Suite("Colour match: motion is not drift", .ownThreads)
struct ColorMatchMotionPlanTests {
    /// A clip whose mean colour moves by ΔE ≈ 6 for 40 frames in its middle, rising and falling
    /// over 10 frames each way, is left as it is; the same rise kept to the clip's end is drift.
    @Test func aChangeThatGoesAwayIsNotCorrected() throws {
        let base = LabStats(mean: [60, 12, 18], covariance: [120, 5, 3, 5, 40, 4, 3, 4, 50])
        func clip(returns: Bool) -> [LabStats] {
            (0..<150).map { t in
                let up = min(1, max(0, Double(t - 50) / 10)), down = returns ? min(1, max(0, Double(t - 90) / 10)) : 0
                var s = base
                s.mean[0] += 6 * (up - down)
                return s
            }
        }
        let passing = try ColorMatchPlan(frames: clip(returns: true), reference: base)
        #expect(!passing.report.corrected && passing.maps.allSatisfy { $0 == nil }, "\(passing.report)")
        #expect(passing.report.largestDrift < 0.5, "\(passing.report)")
        let staying = try ColorMatchPlan(frames: clip(returns: false), reference: base)
        #expect(staying.report.corrected && staying.report.largestDrift > 3, "\(staying.report)")
    }
}

extension Serial {
    @Suite("Colour match in the pipeline and the commands", .timeLimit(.minutes(6)))
    struct ColorMatchPipelineTests {
        /// A preview run of `audio` (a fixture) on the portrait, working in `dir`.
        static func options(_ dir: TempDir, audio: String = "speech.mp3") -> PipelineOptions {
            var o = PipelineOptions(audio: Fixture.path(audio), image: Fixture.path("portrait.jpg"))
            o.workDir = dir.path("work")
            o.backend = .preview
            o.environment = ["XDG_CACHE_HOME": dir.path("cache"), "HOME": dir.url.path]
            o.concurrency = 2
            o.stitch.preset = "ultrafast"
            return o
        }

        /// The main command's default: each preview clip is measured over the face its portrait's
        /// fit found and, since it does not drift, left as it was (ΔE ≤ 0.5 and PSNR ≥ 45 dB on
        /// every frame against the same run with the colour match off); a resumed run makes the
        /// same video.
        @Test func previewRunsAreMatchedAndLeftAsTheyWere() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            var o = Self.options(dir)
            #expect(o.colorMatch == .portrait)
            o.output = dir.path("matched.mp4")
            let matched = try await Pipeline(options: o).run()
            let reports = try #require(matched.colorMatch)
            if ProcessInfo.processInfo.environment["COLOR_FIGURES"] == "1" { print("preview colour match: \(reports)") }
            #expect(reports.map(\.segment) == Array(0..<matched.segments))
            for report in reports {
                #expect(!report.corrected && report.largestDrift < 1, "\(report)")
                #expect((report.referenceDifference ?? 99) < 3, "measured against its own portrait: \(report)")
            }
            #expect(matched.videoPath == "reencode")
            let portraits = try FileManager.default.contentsOfDirectory(atPath: dir.path("work/portraits"))
            #expect(portraits.count == 1 && portraits[0].hasSuffix(".png"))

            o.colorMatch = .off
            o.output = dir.path("plain.mp4")
            let plain = try await Pipeline(options: o).run()
            #expect(plain.colorMatch == nil && plain.reusedSegments == plain.segments)
            let a = try DriftClips.pixels(dir.path("matched.mp4")), b = try DriftClips.pixels(dir.path("plain.mp4"))
            #expect(a.count == matched.frames && b.count == a.count)
            let sa = try DriftClips.stats(dir.path("matched.mp4")), sb = try DriftClips.stats(dir.path("plain.mp4"))
            for k in a.indices {
                #expect(psnr(a[k], b[k]) >= 45, "frame \(k)")
                #expect(LabColor.deltaE2000(sa[k].mean, sb[k].mean) <= 0.5, "frame \(k)")
            }

            o.colorMatch = .portrait
            o.output = dir.path("again.mp4")
            let again = try await Pipeline(options: o).run()
            #expect(again.reusedSegments == again.segments && again.colorMatch == matched.colorMatch)
            #expect(try DriftClips.pixels(dir.path("again.mp4")) == a)
        }

        /// In a two-speaker run each clip is matched against its own speaker's fitted portrait: the
        /// two portraits differ by far more than the tolerance, yet every clip starts close to
        /// its reference.
        @Test func eachSpeakerIsMatchedAgainstTheirOwnPortrait() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let speakers = [
                Plan.Speaker(name: "A", image: Fixture.path("portrait.jpg")),
                Plan.Speaker(name: "B", image: Fixture.path("portrait-gray.png")),
            ]
            var o = PipelineOptions(
                audio: Fixture.path("conversation-mix.opus"), speakers: speakers,
                source: .diarization(path: Fixture.path("conversation.rttm")))
            o.output = dir.path("out.mp4")
            o.workDir = dir.path("work")
            o.backend = .preview
            o.environment = ["XDG_CACHE_HOME": dir.path("cache"), "HOME": dir.url.path]
            o.stitch.preset = "ultrafast"
            let (summary, events) = try await runCollectingEvents(Pipeline(options: o))
            guard case .plan(let plan)? = events.first(where: { if case .plan = $0 { return true } else { return false } })
            else {
                Issue.record("no plan event")
                return
            }
            #expect(Set(plan.segments.compactMap(\.speaker)) == ["A", "B"])
            let reports = try #require(summary.colorMatch)
            if ProcessInfo.processInfo.environment["COLOR_FIGURES"] == "1" { print("two-speaker colour match: \(reports)") }
            #expect(reports.count == plan.segments.count)
            for report in reports {
                #expect(
                    (report.referenceDifference ?? 99) < ColorMatchPlan.referenceTolerance, "segment \(report.segment): \(report)"
                )
                #expect(!report.corrected, "\(report)")
            }
            let fitter = ImageFitter(resolution: .p480)
            let a = try fitter.fit(path: speakers[0].image).pixels, b = try fitter.fit(path: speakers[1].image).pixels
            let apart = LabColor.deltaE2000(
                try DriftClips.stats(of: a).mean, try DriftClips.stats(of: b).mean)
            #expect(apart > ColorMatchPlan.referenceTolerance, "the portraits differ by ΔE \(apart) only")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path("work/portraits")).count == 2)
        }

        /// Writes a clip of `count` frames of `image` standing still, frame k drawn on by `draw`.
        static func writeStill(
            _ path: String, count: Int, image: PixelBuffer, draw: (Int, inout PixelBuffer) -> Void
        ) throws {
            let writer = try MP4Writer(
                path: path,
                video: VideoEncoderSettings(
                    width: image.width, height: image.height, frameRate: 25, crf: 14, preset: "ultrafast"),
                audio: nil)
            for k in 0..<count {
                var picture = image
                draw(k, &picture)
                try writer.append(video: VideoFrame(width: picture.width, height: picture.height, rgb24: picture.bytes))
            }
            try writer.finish()
        }

        @Test func theMainCommandTakesColorMatch() throws {
            let on = try RunCommand.parse(["talk.mp3", "--image", "me.jpg"])
            #expect(try on.makeOptions().colorMatch == .portrait)
            let off = try RunCommand.parse(["talk.mp3", "--image", "me.jpg", "--color-match", "off"])
            #expect(try off.makeOptions().colorMatch == .off)
            #expect(throws: (any Error).self) {
                try RunCommand.parse(["talk.mp3", "--image", "me.jpg", "--color-match", "lab"])
            }
        }

        /// `stitch --color-match portrait` takes the portraits a multi-speaker plan names (no
        /// `--reference`), and `--json` gives each clip's largest drift and correction; a
        /// single-speaker plan without `--reference` is refused before anything is written.
        @Test func theStitchCommandReadsThePlansPortraitsAndPrintsJSON() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let (clips, _) = try ColorMatchStitchTests.driftingClips(dir, segments: 2, frames: 101)
            var plan = try ColorMatchStitchTests.plan(segments: 2, frames: 101)
            let single = dir.path("single.json")
            try plan.jsonData().write(to: URL(fileURLWithPath: single))
            // The portrait named as `plan --speaker` was given it, relative to the plan's folder
            // (the command runs from another one).
            try FileManager.default.createDirectory(atPath: dir.path("faces"), withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: dir.path("elsewhere"), withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: Fixture.path("portrait.jpg"), toPath: dir.path("faces/a.jpg"))
            plan.speakers = [Plan.Speaker(name: "A", image: "faces/a.jpg")]
            for i in plan.segments.indices { plan.segments[i].speaker = "A" }
            let named = dir.path("named.json")
            try plan.jsonData().write(to: URL(fileURLWithPath: named))
            plan.speakers = [Plan.Speaker(name: "A", image: "faces/nobody.jpg")]
            let missing = dir.path("missing.json")
            try plan.jsonData().write(to: URL(fileURLWithPath: missing))

            let common = ["--audio", Fixture.path("speech.m4a"), "--preset", "ultrafast", "--color-match", "portrait"]
            let refused = try runProcess(
                infinistitchBinary, ["stitch", "--plan", single, "-o", dir.path("no.mp4")] + common + clips)
            let message = String(decoding: refused.stderr, as: UTF8.self)
            #expect(refused.status != 0 && message.contains("--reference"), "\(message)")
            #expect(!FileManager.default.fileExists(atPath: dir.path("no.mp4")))

            let absent = try runProcess(
                infinistitchBinary, ["stitch", "--plan", missing, "-o", dir.path("no.mp4")] + common + clips,
                currentDirectory: dir.path("elsewhere"))
            let said = String(decoding: absent.stderr, as: UTF8.self)
            #expect(absent.status != 0 && said.contains("missing.json") && said.contains("speaker A"), "\(said)")
            #expect(!FileManager.default.fileExists(atPath: dir.path("no.mp4")))

            let run = try runProcess(
                infinistitchBinary, ["stitch", "--plan", named, "-o", dir.path("out.mp4"), "--json"] + common + clips,
                currentDirectory: dir.path("elsewhere"))
            #expect(run.status == 0, "\(String(decoding: run.stderr, as: UTF8.self))")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout)) as? [String: Any])
            #expect(object["videoPath"] as? String == "reencode" && object["totalFrames"] as? Int == 202)
            let reports = try #require(object["colorMatch"] as? [[String: Any]])
            #expect(reports.map { $0["segment"] as? Int } == [0, 1])
            for report in reports {
                let drift = try #require(report["largestDrift"] as? Double)
                let correction = try #require(report["largestCorrection"] as? Double)
                #expect(drift > 7 && correction > 5, "\(report)")
                #expect((report["correctedFrames"] as? Int ?? 0) > 0, "\(report)")
            }
        }

        /// A bright square sliding across the face (in over 8 frames, across for 1.6 s, out
        /// again) moves the measured mean colour by far more than the threshold, yet the clip
        /// is left exactly as it is: it does not last, so it is not drift.
        @Test func aSquareSlidingAcrossTheFaceIsNotDrift() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let image = try DriftClips.portrait()
            let frames = 101, side = image.width / 4
            let face = ColorRegion(x: 0.2, y: 0.1, width: 0.6, height: 0.6)
            let clip = dir.path("square.mp4")
            try Self.writeStill(clip, count: frames, image: image) { k, picture in
                // Frames 20…80: from just off the left edge to just off the right.
                guard (20...80).contains(k) else { return }
                let x0 = -side + (image.width + side) * (k - 20) / 60, y0 = image.height / 4
                for y in y0..<(y0 + side) {
                    for x in max(0, x0)..<min(image.width, x0 + side) {
                        let i = (y * image.width + x) * 3
                        picture.bytes[i] = 250
                        picture.bytes[i + 1] = 250
                        picture.bytes[i + 2] = 240
                    }
                }
            }
            // What the square does to the measured colour: far beyond the threshold.
            let reader = try VideoReader(demuxer: Demuxer(path: clip), pixelFormat: .yuv420p, threads: 1)
            let frame = try Frame()
            var measured: [LabStats] = []
            while try reader.nextDecodedFrame(into: frame) {
                measured.append(try LabColor.stats(of: frame, region: face))
                frame.unref()
            }
            let smoothed = ColorMatchPlan.smoothed(measured)
            let moved = smoothed.map { LabColor.deltaE2000($0.mean, smoothed[0].mean) }.max() ?? 0
            #expect(moved > 3, "the square moves the smoothed mean by ΔE \(moved) only")

            let plan = try StitchTests.plan([(frames, frames)])
            let result = try ColorMatchStitchTests.stitch([clip], plan: plan, dir.path("matched.mp4"), region: face)
            if ProcessInfo.processInfo.environment["COLOR_FIGURES"] == "1" {
                print("square colour match: \(result.colorMatch), measured moved \(moved)")
            }
            #expect(result.colorMatch.count == 1 && !(result.colorMatch.first?.corrected ?? true), "\(result.colorMatch)")
            _ = try ColorMatchStitchTests.stitch([clip], plan: plan, dir.path("plain.mp4"), match: false)
            #expect(try DriftClips.pixels(dir.path("matched.mp4")) == DriftClips.pixels(dir.path("plain.mp4")))
        }
    }
}
