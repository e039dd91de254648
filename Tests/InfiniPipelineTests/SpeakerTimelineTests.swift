import FakeFal
import Foundation
import Testing

@testable import InfiniPipeline

/// The kind of the ``SpeakerError`` that `body` throws, or `nil`.
func speakerErrorKind(_ body: () throws -> Void) -> SpeakerError.Kind? {
    do {
        try body()
        return nil
    } catch {
        return (error as? SpeakerError)?.kind
    }
}

/// The committed two-voice conversation (Fixtures/make-conversation-fixtures.sh) and its truth.
enum Conversation {
    struct Utterance: Decodable {
        var speaker: String
        var text: String
        var start: Double
        var end: Double
    }
    struct TruthShot: Decodable {
        var speaker: String
        var gapStart: Double
        var gapEnd: Double
    }
    struct Truth: Decodable {
        var duration: Double
        var utterances: [Utterance]
        var shots: [TruthShot]
    }

    static let speakers = ["A", "B"]
    static let portraits = [Plan.Speaker(name: "A", image: "a.png"), Plan.Speaker(name: "B", image: "b.png")]

    static func truth() throws -> Truth {
        try JSONDecoder().decode(Truth.self, from: Data(Fixture.bytes("conversation.truth.json")))
    }

    static func mix() throws -> AudioAnalysis {
        try AudioAnalysis.analyze(path: Fixture.path("conversation-mix.opus"))
    }

    static let sources: [(label: String, source: SpeakerSource)] = [
        ("RTTM", .diarization(path: Fixture.path("conversation.rttm"))),
        (
            "tracks",
            .tracks(["A": Fixture.path("conversation-a.opus"), "B": Fixture.path("conversation-b.opus")])
        ),
        ("channels", .channels(["A": 0, "B": 1])),
    ]

    /// The analysis of the audio a source is measured on (channels come from the stereo file).
    static func audio(for source: SpeakerSource) throws -> AudioAnalysis {
        if case .channels = source { return try AudioAnalysis.analyze(path: Fixture.path("conversation-stereo.mp3")) }
        return try mix()
    }

    /// Checks that `shots` are the truth's: same speakers in order, and each change's range
    /// reaches into the truth's gap (widened by `slack` seconds for measured voice activity).
    static func expectTruth(_ shots: [SpeakerTimeline.Shot], _ truth: Truth, slack: Double, label: String) {
        #expect(shots.map(\.speaker) == truth.shots.map(\.speaker), "\(label): \(shots)")
        guard shots.count == truth.shots.count else { return }
        #expect(shots[0].start == 0...0, "\(label)")
        for (shot, expected) in zip(shots, truth.shots).dropFirst() {
            let lower = Int(((expected.gapStart - slack) * 25).rounded(.down))
            let upper = Int(((expected.gapEnd + slack) * 25).rounded(.up))
            #expect(
                shot.start.lowerBound <= upper && shot.start.upperBound >= lower,
                "\(label): change to \(shot.speaker) at frames \(shot.start), truth gap \(expected.gapStart)…\(expected.gapEnd) s"
            )
        }
    }
}

@Suite("Speaker timeline", .ownThreads)
struct SpeakerTimelineTests {
    static let rttm = """
        SPEAKER talk 1 0.50 2.00 <NA> <NA> A <NA> <NA>
        SPEAKER talk 1 3.00 1.50 <NA> <NA> B <NA> <NA>
        SPEAKER talk 1 4.00 2.00 <NA> <NA> A <NA> <NA>
        SPEAKER talk 1 1.00 2.00 <NA> <NA> A <NA> <NA>
        """

    @Test func rttmFixtureIsTheTruth() throws {
        let truth = try Conversation.truth()
        let timeline = try SpeakerTimeline.load(
            .diarization(path: Fixture.path("conversation.rttm")), speakers: Conversation.speakers,
            audio: Conversation.mix())
        #expect(timeline.warnings.isEmpty)
        for name in Conversation.speakers {
            let expected = SpeakerTimeline.normalized(
                truth.utterances.filter { $0.speaker == name }.map { $0.start..<$0.end }, duration: timeline.duration)
            let got = timeline.voiced(name)
            #expect(got.count == expected.count, "\(name): \(got)")
            for (g, e) in zip(got, expected) {
                #expect(
                    abs(g.lowerBound - e.lowerBound) < 0.002 && abs(g.upperBound - e.upperBound) < 0.002, "\(name): \(g) vs \(e)")
            }
        }
    }

    @Test func rttmAnyOrderOverlapsCommentsAndOtherRecords() throws {
        let base = try SpeakerTimeline.diarization(rttm: Self.rttm, file: "talk.rttm", speakers: ["A", "B"], duration: 10)
        // A's lines 0.5–2.5 and 1.0–3.0 overlap: one range; B overlaps A (overlapped speech).
        #expect(base.voiced("A") == [0.5..<3.0, 4.0..<6.0])
        #expect(base.voiced("B") == [3.0..<4.5])
        let lines = Self.rttm.split(separator: "\n").map(String.init)
        let shuffled = [
            ";; a comment", "", lines[3], "SPKR-INFO talk 1 <NA> <NA> <NA> unknown A <NA> <NA>", lines[1],
            "# another comment", "   ", lines[2], lines[0] + "\r",
        ].joined(separator: "\n")
        let again = try SpeakerTimeline.diarization(rttm: shuffled, file: "talk.rttm", speakers: ["A", "B"], duration: 10)
        #expect(again == base)
        // Tabs, 9 fields (no slat), and times past the end (clipped, with a warning).
        let lenient = try SpeakerTimeline.diarization(
            rttm: "SPEAKER\ttalk\t1\t8.0\t5.0\t<NA>\t<NA>\tB\t<NA>", file: "t.rttm", speakers: ["A", "B"], duration: 10)
        #expect(lenient.voiced("B") == [8.0..<10.0])
        #expect(lenient.warnings.contains { $0.contains("no line for speaker \"A\"") })
        #expect(lenient.warnings.contains { $0.contains("past the end") })
    }

    /// A file saved by a Windows editor: every line ends in CR LF.
    @Test func rttmWithWindowsLineEnds() throws {
        let base = try SpeakerTimeline.diarization(rttm: Self.rttm, file: "talk.rttm", speakers: ["A", "B"], duration: 10)
        let crlf = Self.rttm.split(separator: "\n").joined(separator: "\r\n") + "\r\n"
        #expect(try SpeakerTimeline.diarization(rttm: crlf, file: "talk.rttm", speakers: ["A", "B"], duration: 10) == base)
        do {
            _ = try SpeakerTimeline.diarization(
                rttm: "SPEAKER talk 1 0.5 2.0 <NA> <NA> A <NA> <NA>\r\n\r\nSPEAKER talk 1 3.0 -1.2 <NA> <NA> B <NA> <NA>\r\n",
                file: "talk.rttm", speakers: ["A", "B"], duration: 10)
            Issue.record("a negative duration was accepted")
        } catch let error as SpeakerError {
            #expect(error.description == "talk.rttm:3: duration \"-1.2\" is negative")
        }
    }

    @Test func rttmErrorsNameTheLine() {
        func failure(_ text: String) -> SpeakerError? {
            do {
                _ = try SpeakerTimeline.diarization(rttm: text, file: "talk.rttm", speakers: ["A", "B"], duration: 10)
                return nil
            } catch let error as SpeakerError {
                return error
            } catch {
                return nil
            }
        }
        let good = "SPEAKER talk 1 0.50 2.00 <NA> <NA> A <NA> <NA>\n\n"
        let malformed = failure(good + "SPEAKER talk 1 0.50 2.00")
        #expect(malformed?.kind == .malformedDiarization)
        #expect(
            malformed?.description.hasPrefix("talk.rttm:3: malformed SPEAKER line") == true, "\(String(describing: malformed))")
        let negative = failure(good + "SPEAKER talk 1 3.0 -1.2 <NA> <NA> B <NA> <NA>")
        #expect(negative?.kind == .malformedDiarization)
        #expect(negative?.description == "talk.rttm:3: duration \"-1.2\" is negative")
        let negativeStart = failure("SPEAKER talk 1 -0.5 1.2 <NA> <NA> B <NA> <NA>")
        #expect(negativeStart?.description == "talk.rttm:1: start \"-0.5\" is negative")
        let notNumber = failure("SPEAKER talk 1 abc 1.2 <NA> <NA> B <NA> <NA>")
        #expect(notNumber?.description == "talk.rttm:1: start \"abc\" is not a number")
        let infinite = failure("SPEAKER talk 1 1 inf <NA> <NA> B <NA> <NA>")
        #expect(infinite?.kind == .malformedDiarization)
        let unknown = failure(good + "SPEAKER talk 1 3.0 1.0 <NA> <NA> SPEAKER_02 <NA> <NA>")
        #expect(unknown?.kind == .unknownSpeaker)
        #expect(unknown?.description == "talk.rttm:3: speaker \"SPEAKER_02\" is not one of the speakers (A, B)")
        for error in [malformed, negative, unknown] { #expect(error?.description.contains("\n") == false) }
    }

    @Test func speakersMustBeDistinct() {
        #expect(
            speakerErrorKind {
                _ = try SpeakerTimeline.diarization(rttm: "", file: "t.rttm", speakers: ["A", "A"], duration: 10)
            } == .invalidSpeakers)
        #expect(
            speakerErrorKind {
                _ = try SpeakerTimeline.diarization(rttm: "", file: "t.rttm", speakers: [], duration: 10)
            } == .invalidSpeakers)
    }

    @Test(arguments: Conversation.sources.indices)
    func eachSourceRecoversTheShots(_ index: Int) throws {
        let (label, source) = Conversation.sources[index]
        let truth = try Conversation.truth()
        let audio = try Conversation.audio(for: source)
        let timeline = try SpeakerTimeline.load(source, speakers: Conversation.speakers, audio: audio)
        let total = try SegmentPlanner.totalFrames(samples: audio.samples, sampleRate: audio.format.sampleRate)
        let shots = try timeline.shots(totalFrames: total)
        // Interjections ("Yeah." 0.36 s, "Mm-hm." 0.78 s) do not cut, the overlap stays with B
        // until B stops: four shots, A B A B, each change in its gap.
        Conversation.expectTruth(shots, truth, slack: label == "RTTM" ? 0.04 : 0.12, label: label)
    }

    @Test func activityFindsEachVoiceDespiteBleed() throws {
        let truth = try Conversation.truth()
        for (label, source) in Conversation.sources.dropFirst() {
            let timeline = try SpeakerTimeline.load(
                source, speakers: Conversation.speakers, audio: Conversation.audio(for: source))
            #expect(timeline.warnings.isEmpty, "\(label)")
            for name in Conversation.speakers {
                let mine = truth.utterances.filter { $0.speaker == name }
                let others = truth.utterances.filter { $0.speaker != name }
                let voiced = timeline.voiced(name)
                func covered(_ from: Double, _ to: Double) -> Double {
                    voiced.reduce(0) { $0 + max(0, min($1.upperBound, to) - max($1.lowerBound, from)) }
                }
                // Its own voice is found (less the pauses between its sentences and words)…
                for u in mine {
                    #expect(covered(u.start, u.end) >= 0.75 * (u.end - u.start), "\(label) \(name): \(u.text)")
                }
                // …and the other voice, 15 dB lower on this microphone, is not taken for it.
                for u in others {
                    let alone = mine.allSatisfy { $0.end <= u.start || $0.start >= u.end }
                    if alone {
                        #expect(covered(u.start, u.end) <= 0.1, "\(label) \(name) has bleed of \"\(u.text)\": \(voiced)")
                    }
                }
            }
        }
    }

    @Test func aTrackOfAnotherLengthIsRefused() throws {
        let directory = try TempDir()
        defer { directory.cleanup() }
        let samples = try AudioReader(path: Fixture.path("conversation-b.opus"), sampleRate: 16_000, channels: 1).readAll()
        let short = directory.path("b-short.wav")
        try WAV.file(Array(samples.dropLast(16_000)), sampleRate: 16_000, channels: 1).write(to: URL(fileURLWithPath: short))
        let mix = try Conversation.mix()
        do {
            _ = try SpeakerTimeline.load(
                .tracks(["A": Fixture.path("conversation-a.opus"), "B": short]), speakers: ["A", "B"], audio: mix)
            Issue.record("a short track was accepted")
        } catch let error as SpeakerError {
            #expect(error.kind == .trackLength)
            #expect(error.description.hasPrefix("\(short) lasts 25.873 s but "), "\(error)")
            #expect(error.description.contains("conversation-mix.opus lasts 26.873 s"), "\(error)")
        }
        // A few milliseconds off is the same timeline.
        let close = directory.path("b-close.wav")
        try WAV.file(Array(samples.dropLast(320)), sampleRate: 16_000, channels: 1).write(to: URL(fileURLWithPath: close))
        _ = try SpeakerTimeline.load(
            .tracks(["A": Fixture.path("conversation-a.opus"), "B": close]), speakers: ["A", "B"], audio: mix)
    }

    @Test func tracksAndChannelsMustMatchTheSpeakers() throws {
        let mix = try Conversation.mix()
        let stereo = try AudioAnalysis.analyze(path: Fixture.path("conversation-stereo.mp3"))
        do {
            _ = try SpeakerTimeline.load(.channels(["A": 0, "B": 2]), speakers: ["A", "B"], audio: stereo)
            Issue.record("channel 2 of a stereo file was accepted")
        } catch let error as SpeakerError {
            #expect(error.kind == .missingChannel)
            #expect(
                error.description
                    == "\(Fixture.path("conversation-stereo.mp3")) has no channel 2: it has 2 channels (numbered from 0 to 1)")
        }
        #expect(
            speakerErrorKind {
                _ = try SpeakerTimeline.load(.channels(["A": 0, "B": 1]), speakers: ["A", "B"], audio: mix)
            } == .missingChannel)
        #expect(
            speakerErrorKind {
                _ = try SpeakerTimeline.load(.channels(["A": -1, "B": 1]), speakers: ["A", "B"], audio: stereo)
            } == .missingChannel)
        #expect(
            speakerErrorKind {
                _ = try SpeakerTimeline.load(.channels(["A": 0, "C": 1]), speakers: ["A", "B"], audio: stereo)
            } == .unknownSpeaker)
        #expect(
            speakerErrorKind {
                _ = try SpeakerTimeline.load(
                    .tracks(["A": Fixture.path("conversation-a.opus")]), speakers: ["A", "B"], audio: mix)
            } == .missingSource)
        #expect(throws: MediaError.self) {
            _ = try SpeakerTimeline.load(.diarization(path: "/nonexistent/talk.rttm"), speakers: ["A", "B"], audio: mix)
        }
    }

    @Test func shortTurnsAndOverlaps() throws {
        // A talks 0–10 s; B says "yeah" (0.5 s) in A's pause; B talks over A's end (9–20 s);
        // A says "mm-hm" inside B's turn; A answers after a gap.
        let timeline = SpeakerTimeline(
            speakers: ["A", "B"],
            voiced: [[1..<5, 5.8..<10, 12..<12.6, 20.5..<30], [5.1..<5.6, 9..<20]], duration: 31)
        let shots = try timeline.shots(totalFrames: 775)
        #expect(shots.map(\.speaker) == ["A", "B", "A"])
        #expect(shots[1].start == 250...250)  // B takes the floor when A stops, at 10 s
        #expect(shots[2].start == 500...512)  // the gap 20–20.5 s
        // With a 0.3 s minimum, the "yeah" gets its shot; "mm-hm", inside B's turn, still does not.
        let fine = try timeline.shots(totalFrames: 775, minShot: 0.3)
        #expect(fine.map(\.speaker) == ["A", "B", "A", "B", "A"])
        #expect(fine[1].start == 125...127 && fine[2].start == 140...145)
        // Silence before the first voice belongs to the first speaker; a short first turn gives way.
        let late = SpeakerTimeline(speakers: ["A", "B"], voiced: [[4..<4.5, 20..<25], [5..<15]], duration: 25)
        let lateShots = try late.shots(totalFrames: 625)
        #expect(lateShots.map(\.speaker) == ["B", "A"])
        #expect(lateShots[0].start == 0...0)
        // Nobody speaks: the first speaker, one shot.
        let silent = SpeakerTimeline(speakers: ["A", "B"], voiced: [[], []], duration: 10)
        #expect(try silent.shots(totalFrames: 250).map(\.speaker) == ["A"])
        do {
            _ = try timeline.shots(totalFrames: 775, minShot: -1)
            Issue.record("a negative minShot was accepted")
        } catch let error as SpeakerError {
            #expect(error.option == "minShot")
            #expect(error.description.hasPrefix("minShot -1.0 "))
        }
    }

    /// The time limit (far above the time it takes in a debug build on a loaded machine) only
    /// catches passes that turned quadratic; speed is bench/run's to measure.
    @Test(.timeLimit(.minutes(2))) func manyShortTurnsAreQuick() throws {
        // 20 000 alternating turns, each shorter than the one before (the worst order for the
        // one-neighbourhood-at-a-time passes), then one long turn each.
        var voiced: [[Range<Double>]] = [[], []]
        var t = 0.0
        for i in 0..<20_000 {
            let length = 1.9 - Double(i) * 0.00008
            voiced[i % 2].append(t..<(t + length))
            t += length + 0.3
        }
        voiced[0].append(t..<(t + 30))
        voiced[1].append((t + 30.5)..<(t + 60))
        let timeline = SpeakerTimeline(speakers: ["A", "B"], voiced: voiced, duration: t + 61)
        let shots = try timeline.shots(totalFrames: Int((t + 61) * 25))
        #expect(shots.map(\.speaker) == ["A", "B"])
        #expect(shots[1].start == Int(((t + 30) * 25).rounded(.up))...Int(((t + 30.5) * 25).rounded(.down)))
    }
}
