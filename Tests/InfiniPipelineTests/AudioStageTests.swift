import Foundation
import Testing

@testable import InfiniPipeline
@testable import InfiniStitchCLI

extension Serial {
    @Suite("Audio stage: analysis, fixture plans, segment audio")
    struct AudioStageTests {
        static let goldenDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

        @Test func analysisIsExactAndKeepsOnlyTheEnvelope() throws {
            let a = try AudioAnalysis.analyze(path: Fixture.path("speech.mp3"))
            #expect(a.samples == 354_720)
            #expect(a.format == AudioFormat(sampleRate: 44100, channels: 2))
            #expect(abs(a.envelope.duration - a.duration) < 0.011)
            // One value per ~10 ms hop, not the samples.
            #expect(a.envelope.meanSquares.count < 900)
        }

        /// Committed golden plans for the fixture speech. Set UPDATE_GOLDENS=1 to rewrite them after
        /// a deliberate planner change (and review the diff).
        @Test(arguments: ["speech.mp3", "speech-long.mp3", "speech.flac", "short.wav", "silence-1s.wav", "talk-video.mp4"])
        func fixturePlansMatchGoldens(_ name: String) throws {
            let plan = try SegmentPlanner.plan(audioFile: Fixture.path(name))
            let golden = Self.goldenDirectory.appendingPathComponent("plan-\(name).json")
            let json = try plan.jsonData()
            if ProcessInfo.processInfo.environment["UPDATE_GOLDENS"] == "1" {
                try json.write(to: golden)
            }
            let expected = try Plan.from(json: Data(contentsOf: golden))
            #expect(plan == expected)
            #expect(plan.segments.reduce(0) { $0 + $1.frameCount } == plan.totalFrames)
        }

        /// speech-long.mp3 has a pause at least every 6 s (inserted gaps plus espeak's own between
        /// phrases). Every cut must fall inside a pause, checked here independently of the planner:
        /// some 200 ms window around the cut has every 10 ms RMS at least 30 dB below the speech.
        @Test func cutsFallInsidePauses() throws {
            let samples = try AudioReader(path: Fixture.path("speech-long.mp3")).readAll()
            let rate = 22050, hop = rate / 100
            let rms: [Double] = stride(from: 0, to: samples.count - hop, by: hop).map { start in
                var sum = 0.0
                for i in start..<(start + hop) { sum += Double(samples[i]) * Double(samples[i]) }
                return 10 * log10(max(sum / Double(hop), 1e-12))
            }
            let speech = rms.filter { $0 > -60 }.sorted()[rms.filter { $0 > -60 }.count / 2]
            let quiet = max(speech - 30, -50)
            func inPause(_ t: Double) -> Bool {
                let center = Int(t * 100)
                for first in (center - 20)...center where first >= 0 && first + 20 <= rms.count {
                    if rms[first..<(first + 20)].allSatisfy({ $0 < quiet }) { return true }
                }
                return false
            }
            for maxFrames in [721, 401, 321] {
                let plan = try SegmentPlanner.plan(
                    audioFile: Fixture.path("speech-long.mp3"), options: PlanningOptions(maxFrames: maxFrames))
                #expect(plan.segments.count >= 3)
                for segment in plan.segments.dropFirst() {
                    let t = Double(segment.startFrame) / 25
                    #expect(inPause(t), "max \(maxFrames): cut at \(t) s is not in a pause")
                    #expect((segment.cutLoudnessDb ?? 0) < quiet)
                }
            }
            // And the pauses the fixture script inserted are where the longest plan cuts.
            struct Pause: Decodable { var start: Double; var end: Double }
            let inserted = try JSONDecoder().decode(
                [Pause].self, from: Data(contentsOf: Fixture.directory.appendingPathComponent("speech-long.pauses.json")))
            let plan = try SegmentPlanner.plan(audioFile: Fixture.path("speech-long.mp3"))
            for segment in plan.segments.dropFirst() {
                let t = Double(segment.startFrame) / 25
                #expect(inserted.contains { t >= $0.start && t <= $0.end })
            }
        }

        @Test func segmentAudioStartsAtItsFrameAndCarriesTheTail() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let source = Fixture.path("speech.wav")
            let plan = try SegmentPlanner.plan(audioFile: source)
            let files = try SegmentAudio.export(source: source, plan: plan, to: dir.url)
            #expect(files.count == plan.segments.count)
            let original = try AudioReader(path: source).readAll()
            for segment in plan.segments {
                let url = try #require(files[segment.index])
                let reader = try AudioReader(path: url.path)
                #expect(reader.outputFormat == AudioFormat(sampleRate: 22050, channels: 1))
                let samples = try reader.readAll()
                let range = SegmentAudio.sampleRange(
                    startFrame: segment.startFrame, numFrames: segment.numFrames, sampleRate: 22050)
                #expect(range.lowerBound == segment.startFrame * 882)
                #expect(samples.count == range.count)
                #expect(Double(samples.count) / 22050 >= Double(segment.numFrames) / 25 + 0.2)
                for (i, s) in samples.enumerated() {
                    let j = range.lowerBound + i
                    let expected: Float = j < original.count ? original[j] : 0
                    if s != expected {
                        Issue.record("segment \(segment.index) sample \(i): \(s) != \(expected)")
                        break
                    }
                }
            }
            // No partial files left behind.
            let names = try FileManager.default.contentsOfDirectory(atPath: dir.url.path)
            #expect(names.allSatisfy { $0.hasSuffix(".wav") && !$0.hasPrefix(".") })
        }

        /// The audio stage knows cuts, not plans: cuts in any order give the files a plan's
        /// export gives, a cut past the end is padded with silence, and bad cut lists are refused.
        @Test func plainCutsExportLikeThePlan() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let source = Fixture.path("speech.wav")
            let plan = try SegmentPlanner.plan(audioFile: source, options: PlanningOptions(maxFrames: 41))
            #expect(plan.segments.count >= 3)
            let fromPlan = try SegmentAudio.export(
                source: source, plan: plan, segments: [2, 0], to: dir.url.appendingPathComponent("plan"))
            #expect(Set(fromPlan.keys) == [0, 2])
            #expect(plan.audioCuts(segments: [2, 0]).map(\.index) == [0, 2])
            let format = AudioFormat(sampleRate: plan.audio.sampleRate, channels: plan.audio.channels)
            let last = plan.segments[plan.segments.count - 1]
            let cuts = [
                SegmentAudio.Cut(index: 2, startFrame: plan.segments[2].startFrame, numFrames: plan.segments[2].numFrames),
                SegmentAudio.Cut(index: 0, startFrame: 0, numFrames: plan.segments[0].numFrames),
                SegmentAudio.Cut(index: 9, startFrame: last.startFrame, numFrames: 201),
            ]
            let fromCuts = try SegmentAudio.export(
                source: source, format: format, samples: plan.audio.samples, cuts: cuts,
                to: dir.url.appendingPathComponent("cuts"))
            for index in [0, 2] {
                let a = try Data(contentsOf: try #require(fromPlan[index])),
                    b = try Data(contentsOf: try #require(fromCuts[index]))
                #expect(a == b, "segment \(index)")
            }
            let padded = try AudioReader(path: try #require(fromCuts[9]).path).readAll()
            #expect(
                padded.count
                    == SegmentAudio.sampleRange(startFrame: last.startFrame, numFrames: 201, sampleRate: format.sampleRate).count)
            #expect(padded.suffix(1000).allSatisfy { $0 == 0 })

            for bad in [
                [cuts[0], cuts[0]], [SegmentAudio.Cut(index: 1, startFrame: -1, numFrames: 41)],
                [SegmentAudio.Cut(index: 1, startFrame: 0, numFrames: 0)],
            ] {
                #expect {
                    try SegmentAudio.export(source: source, format: format, samples: plan.audio.samples, cuts: bad, to: dir.url)
                } throws: { ($0 as? MediaError)?.kind == .misuse }
            }
            // A format the file does not decode to is refused before anything is written.
            let other = dir.url.appendingPathComponent("other")
            #expect(throws: MediaError.self) {
                try SegmentAudio.export(
                    source: source, format: AudioFormat(sampleRate: 44100, channels: 1),
                    samples: plan.audio.samples, cuts: cuts, to: other)
            }
            #expect(!FileManager.default.fileExists(atPath: other.path))
        }

        @Test func exportRefusesAFileThatNoLongerMatchesThePlan() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            var plan = try SegmentPlanner.plan(audioFile: Fixture.path("speech.wav"))
            plan.audio.samples += 1
            #expect(throws: MediaError.self) {
                try SegmentAudio.export(source: Fixture.path("speech.wav"), plan: plan, to: dir.url)
            }
        }

        @Test(.timeLimit(.minutes(1))) func planCommandPrintsJSONWithTheContractKeys() throws {
            let result = try runProcess(infinistitchBinary, ["plan", Fixture.path("speech-long.mp3"), "--json"])
            #expect(result.status == 0)
            let object = try JSONSerialization.jsonObject(with: result.stdout) as! [String: Any]
            for key in ["fps", "totalFrames", "audio", "segments", "paidFrames", "estimatedCost"] {
                #expect(object[key] != nil, "\(key)")
            }
            let audio = object["audio"] as! [String: Any]
            for key in ["sampleRate", "channels", "samples", "duration"] { #expect(audio[key] != nil, "\(key)") }
            let segments = object["segments"] as! [[String: Any]]
            for key in ["index", "startFrame", "frameCount", "numFrames", "startTime", "endTime", "cutLoudnessDb"] {
                #expect(segments.allSatisfy { $0.keys.contains(key) }, "\(key)")
            }
            #expect(segments[0]["cutLoudnessDb"] is NSNull)
        }

        @Test(.timeLimit(.minutes(1))) func planCommandTableAndPrice() throws {
            let result = try runProcess(infinistitchBinary, ["plan", Fixture.path("speech.mp3"), "--resolution", "720p"])
            #expect(result.status == 0)
            let text = String(decoding: result.stdout, as: UTF8.self)
            // 202 frames = 8.08 s at $0.40/s.
            #expect(text.contains("$3.23"))
            let custom = try runProcess(infinistitchBinary, ["plan", Fixture.path("speech.mp3"), "--price-per-second", "1"])
            #expect(String(decoding: custom.stdout, as: UTF8.self).contains("$8.08"))
        }

        @Test(
            .timeLimit(.minutes(1)),
            arguments: [
                (["plan", "Fixtures/not-audio.mp3"], "not-audio.mp3"),
                (["plan", "Fixtures/empty.mp3"], "empty.mp3"),
                (["plan", "Fixtures/zero-length.wav"], "zero-length.wav"),
                (["plan", "Fixtures/clip-c.mp4"], "no audio stream"),
                (["plan", "Fixtures/missing.mp3"], "missing.mp3"),
                (["plan", "Fixtures/speech.mp3", "--max-frames", "40"], "--max-frames 40"),
            ])
        func planCommandBadInput(_ arguments: [String], _ mention: String) throws {
            let root = Fixture.directory.deletingLastPathComponent().path
            let result = try runProcess(infinistitchBinary, arguments, currentDirectory: root)
            #expect(result.status == 2)
            let err = String(decoding: result.stderr, as: UTF8.self)
            #expect(err.contains(mention), "\(err)")
            #expect(result.stdout.isEmpty)
        }
    }
}
