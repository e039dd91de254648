import FakeFal
import Foundation
import Testing

@testable import InfiniPipeline

/// The fal transcriber against the fake fal server: the requests it sends to `fal-ai/whisper` and
/// `fal-ai/wizper`, the transcript it reads back, the cache that makes a second run free, and the
/// cost counted before anything is paid.
extension Serial {
    @Suite("Transcriber on fal", .timeLimit(.minutes(4)))
    struct TranscriberTests {
        static let fixture = FakeTranscript.speech

        /// Word-level on whisper: one request, the audio uploaded once, every word back with
        /// the time the fixture gave it, sentences rebuilt from the punctuation.
        @Test func whisperGivesWordTimings() async throws {
            try await withFal { h in
                let transcriber = FalTranscriber(client: h.client, model: .whisper, language: "en")
                let transcript = try await transcriber.transcribe(
                    audio: URL(fileURLWithPath: Fixture.path("speech.mp3")), duration: 8.1)
                let asked = h.server.transcriptionRequests
                #expect(asked.count == 1)
                #expect(asked.first?.endpoint == "fal-ai/whisper")
                #expect(asked.first?.input["chunk_level"] as? String == "word")
                #expect(asked.first?.input["language"] as? String == "en")
                #expect(asked.first?.input["diarize"] == nil)
                #expect(h.server.storedFiles.count == 1)
                let expected = Self.fixture.words
                #expect(transcript.words.map(\.word) == expected.map(\.word))
                #expect(transcript.words.map(\.start) == expected.map(\.start))
                #expect(transcript.words.map(\.end) == expected.map(\.end))
                #expect(transcript.segments.map(\.text) == Self.fixture.sentences.map(\.text))
                #expect(transcript.language == "en")
            }
        }

        /// Segment chunks on wizper; audio in a format fal does not take is sent as WAV.
        @Test func wizperGivesSegments() async throws {
            try await withFal { h in
                let transcript = try await FalTranscriber(client: h.client, model: .wizper).transcribe(
                    audio: URL(fileURLWithPath: Fixture.path("speech.flac")), duration: 8.04)
                let asked = h.server.transcriptionRequests
                #expect(asked.first?.endpoint == "fal-ai/wizper")
                #expect(asked.first?.input["chunk_level"] as? String == "segment")
                #expect(asked.first?.input["language"] == nil)
                #expect(h.server.storedFiles.first?.contentType == "audio/wav")
                #expect(transcript.words.isEmpty)
                #expect(transcript.segments.map(\.text) == Self.fixture.sentences.map(\.text))
                #expect(transcript.segments.map(\.start) == Self.fixture.sentences.map(\.start))
                #expect(transcript.language == "en")
                // Cues from segments still start when their sentence does.
                #expect(transcript.captions().first?.start == 0)
            }
        }

        static func options(_ dir: TempDir, server: URL) -> PipelineOptions {
            var o = PipelineTests.options(dir)
            o.captions = .auto
            o.queueURL = server.absoluteString
            o.restURL = server.absoluteString
            o.credentials = try? FalCredentials(key: testKey)
            return o
        }

        /// `--captions auto` on the preview backend: transcribed once on fal, cached, and the
        /// same audio again pays nothing; the soft track and sidecars hold the words' cues.
        @Test func autoCaptionsArePaidOnce() async throws {
            let server = FakeFalServer(options: FakeFalServer.Options(expectedKey: testKey))
            let url = try await server.start()
            let dir = try TempDir()
            defer { dir.cleanup() }
            do {
                let (first, events) = try await runCollectingEvents(Pipeline(options: Self.options(dir, server: url)))
                let reports = events.compactMap { e -> CaptionsReport? in
                    if case .captions(let r) = e { return r }
                    return nil
                }
                #expect(reports.count == 1)
                #expect(reports.first?.cached == false)
                #expect((reports.first?.cost ?? 0) > 0)
                #expect(reports.first?.words == Self.fixture.words.count)
                #expect(events.contains(.stage(.transcribing)))
                // Planned before the transcript existed, then again with it (the same paid frames).
                let plans = events.compactMap { e -> Plan? in
                    if case .plan(let p) = e { return p }
                    return nil
                }
                #expect(plans.count == 2)
                #expect(plans.first?.cutsAtSentenceEnds == nil && plans.last?.cutsAtSentenceEnds != nil)
                #expect(plans.first?.paidFrames == plans.last?.paidFrames)
                #expect(server.transcriptionRequests.count == 1)
                let expected = Transcript(
                    segments: [],
                    words: Self.fixture.words.map { Transcript.Word(word: $0.word, start: $0.start, end: $0.end) }
                ).captions()
                let cues = SubtitleTrack.clipped(expected, to: first.duration)
                let track = try MovText.readTrack(path: dir.path("out.mp4"))
                #expect(track.language == "eng")
                #expect(track.cues.map(\.text) == cues.map { SubtitleTrack.text(of: $0) })
                #expect(track.cues.map(\.start) == cues.map { Double(MovText.milliseconds($0.start)) / 1000 })
                let srt = try Transcript.read(file: URL(fileURLWithPath: dir.path("out.srt")))
                #expect(srt.segments.map(\.text) == cues.map(\.text))

                // The same audio again, to another output: nothing sent to the transcriber.
                var again = Self.options(dir, server: url)
                again.output = dir.path("again.mp4")
                let (_, second) = try await runCollectingEvents(Pipeline(options: again))
                #expect(server.transcriptionRequests.count == 1)
                let cached = second.compactMap { e -> CaptionsReport? in
                    if case .captions(let r) = e { return r }
                    return nil
                }
                #expect(cached.first?.cached == true && cached.first?.cost == 0)
                // The cached transcript is known before planning: one plan, with sentence ends.
                let secondPlans = second.compactMap { e -> Plan? in
                    if case .plan(let p) = e { return p }
                    return nil
                }
                #expect(secondPlans.count == 1 && secondPlans.first?.cutsAtSentenceEnds != nil)
                #expect(
                    try String(contentsOfFile: dir.path("again.vtt"), encoding: .utf8)
                        == String(contentsOfFile: dir.path("out.vtt"), encoding: .utf8))
            } catch {
                await server.stop()
                throw error
            }
            await server.stop()
        }

        /// The transcript's cost is in the dry run and under `maxCost`: a cap below it stops the
        /// run before anything is sent, and a dry run sends nothing.
        @Test func transcriptCostIsCountedBeforeAnythingIsSent() async throws {
            let server = FakeFalServer(options: FakeFalServer.Options(expectedKey: testKey))
            let url = try await server.start()
            let dir = try TempDir()
            defer { dir.cleanup() }
            do {
                var dry = Self.options(dir, server: url)
                dry.dryRun = true
                dry.provider = .fal
                let (summary, events) = try await runCollectingEvents(Pipeline(options: dry))
                let report = events.compactMap { e -> CaptionsReport? in
                    if case .captions(let r) = e { return r }
                    return nil
                }.first
                let cost = TranscriptionModel.whisper.cost(audioSeconds: summary.duration)
                #expect(report?.cost == cost && cost > 0)
                #expect(report?.source == "fal-ai/whisper")

                var capped = Self.options(dir, server: url)
                capped.provider = .fal
                capped.maxCost = summary.estimatedCost + cost / 2
                let error = await #expect(throws: PipelineError.self) { try await Pipeline(options: capped).run() }
                #expect(error?.kind == .overBudget)
                #expect(error?.description.contains("the transcript") == true)
                #expect(server.requests.isEmpty)
                #expect(!FileManager.default.fileExists(atPath: dir.path("out.srt")))
            } catch {
                await server.stop()
                throw error
            }
            await server.stop()
        }

        /// `infinistitch transcribe` runs the stage alone and writes SRT, WebVTT or JSON that
        /// reads back as the fixture's words and sentences.
        @Test func transcribeCommandWritesEachFormat() async throws {
            let server = FakeFalServer(options: FakeFalServer.Options(expectedKey: testKey))
            let url = try await server.start()
            let dir = try TempDir()
            defer { dir.cleanup() }
            let environment = [
                "FAL_KEY": testKey, "XDG_CACHE_HOME": dir.path("cache"), "HOME": dir.url.path, "PATH": "/usr/bin:/bin",
            ]
            do {
                for name in ["t.srt", "t.vtt", "t.json"] {
                    let r = try runProcess(
                        infinistitchBinary,
                        [
                            "transcribe", Fixture.path("speech.mp3"), "-o", dir.path(name), "--queue-url", url.absoluteString,
                            "--rest-url", url.absoluteString,
                        ], environment: environment, timeout: .seconds(60))
                    let out = String(decoding: r.stdout + r.stderr, as: UTF8.self)
                    #expect(r.status == 0, "\(out)")
                    #expect(!out.contains(testKeySecret))
                    let back = try Transcript.read(file: URL(fileURLWithPath: dir.path(name)), audioDuration: 8.04)
                    if name.hasSuffix(".json") {
                        #expect(back.words.map(\.word) == Self.fixture.words.map(\.word))
                        #expect(back.words.map(\.start) == Self.fixture.words.map(\.start))
                        #expect(back.segments.map(\.text) == Self.fixture.sentences.map(\.text))
                    } else {
                        #expect(
                            back.segments.map(\.text).joined(separator: " ")
                                == Self.fixture.sentences.map(\.text).joined(separator: " "))
                    }
                }
                // Paid once: the other two came from the cache.
                #expect(server.transcriptionRequests.count == 1)
                let bad = try runProcess(
                    infinistitchBinary, ["transcribe", Fixture.path("speech.mp3"), "-o", dir.path("t.txt")],
                    environment: environment, timeout: .seconds(60))
                #expect(bad.status == 2)
                #expect(String(decoding: bad.stderr, as: UTF8.self).contains("t.txt"))
            } catch {
                await server.stop()
                throw error
            }
            await server.stop()
        }
    }
}

/// Diarization on fal-ai/whisper: `diarize` with `num_speakers`, voices labelled in order of
/// first appearance and mapped to the speakers given in that order, with their first words.
extension Serial.TranscriberTests {
    @Test func diarizedVoicesMapToSpeakersInOrder() async throws {
        var options = FakeFalServer.Options(expectedKey: testKey)
        options.transcript = FakeTranscript(sentences: [
            .init(start: 0, end: 2.2, text: "The lander touched down gently.", speaker: "bob"),
            .init(start: 2.8, end: 5.074, text: "Nobody in the room said a word.", speaker: "ann"),
            .init(start: 5.674, end: 8.044, text: "Then everyone began to cheer.", speaker: "bob"),
        ])
        try await withFal(options) { h in
            let transcript = try await FalTranscriber(client: h.client, model: .whisper, speakers: 2).transcribe(
                audio: URL(fileURLWithPath: Fixture.path("speech.mp3")), duration: 8.1)
            let asked = try #require(h.server.transcriptionRequests.first)
            #expect(asked.input["diarize"] as? Bool == true)
            #expect(asked.input["num_speakers"] as? Int == 2)
            #expect(transcript.speakers == ["SPEAKER_00", "SPEAKER_01"])
            // The first voice heard goes to the first --speaker, whatever the fake called it.
            let mapping = SpeakerMapping(transcript: transcript, names: ["host", "guest"])
            #expect(mapping.voices.map(\.name) == ["host", "guest"])
            #expect(mapping.voices.map(\.firstHeard) == [0, 2.8])
            #expect(mapping.voices[0].firstWords == "The lander touched down gently.")
            #expect(mapping.lines[1].contains("SPEAKER_01 → guest (0:00:02.80): \"Nobody in the room said a word.\""))
            let named = mapping.renaming(transcript)
            #expect(named.segments.map(\.speaker) == ["host", "guest", "host"])
            // Captions name each voice.
            #expect(CaptionWriter.srt(named.captions()).contains("guest: Nobody in the room said a word."))
        }
    }
}
