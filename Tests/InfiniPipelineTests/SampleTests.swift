import FakeFal
import FakeWaveSpeed
import Foundation
import Testing

@testable import InfiniPipeline
@testable import InfiniStitchCLI

extension Serial {
    /// `--sample`: the whole job is planned, only the requests covering the sample are sent,
    /// the sample is stitched beside the output with the whole job's seams, and the whole job
    /// later reuses its clips (no request is sent twice).
    @Suite("Sampling first", .timeLimit(.minutes(5)))
    struct SampleTests {
        static let key = "fake-key-id-0123456789:fake-key-secret-abcdefghijklmnop"

        /// A run of speech.mp3 (202 frames) in requests of at most 61 frames on the fake fal server.
        static func options(_ dir: TempDir, server: URL) throws -> PipelineOptions {
            var o = PipelineOptions(audio: Fixture.path("speech.mp3"), image: Fixture.path("portrait.jpg"))
            o.output = dir.path("out.mp4")
            o.workDir = dir.path("work")
            o.environment = ["XDG_CACHE_HOME": dir.path("cache"), "HOME": dir.url.path]
            o.backend = .fal
            o.queueURL = server.absoluteString
            o.restURL = server.absoluteString
            o.credentials = try FalCredentials(key: key)
            o.maxFrames = 61
            o.concurrency = 2
            return o
        }

        static func plan(in events: [PipelineEvent]) throws -> Plan {
            try #require(
                events.lazy.compactMap { event -> Plan? in if case .plan(let p) = event { return p } else { return nil } }.first)
        }

        /// Each frame's mean colour in the picture part (below the fake clips' barcode rows), and
        /// the barcode rows' mean level.
        static func means(_ path: String) throws -> [[Double]] {
            let reader = try VideoReader(path: path)
            var all: [[Double]] = []
            while let frame = try reader.nextFrame() {
                let rgb = frame.planes[0], w = frame.width
                var sums = [0.0, 0.0, 0.0, 0.0]
                for y in 0..<frame.height {
                    for x in 0..<w {
                        let p = (y * w + x) * 3
                        if y < 32 {
                            sums[3] += Double(rgb[p + 1])
                        } else {
                            for c in 0..<3 { sums[c] += Double(rgb[p + c]) }
                        }
                    }
                }
                let below = Double((frame.height - 32) * w), above = Double(32 * w)
                all.append([sums[0] / below, sums[1] / below, sums[2] / below, sums[3] / above])
            }
            return all
        }

        @Test func aSampleThenTheWholeJobSendsNoRequestTwice() async throws {
            let server = FakeFalServer()
            let url = try await server.start()
            let dir = try TempDir()
            defer { dir.cleanup() }
            defer { Task { await server.stop() } }
            var o = try Self.options(dir, server: url)
            o.sample = SampleSpan(seconds: 3, at: 2.5)

            // A dry run prices the sample and sends nothing.
            var dry = o
            dry.dryRun = true
            let (drySummary, dryEvents) = try await runCollectingEvents(Pipeline(options: dry))
            let plan = try Self.plan(in: dryEvents)
            let sample = try #require(drySummary.sample)
            #expect(dryEvents.contains(.sample(sample)))
            #expect(sample == (try plan.sample(SampleSpan(seconds: 3, at: 2.5))))
            #expect(
                sample.segments.count >= 2 && sample.segments.count < plan.segments.count, "\(sample) of \(plan.segments.count)")
            #expect(sample.segments.first! > 0, "the sample starts inside the job")
            #expect(drySummary.estimatedCost == sample.estimatedCost && sample.estimatedCost < plan.estimatedCost)
            #expect(server.requests.isEmpty)

            // The cap limits the sample's requests: the sample's price is enough.
            o.maxCost = sample.estimatedCost
            let (summary, events) = try await runCollectingEvents(Pipeline(options: o))
            #expect(server.requests(to: .submit).count == sample.segments.count)
            #expect(summary.output == dir.path("out.sample.mp4") && summary.sample == sample)
            #expect(!FileManager.default.fileExists(atPath: dir.path("out.mp4")))
            #expect(abs(summary.cost - sample.estimatedCost) < 1e-6)
            #expect(try VideoReader(path: dir.path("out.sample.mp4")).countFrames() == sample.frameCount)
            let sampleAudio = try AudioAnalysis.analyze(path: dir.path("out.sample.mp4")).duration
            #expect(abs(sampleAudio - Double(sample.frameCount) / 25) < 0.05, "audio \(sampleAudio) s")
            // Progress counts the sample's segments.
            let last = try #require(
                events.lazy.compactMap { e -> RunProgress? in
                    if case .segment(let s) = e { return s.progress } else { return nil }
                }
                .last)
            #expect(last.segmentsTotal == sample.segments.count && last.framesTotal == sample.frameCount)

            // The status: the sample's segments done and paid for, the rest left; the command it
            // gives resumes the whole job.
            let status = try JobStatus.read(workDir: URL(fileURLWithPath: dir.path("work")))
            #expect(status.segmentsDone == sample.segments.count && status.segmentsInFlight == 0)
            #expect(status.segmentsLeft == plan.segments.count - sample.segments.count)
            #expect(abs(status.committedCost - sample.estimatedCost) < 1e-6)
            let resume = StatusCommand.resumeCommand(status)
            #expect(!resume.contains("--sample") && resume.contains(dir.path("out.mp4")), "\(resume)")

            // The whole job under the sample's cap is refused before anything is sent.
            await #expect {
                try await Pipeline(
                    options: {
                        var w = o; w.sample = nil; return w
                    }()
                ).run()
            } throws: { ($0 as? PipelineError)?.kind == .overBudget }
            #expect(server.requests(to: .submit).count == sample.segments.count)

            // The whole job sends only the other segments' requests.
            var whole = o
            whole.sample = nil
            whole.maxCost = plan.estimatedCost
            let full = try await Pipeline(options: whole).run()
            #expect(server.requests(to: .submit).count == plan.segments.count)
            #expect(Set(server.requestIDs).count == plan.segments.count)
            #expect(full.reusedSegments == sample.segments.count)
            #expect(abs(full.cost + summary.cost - plan.estimatedCost) < 1e-6)
            #expect(try VideoReader(path: dir.path("out.mp4")).countFrames() == plan.totalFrames)
            let wholeAudio = try AudioAnalysis.analyze(path: dir.path("out.mp4")).duration
            #expect(abs(wholeAudio - plan.audio.duration) < 0.05)

            // The sample's frames are the whole job's over the same stretch, morphed seams inside
            // it included (the outer seams, which the sample does not have, are left out).
            let sampled = try Self.means(dir.path("out.sample.mp4"))
            let all = try Self.means(dir.path("out.mp4"))
            let edge = o.stitch.transitionFrames
            var worst = 0.0
            for k in edge..<(sampled.count - edge) {
                for c in 0..<4 { worst = max(worst, abs(sampled[k][c] - all[sample.startFrame + k][c])) }
            }
            #expect(worst < 4, "a sample frame differs from the whole job's by \(worst) levels")
            let seamAt = plan.segments[sample.segments[1]].startFrame - sample.startFrame
            // The seam inside the sample is morphed (frames between the two clips' colours), as in the whole job.
            let (before, after) = (sampled[seamAt - edge - 1][0], sampled[seamAt + edge][0])
            let blended = ((seamAt - edge)..<(seamAt + edge)).filter { k in
                abs(sampled[k][0] - before) > 5 && abs(sampled[k][0] - after) > 5
            }
            #expect(blended.count >= 3, "the seam at sample frame \(seamAt) is not morphed: \(blended)")
            // And they are not the same as a different stretch's (the comparison can fail).
            var shifted = 0.0
            for k in edge..<(sampled.count - edge) {
                let red: Double = abs(sampled[k][0] - all[k][0])
                let code: Double = abs(sampled[k][3] - all[k][3])
                shifted = max(shifted, red + code)
            }
            #expect(shifted > 4)
        }

        @Test func aSampleOutsideTheAudioOrOfNoLengthIsRefusedBeforeAnyRequest() async throws {
            let server = FakeFalServer()
            let url = try await server.start()
            let dir = try TempDir()
            defer { dir.cleanup() }
            defer { Task { await server.stop() } }
            for (span, option) in [
                (SampleSpan(seconds: 0), "sample"), (SampleSpan(seconds: -3), "sample"),
                (SampleSpan(seconds: 10, at: 9), "sampleAt"), (SampleSpan(seconds: 10, at: 8.08), "sampleAt"),
                (SampleSpan(at: -1), "sampleAt"),
            ] {
                var o = try Self.options(dir, server: url)
                o.sample = span
                await #expect {
                    try await Pipeline(options: o).run()
                } throws: { error in
                    guard let error = error as? PipelineError else { return false }
                    return error.kind == .invalidOption && error.option == option && !error.description.contains("\n")
                }
            }
            // A sample reaching past the end stops there.
            var o = try Self.options(dir, server: url)
            o.dryRun = true
            o.sample = SampleSpan(seconds: 60, at: 7)
            let tail = try #require(try await Pipeline(options: o).run().sample)
            #expect(tail.startFrame + tail.frameCount == 202)

            // The command line says it in one line naming the flag, exit 2.
            let environment = ["FAL_KEY": Self.key, "XDG_CACHE_HOME": dir.path("cache"), "HOME": dir.url.path]
            let base = [
                Fixture.path("speech.mp3"), "--image", Fixture.path("portrait.jpg"), "-o", dir.path("out.mp4"), "--work-dir",
                dir.path("work"), "--queue-url", url.absoluteString, "--rest-url", url.absoluteString,
            ]
            for (extra, flag) in [
                (["--sample-at", "0:09"], "--sample-at"), (["--sample", "0"], "--sample"),
                (["--sample-at", "1:75"], "--sample-at"),
                (["--sample", "--sample-at", "00:00:08.5"], "--sample-at"),
            ] {
                let r = try runProcess(infinistitchBinary, base + extra, environment: environment)
                let err = String(decoding: r.stderr, as: UTF8.self)
                #expect(r.status == 2, "\(extra): \(err)")
                #expect(err.contains(flag) && err.split(separator: "\n").count == 1, "\(extra): \(err)")
            }
            #expect(server.requests.isEmpty)
            for name in ["out.mp4", "out.sample.mp4", "work"] { #expect(!FileManager.default.fileExists(atPath: dir.path(name))) }
        }

        @Test func theFlagsParse() throws {
            #expect(SampleArguments.seconds("12:30") == 750 && SampleArguments.seconds("1:02:10") == 3730)
            #expect(SampleArguments.seconds("45") == 45 && SampleArguments.seconds("1:30.5") == 90.5)
            for bad in ["1:75", "abc", "-5", "", "1::2", "1:2:3:4", "1e3"] {
                #expect(SampleArguments.seconds(bad) == nil, "\(bad)")
            }
            #expect(
                SampleArguments.normalized(["a.mp3", "--sample", "--image", "i.jpg"]) == [
                    "a.mp3", "--sample", "30", "--image", "i.jpg",
                ])
            #expect(SampleArguments.normalized(["a.mp3", "--sample"]) == ["a.mp3", "--sample", "30"])
            #expect(SampleArguments.normalized(["--sample", "a.mp3"]) == ["--sample", "30", "a.mp3"])
            #expect(SampleArguments.normalized(["a.mp3", "--sample", "1:30"]) == ["a.mp3", "--sample", "1:30"])
            #expect(SampleArguments.normalized(["--", "--sample"]) == ["--", "--sample"])
            func options(_ words: [String]) throws -> PipelineOptions {
                try RunCommand.parse(SampleArguments.normalized(["a.mp3", "--image", "i.jpg"] + words)).makeOptions()
            }
            #expect(try options(["--sample"]).sample == SampleSpan(seconds: 30, at: 0))
            #expect(try options(["--sample", "45", "--sample-at", "12:30"]).sample == SampleSpan(seconds: 45, at: 750))
            #expect(try options(["--sample-at", "1:00:00"]).sample == SampleSpan(seconds: 30, at: 3600))
            #expect(try options([]).sample == nil)
            var o = PipelineOptions(audio: "talk.mp3", image: "me.jpg")
            o.output = "/x/talk.mp4"
            #expect(o.resolvedSampleOutput == "/x/talk.sample.mp4")
            o.output = "/x/talk"
            #expect(o.resolvedSampleOutput == "/x/talk.sample.mp4")
        }

        @Test func planShowsWhatASampleCosts() throws {
            let long = Fixture.path("speech-long.mp3")
            let json = try runProcess(infinistitchBinary, ["plan", long, "--json"])
            #expect(json.status == 0, "\(String(decoding: json.stderr, as: UTF8.self))")
            let object = try #require(try JSONSerialization.jsonObject(with: json.stdout) as? [String: Any])
            let plan = try Plan.from(json: json.stdout)
            let sample = try #require(object["sample"] as? [String: Any])
            let expected = try plan.sample(SampleSpan())
            #expect(sample["requests"] as? Int == expected.requests && expected.requests >= 1)
            #expect(sample["segments"] as? [Int] == expected.segments && expected.segments.first == 0)
            #expect(sample["estimatedCost"] as? Double == expected.estimatedCost && expected.estimatedCost > 0)
            #expect(sample["paidSeconds"] as? Double == expected.paidSeconds && sample["provider"] as? String == "fal")

            let text = try runProcess(
                infinistitchBinary, ["plan", long, "--sample", "10", "--sample-at", "0:40", "--provider", "wavespeed"])
            let out = String(decoding: text.stdout, as: UTF8.self)
            let wavespeed = try Plan.from(
                json: try runProcess(infinistitchBinary, ["plan", long, "--json", "--provider", "wavespeed"]).stdout)
            let priced = try wavespeed.sample(SampleSpan(seconds: 10, at: 40))
            #expect(out.contains("to try it first: " + priced.summary), "\(out)")
            #expect(priced.provider == "wavespeed" && priced.segments.first! > 0)

            let bad = try runProcess(infinistitchBinary, ["plan", long, "--sample-at", "5:00"])
            #expect(bad.status == 2 && String(decoding: bad.stderr, as: UTF8.self).contains("--sample-at"))

            // A dry run of a sample prints what the sample would cost.
            let dir = try TempDir()
            defer { dir.cleanup() }
            let dry = try runProcess(
                infinistitchBinary,
                [long, "--image", Fixture.path("portrait.jpg"), "-o", dir.path("talk.mp4"), "--dry-run", "--sample"],
                environment: ["HOME": dir.url.path, "XDG_CACHE_HOME": dir.path("cache")])
            let dryText = String(decoding: dry.stdout, as: UTF8.self)
            #expect(dry.status == 0 && dryText.contains(expected.summary) && dryText.contains("the sample:"), "\(dryText)")
        }

        @Test func aSampleOnWaveSpeedThenTheWholeJob() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let fake = WaveSpeedPipelineTests.server()
            let base = try await fake.start()
            defer { Task { await fake.stop() } }
            var o = WaveSpeedPipelineTests.options(dir, server: base)
            o.useCache = true
            o.sample = SampleSpan(seconds: 10, at: 30)
            let (summary, events) = try await runCollectingEvents(Pipeline(options: o))
            let plan = try Self.plan(in: events)
            let sample = try #require(summary.sample)
            #expect(fake.requests(to: .submit).count == sample.requests && sample.requests < plan.segments.count)
            #expect(try WaveSpeedPipelineTests.frameCount(dir.path("out.sample.mp4")) == sample.frameCount)
            let audio = try AudioAnalysis.analyze(path: dir.path("out.sample.mp4")).duration
            #expect(abs(audio - Double(sample.frameCount) / 25) < 0.05)
            o.sample = nil
            _ = try await Pipeline(options: o).run()
            #expect(fake.requests(to: .submit).count == plan.segments.count)
            #expect(fake.billedSeconds.reduce(0, +) * 25 == plan.paidFrames, "\(fake.billedSeconds)")
            #expect(try WaveSpeedPipelineTests.frameCount(dir.path("out.mp4")) == plan.totalFrames)
        }
    }
}
