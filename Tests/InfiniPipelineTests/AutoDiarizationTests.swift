import FakeFal
import Foundation
import Testing

@testable import InfiniPipeline
@testable import InfiniStitchCLI

/// The conversation fixture's speech as the fake `fal-ai/whisper` hears it: each utterance of
/// conversation.truth.json, with its voice (A or B) and text.
enum ConversationSpeech {
    struct Utterance: Decodable {
        var speaker: String
        var text: String
        var start: Double
        var end: Double
    }

    static func transcript() throws -> FakeTranscript {
        struct Truth: Decodable { var utterances: [Utterance] }
        let truth = try JSONDecoder().decode(
            Truth.self, from: Data(contentsOf: Fixture.directory.appendingPathComponent("conversation.truth.json")))
        return FakeTranscript(
            sentences: truth.utterances.map { .init(start: $0.start, end: $0.end, text: $0.text, speaker: $0.speaker) })
    }

    /// The fake's words as a diarized transcript: voices labelled in the order first heard.
    static func diarized(_ fake: FakeTranscript, labels: [String: String]) -> Transcript {
        Transcript(
            segments: [],
            words: fake.words.map {
                Transcript.Word(word: $0.word, start: $0.start, end: $0.end, speaker: $0.speaker.map { labels[$0]! })
            }
            .sorted { $0.start < $1.start })
    }
}

/// Who speaks when read from a diarized transcript, without any network.
@Suite("Diarized speaker timeline", .ownThreads)
struct DiarizedTimelineTests {
    /// Turns are runs of one voice's words; the first voice heard is the first speaker, and
    /// reordering the speakers swaps who is on screen.
    @Test func turnsFollowTheVoicesInOrderOfFirstHearing() throws {
        let fake = try ConversationSpeech.transcript()
        let transcript = ConversationSpeech.diarized(fake, labels: ["A": "SPEAKER_00", "B": "SPEAKER_01"])
        let timeline = try SpeakerTimeline.diarized(transcript, speakers: ["ann", "bob"], duration: 26.8729)
        #expect(timeline.warnings.isEmpty)
        // The first word of each voice opens its first turn.
        #expect(timeline.voiced("ann").first?.lowerBound == 0.6)
        #expect(timeline.voiced("bob").first?.lowerBound == 5.429)
        #expect(abs((timeline.voiced("ann").first?.upperBound ?? 0) - 5.079) < 0.002)
        // Every word lies in its speaker's ranges.
        for word in transcript.words {
            let name = word.speaker == "SPEAKER_00" ? "ann" : "bob"
            #expect(timeline.voiced(name).contains { $0.contains(word.start) }, "\(word.word) at \(word.start)")
        }
        let swapped = try SpeakerTimeline.diarized(transcript, speakers: ["bob", "ann"], duration: 26.8729)
        #expect(swapped.voiced("bob") == timeline.voiced("ann"))
        #expect(swapped.voiced("ann") == timeline.voiced("bob"))
    }

    /// A voice beyond the speakers is nobody's, with a warning naming it and its first words;
    /// a speaker never heard is warned about; a transcript without voices is refused.
    @Test func extraVoicesAreNobodysAndUndiarizedTranscriptsAreRefused() throws {
        let words = [
            Transcript.Word(word: "Hello", start: 0, end: 1, speaker: "SPEAKER_00"),
            Transcript.Word(word: "there.", start: 1, end: 2, speaker: "SPEAKER_00"),
            Transcript.Word(word: "Hi!", start: 3, end: 4, speaker: "SPEAKER_01"),
            Transcript.Word(word: "Shh.", start: 5, end: 6, speaker: "SPEAKER_02"),
            Transcript.Word(word: "Bye.", start: 7, end: 8, speaker: "SPEAKER_00"),
        ]
        let transcript = Transcript(segments: [], words: words)
        let two = try SpeakerTimeline.diarized(transcript, speakers: ["ann", "bob"], duration: 10)
        #expect(two.voiced("ann") == [0..<2, 7..<8])
        #expect(two.voiced("bob") == [3..<4])
        #expect(two.warnings.count == 1)
        #expect(two.warnings.first?.contains("SPEAKER_02 → (no --speaker) (0:00:05.00): \"Shh.\"") == true)
        let three = try SpeakerTimeline.diarized(
            Transcript(segments: [], words: Array(words.prefix(2))), speakers: ["ann", "bob"], duration: 10)
        #expect(three.warnings == ["speaker \"bob\" is not heard in the diarized transcript, who is then never on screen"])
        let plain = Transcript(segments: [], words: words.map { Transcript.Word(word: $0.word, start: $0.start, end: $0.end) })
        let error = #expect(throws: SpeakerError.self) {
            try SpeakerTimeline.diarized(plain, speakers: ["ann", "bob"], duration: 10)
        }
        #expect(error?.kind == .notDiarized)
    }

    /// The command line: `--diarization auto` is the automatic source, anything else a file.
    @Test func diarizationAutoParses() throws {
        let base = ["talk.mp3", "--speaker", "A=a.jpg", "--speaker", "B=b.jpg"]
        let auto = try RunCommand.parse(base + ["--diarization", "auto"]).makeOptions()
        #expect(auto.speakerSource == .automatic)
        #expect(auto.speakers.map(\.name) == ["A", "B"])
        let file = try RunCommand.parse(base + ["--diarization", "auto.rttm"]).makeOptions()
        #expect(file.speakerSource == .diarization(path: "auto.rttm"))
        let plan = try PlanCommand.parse(base + ["--diarization", "auto"])
        #expect(try plan.speakers.parsed()?.source == .automatic)
        #expect(throws: (any Error).self) {
            try PlanCommand.parse(base + ["--diarization", "auto", "--transcriber", "fal-ai/wizper"])
        }
        #expect(throws: (any Error).self) {
            try RunCommand.parse(base + ["--diarization", "auto", "--transcriber", "fal-ai/wizper"])
        }
    }
}

extension Serial {
    /// `--diarization auto` against the fake fal server, on the two-voice conversation fixture:
    /// one diarized request before the plan, its voices mapped first heard → first speaker,
    /// shared with the captions, and never paid twice.
    @Suite("Automatic diarization", .timeLimit(.minutes(3)))
    struct AutoDiarizationTests {
        static let audio = Fixture.path("conversation-mix.opus")
        static let portraits = ["A": Fixture.path("portrait.jpg"), "B": Fixture.path("portrait-gray.png")]

        static func options(_ dir: TempDir, server: URL, order: [String] = ["A", "B"]) -> PipelineOptions {
            var o = PipelineOptions(
                audio: audio, speakers: order.map { Plan.Speaker(name: $0, image: portraits[$0]!) }, source: .automatic)
            o.output = dir.path("out.mp4")
            o.workDir = dir.path("work")
            o.environment = ["XDG_CACHE_HOME": dir.path("cache"), "HOME": dir.url.path]
            o.backend = .fal
            o.queueURL = server.absoluteString
            o.restURL = server.absoluteString
            o.credentials = try? FalCredentials(key: testKey)
            o.stitch = StitchOptions(transition: .cut)
            o.colorMatch = .off
            return o
        }

        static func withServer(_ body: (FakeFalServer, URL, TempDir) async throws -> Void) async throws {
            var options = FakeFalServer.Options(expectedKey: testKey)
            options.transcript = try ConversationSpeech.transcript()
            let server = FakeFalServer(options: options)
            let url = try await server.start()
            let dir = try TempDir()
            defer { dir.cleanup() }
            do {
                try await body(server, url, dir)
            } catch {
                await server.stop()
                throw error
            }
            await server.stop()
        }

        static func mapping(_ events: [PipelineEvent]) -> [SpeakerMappingReport] {
            events.compactMap { if case .speakerMapping(let m) = $0 { return m } else { return nil } }
        }

        static func plan(_ events: [PipelineEvent]) -> Plan? {
            events.compactMap { if case .plan(let p) = $0 { return p } else { return nil } }.last
        }

        /// A dry run: one diarized request (`num_speakers` 2), a plan whose shots are those of
        /// an RTTM file with the same turns, and a mapping first heard → first speaker. An
        /// undiarized transcript of the audio in the cache does not serve; reordering the
        /// speakers swaps the mapping and pays nothing more.
        @Test func thePlanFollowsTheDiarizedTurns() async throws {
            try await Self.withServer { server, url, dir in
                // An undiarized transcript of the same audio, already cached.
                var plain = Self.options(dir, server: url)
                plain.speakers = []
                plain.speakerSource = nil
                plain.captions = .auto
                _ = try await TranscriptStage(options: plain).run()
                #expect(server.transcriptionRequests.count == 1)

                var dry = Self.options(dir, server: url)
                dry.dryRun = true
                let (_, events) = try await runCollectingEvents(Pipeline(options: dry))
                let asked = server.transcriptionRequests
                #expect(asked.count == 2)
                #expect(asked.last?.endpoint == "fal-ai/whisper")
                #expect(asked.last?.input["diarize"] as? Bool == true)
                #expect(asked.last?.input["num_speakers"] as? Int == 2)
                #expect(asked.last?.input["chunk_level"] as? String == "word")
                #expect(server.submittedInputs.isEmpty)  // no video request
                let report = try #require(Self.mapping(events).first)
                #expect(report.voices.map(\.name) == ["A", "B"])
                #expect(report.voices.map(\.label) == ["SPEAKER_00", "SPEAKER_01"])
                #expect(report.voices.map(\.firstHeard) == [0.6, 5.429])
                #expect(report.voices[0].firstWords == "Welcome back to the show. Today we are")
                #expect(report.cached == false && report.cost == TranscriptionModel.whisper.cost(audioSeconds: 26.8729))
                // The mapping comes before the plan, and is in the dry run's JSON.
                let mappingAt = try #require(events.firstIndex { if case .speakerMapping = $0 { true } else { false } })
                let planAt = try #require(events.firstIndex { if case .plan = $0 { true } else { false } })
                #expect(mappingAt < planAt)
                #expect(PipelineEvent.speakerMapping(report).jsonLine().contains("\"event\":\"speakerMapping\""))
                let plan = try #require(Self.plan(events))

                // The same turns from an RTTM file give the same edit.
                let analysis = try AudioAnalysis.analyze(path: Self.audio)
                let (rttmPlan, _) = try SegmentPlanner.plan(
                    analysis, speakers: try #require(plan.speakers),
                    source: .diarization(path: Fixture.path("conversation.rttm")))
                #expect(!plan.shotChanges.isEmpty)
                #expect(plan.shotChanges.map(\.to) == rttmPlan.shotChanges.map(\.to))
                for (mine, theirs) in zip(plan.shotChanges, rttmPlan.shotChanges) {
                    #expect(abs(mine.time - theirs.time) < 0.5, "\(mine) vs \(theirs)")
                }

                // The speakers the other way round: the first voice is now B's, from the cache.
                var swapped = Self.options(dir, server: url, order: ["B", "A"])
                swapped.dryRun = true
                let (_, again) = try await runCollectingEvents(Pipeline(options: swapped))
                #expect(server.transcriptionRequests.count == 2)
                let second = try #require(Self.mapping(again).first)
                #expect(second.voices.map(\.name) == ["B", "A"])
                #expect(second.cached && second.cost == 0)
                let swappedPlan = try #require(Self.plan(again))
                #expect(swappedPlan.segments.map(\.frameCount) == plan.segments.map(\.frameCount))
                #expect(swappedPlan.segments.map(\.speaker) == plan.segments.map { $0.speaker == "A" ? "B" : "A" })
            }
        }

        /// With `--captions auto` too: one request for both, the captions name the speakers,
        /// and the same job again sends nothing to the transcriber.
        @Test func captionsShareTheDiarizedTranscript() async throws {
            try await Self.withServer { server, url, dir in
                var o = Self.options(dir, server: url)
                o.captions = .auto
                let (_, events) = try await runCollectingEvents(Pipeline(options: o))
                #expect(server.transcriptionRequests.count == 1)
                #expect(server.transcriptionRequests.first?.input["diarize"] as? Bool == true)
                let srt = try String(contentsOfFile: dir.path("out.srt"), encoding: .utf8)
                #expect(srt.contains("A: Welcome back to the show."))
                #expect(srt.contains("B: Thanks for having me."))
                #expect(!srt.contains("SPEAKER_"))
                let captions = events.compactMap { if case .captions(let c) = $0 { return c } else { return nil } }
                #expect(captions.count == 1)
                #expect(captions.first?.speakers == ["A", "B"])
                #expect(Self.mapping(events).first?.cost == captions.first?.cost)
                #expect(!events.contains(.stage(.transcribing)))

                var again = Self.options(dir, server: url)
                again.captions = .auto
                again.output = dir.path("again.mp4")
                let (_, second) = try await runCollectingEvents(Pipeline(options: again))
                #expect(server.transcriptionRequests.count == 1)
                #expect(Self.mapping(second).first?.cached == true)
                #expect(try String(contentsOfFile: dir.path("again.srt"), encoding: .utf8) == srt)
            }
        }

        /// Refused in one line before anything is sent or written: wizper (no diarization),
        /// no fal key on the preview backend, and a cap below the transcript's cost.
        @Test func refusedBeforeAnyRequest() async throws {
            try await Self.withServer { server, url, dir in
                var wizper = Self.options(dir, server: url)
                wizper.transcriber = .wizper
                let refused = await #expect(throws: PipelineError.self) { try await Pipeline(options: wizper).run() }
                #expect(refused?.kind == .invalidOption && refused?.option == "transcriber")
                #expect(refused?.description.contains("fal-ai/wizper cannot tell voices apart") == true)

                var keyless = Self.options(dir, server: url)
                keyless.backend = .preview
                keyless.credentials = nil
                let missing = await #expect(throws: PipelineError.self) { try await Pipeline(options: keyless).run() }
                #expect(missing?.kind == .missingCredentials)
                #expect(missing?.description.contains("--diarization auto") == true)
                #expect(missing?.description.contains("\n") == false)

                var capped = Self.options(dir, server: url)
                capped.maxCost = 0.001
                let over = await #expect(throws: PipelineError.self) { try await Pipeline(options: capped).run() }
                #expect(over?.kind == .overBudget)
                // Room for the transcript but not for the video's frames: stopped before either.
                capped.maxCost = 0.5
                let video = await #expect(throws: PipelineError.self) { try await Pipeline(options: capped).run() }
                #expect(video?.kind == .overBudget)
                #expect(video?.description.contains("the video's, at least $") == true)

                // Nothing is cached yet, so the status lookup (which never sends) says so.
                var status = Self.options(dir, server: url)
                status.workDir = nil
                let unknown = await #expect(throws: PipelineError.self) { try await JobStatus.workDir(for: status) }
                #expect(unknown?.description.contains("no diarized transcript") == true)

                #expect(server.requests.isEmpty)
                #expect(!FileManager.default.fileExists(atPath: dir.path("out.mp4")))
                #expect(!FileManager.default.fileExists(atPath: dir.path("out.srt")))
            }
        }

        /// `plan --diarization auto` (fal from the environment): the mapping in the text and in
        /// `--json`, the transcript paid once; wizper is refused in one line with nothing sent.
        @Test func planCommandShowsTheMapping() async throws {
            try await Self.withServer { server, url, dir in
                let environment = [
                    "FAL_KEY": testKey, "XDG_CACHE_HOME": dir.path("cache"), "HOME": dir.url.path, "PATH": "/usr/bin:/bin",
                    "INFINISTITCH_QUEUE_URL": url.absoluteString, "INFINISTITCH_REST_URL": url.absoluteString,
                ]
                let arguments = [
                    "plan", Self.audio, "--speaker", "A=\(Self.portraits["A"]!)", "--speaker", "B=\(Self.portraits["B"]!)",
                    "--diarization", "auto",
                ]
                let wizper = try runProcess(
                    infinistitchBinary, arguments + ["--transcriber", "fal-ai/wizper"], environment: environment,
                    timeout: .seconds(60))
                let wizperErr = String(decoding: wizper.stderr, as: UTF8.self)
                #expect(wizper.status == 2)
                #expect(wizperErr.contains("--transcriber fal-ai/wizper"), "\(wizperErr)")
                #expect(wizperErr.split(separator: "\n").count == 1, "\(wizperErr)")
                #expect(server.requests.isEmpty)

                let json = try runProcess(
                    infinistitchBinary, arguments + ["--json"], environment: environment, timeout: .seconds(90))
                #expect(json.status == 0, "\(String(decoding: json.stderr, as: UTF8.self))")
                let object = try #require(try JSONSerialization.jsonObject(with: json.stdout) as? [String: Any])
                let mapping = try #require(object["speakerMapping"] as? [String: Any])
                let voices = try #require(mapping["voices"] as? [[String: Any]])
                #expect(voices.map { $0["name"] as? String } == ["A", "B"])
                #expect(voices.first?["firstWords"] as? String == "Welcome back to the show. Today we are")
                #expect((object["transcript"] as? [String: Any])?["cached"] as? Bool == false)
                #expect(server.transcriptionRequests.count == 1)

                let text = try runProcess(
                    infinistitchBinary,
                    [
                        "plan", Self.audio, "--speaker", "B=\(Self.portraits["B"]!)", "--speaker",
                        "A=\(Self.portraits["A"]!)", "--diarization", "auto",
                    ], environment: environment, timeout: .seconds(90))
                let out = String(decoding: text.stdout, as: UTF8.self)
                #expect(text.status == 0, "\(String(decoding: text.stderr, as: UTF8.self))")
                #expect(out.contains("SPEAKER_00 → B (0:00:00.60): \"Welcome back to the show. Today we are\""), "\(out)")
                #expect(out.contains("transcript: fal-ai/whisper, cached, nothing to pay"))
                #expect(server.transcriptionRequests.count == 1)
                #expect(!(out + String(decoding: text.stderr, as: UTF8.self)).contains(testKeySecret))

                // The main command's dry run shows it too, as text and as an NDJSON event.
                let run = Array(arguments.dropFirst()) + ["-o", dir.path("out.mp4"), "--dry-run"]
                let dry = try runProcess(infinistitchBinary, run, environment: environment, timeout: .seconds(90))
                let dryOut = String(decoding: dry.stdout, as: UTF8.self)
                #expect(dry.status == 0, "\(String(decoding: dry.stderr, as: UTF8.self))")
                #expect(dryOut.contains("voice SPEAKER_01 → B (0:00:05.43): \"Yeah.\""), "\(dryOut)")
                let ndjson = try runProcess(infinistitchBinary, run + ["--json"], environment: environment, timeout: .seconds(90))
                let event = try #require(
                    String(decoding: ndjson.stdout, as: UTF8.self).split(separator: "\n").first {
                        $0.contains("\"event\":\"speakerMapping\"")
                    })
                let decoded = try JSONDecoder().decode(SpeakerMappingReport.self, from: Data(event.utf8))
                #expect(decoded.voices.map(\.name) == ["A", "B"] && decoded.cached)
                #expect(server.transcriptionRequests.count == 1)
                #expect(!FileManager.default.fileExists(atPath: dir.path("out.mp4")))
            }
        }
    }
}
