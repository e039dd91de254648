import Foundation
import Testing

@testable import InfiniPipeline

/// Transcripts as other tools write them: SRT and WebVTT (whisper.cpp, ffmpeg, YouTube, Windows
/// editors), Whisper-style JSON and fal's chunks; malformed files refused naming their line.
@Suite("Transcript reading", .ownThreads)
struct TranscriptReadingTests {
    static func parse(_ text: String, name: String = "t.srt", audio: Double? = nil) throws -> Transcript {
        try Transcript.parse(
            Data(text.utf8), name: name, pathExtension: (name as NSString).pathExtension, audioDuration: audio)
    }

    static func error(_ text: String, name: String = "t.srt", audio: Double? = nil) -> TranscriptError? {
        do {
            _ = try parse(text, name: name, audio: audio)
            return nil
        } catch {
            return error as? TranscriptError
        }
    }

    @Test func whisperCppSRT() throws {
        let srt = """
            1
            00:00:00,000 --> 00:00:02,200
             The lander touched down gently.

            2
            00:00:02,800 --> 00:00:05,074
             Nobody in the room said a word.

            """
        let t = try Self.parse(srt)
        #expect(t.segments.map(\.text) == ["The lander touched down gently.", "Nobody in the room said a word."])
        #expect(t.segments.map(\.start) == [0, 2.8] && t.segments.map(\.end) == [2.2, 5.074])
        #expect(t.words.isEmpty && t.speakers.isEmpty)
    }

    @Test func windowsSRTWithBOMTagsAndMultiLineCues() throws {
        let srt =
            "\u{FEFF}1\r\n00:00:01,500 --> 00:00:03,000\r\n<i>Hello</i> <b>there</b>,\r\n<font color=\"#ffff00\">friend</font> &amp; co.\r\n\r\n"
            + "2\r\n00:00:03,250 --> 00:00:04,000\r\n{\\an8}Up top.\r\n\r\n"
        let t = try Self.parse(srt)
        #expect(t.segments.map(\.text) == ["Hello there, friend & co.", "Up top."])
        #expect(t.segments[0].start == 1.5 && t.segments[1].end == 4)
    }

    @Test func unnumberedSRTAndShortTimes() throws {
        let t = try Self.parse("00:01,000 --> 00:02.5\nOne.\n\n01:00:00,000 --> 01:00:01,000\nTwo.\n")
        #expect(t.segments.map(\.start) == [1, 3600] && t.segments[0].end == 2.5)
    }

    @Test func whisperCppVTT() throws {
        let vtt = "WEBVTT\n\n00:00:00.000 --> 00:00:02.200\n The lander touched down gently.\n\n"
        let t = try Self.parse(vtt, name: "talk.vtt")
        #expect(t.segments == [Transcript.Segment(start: 0, end: 2.2, text: "The lander touched down gently.")])
    }

    @Test func ffmpegExtractedVTT() throws {
        // `ffmpeg -i film.mkv subs.vtt`: short times, no cue numbers.
        let vtt = "WEBVTT\n\n00:01.000 --> 00:03.000\n<i>Hello.</i>\n\n00:04.000 --> 00:05.500\nSecond line\nof text.\n\n"
        let t = try Self.parse(vtt, name: "subs.vtt")
        #expect(t.segments.map(\.text) == ["Hello.", "Second line of text."])
        #expect(t.segments.map(\.end) == [3, 5.5])
    }

    @Test func youTubeStyleVTTWithSettingsNotesStylesAndVoices() throws {
        let vtt = """
            WEBVTT
            Kind: captions
            Language: en

            STYLE
            ::cue { color: white; }

            NOTE this note
            spans two lines

            intro
            00:00:00.500 --> 00:00:02.000 align:start position:10%
            <v Ada Lovelace>Welcome <00:00:01.000><c>back</c>.

            00:00:02.000 --> 00:00:03.000 line:90% size:80%
            <v.loud Bob>Thanks!</v>

            """
        let t = try Self.parse(vtt, name: "yt.en.vtt")
        #expect(t.segments.map(\.text) == ["Welcome back.", "Thanks!"])
        #expect(t.segments.map(\.speaker) == ["Ada Lovelace", "Bob"])
        #expect(t.speakers == ["Ada Lovelace", "Bob"])
        #expect(t.segments[0].start == 0.5)
    }

    @Test func srtWithNamePrefixesReadsSpeakers() throws {
        let t = try Self.parse(
            "1\n00:00:00,000 --> 00:00:01,000\nAda: Hi.\n\n2\n00:00:01,000 --> 00:00:02,000\nBob: Hello: you.\n")
        #expect(t.segments.map(\.speaker) == ["Ada", "Bob"] && t.segments.map(\.text) == ["Hi.", "Hello: you."])
        // One cue without a prefix: the colons are text.
        let plain = try Self.parse("00:00:00,000 --> 00:00:01,000\nNote: a.\n\n00:00:01,000 --> 00:00:02,000\nplain\n")
        #expect(plain.segments.map(\.speaker) == [nil, nil] && plain.segments[0].text == "Note: a.")
    }

    @Test func whisperJSONWithWords() throws {
        let json = """
            {"text": " Hello world. Bye.", "language": "en",
             "segments": [
              {"id": 0, "start": 0.0, "end": 1.2, "text": " Hello world.",
               "words": [{"word": " Hello", "start": 0.0, "end": 0.5, "probability": 0.9},
                         {"word": " world.", "start": 0.6, "end": 1.2}]},
              {"id": 1, "start": 1.5, "end": 2.0, "text": " Bye.", "speaker": "SPEAKER_01",
               "words": [{"word": "Bye.", "speaker": "SPEAKER_01"}]}
             ]}
            """
        let t = try Self.parse(json, name: "w.json")
        #expect(t.segments.map(\.text) == ["Hello world.", "Bye."])
        #expect(t.words.map(\.word) == ["Hello", "world.", "Bye."])
        #expect(t.words[2].start == 1.5 && t.words[2].end == 2 && t.words[2].speaker == "SPEAKER_01")
    }

    @Test func whisperCppJSON() throws {
        let json = """
            {"transcription": [{"timestamps": {"from": "00:00:00,000", "to": "00:00:02,200"},
              "offsets": {"from": 0, "to": 2200}, "text": " The lander touched down gently."}]}
            """
        let t = try Self.parse(json, name: "w.json")
        #expect(t.segments == [Transcript.Segment(start: 0, end: 2.2, text: "The lander touched down gently.")])
    }

    @Test func falChunksWithSpeakersAndANullEnd() throws {
        let json = """
            {"text": "Hi there. Hello.",
             "chunks": [
              {"timestamp": [0.0, 1.0], "text": " Hi there.", "speaker": "SPEAKER_00"},
              {"timestamp": [1.4, null], "text": " Hello.", "speaker": "SPEAKER_01"}
             ], "inferred_languages": ["en"]}
            """
        let open = try Self.parse(json, name: "fal.json")
        #expect(open.segments.map(\.speaker) == ["SPEAKER_00", "SPEAKER_01"] && open.speakers.count == 2)
        #expect(open.segments[1].end == 1.4)  // no end and no audio: the chunk ends where it starts
        let closed = try Self.parse(json, name: "fal.json", audio: 3)
        #expect(closed.segments[1].end == 3)
    }

    @Test func falWordChunksMakeWordsAndSentences() throws {
        let json = """
            {"chunks": [{"timestamp": [0.0, 0.4], "text": " Hi"}, {"timestamp": [0.5, 0.9], "text": " there."},
                        {"timestamp": [1.2, null], "text": " Bye."}]}
            """
        let t = try Self.parse(json, name: "fal.json")
        #expect(t.words.map(\.word) == ["Hi", "there.", "Bye."] && t.words[2].end == 1.2)
        #expect(t.segments.map(\.text) == ["Hi there.", "Bye."])
    }

    @Test func malformedFilesAreRefusedNamingTheLine() throws {
        let cases: [(String, String, Int)] = [
            ("1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:0x,000 --> 00:00:03,000\nbad\n", "a.srt", 6),
            ("1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\nno times here\n", "b.srt", 6),
            ("WEBVTT\n\n00:00:05.000 --> 00:00:04.000\nbackwards\n", "c.vtt", 3),
            ("{\"segments\": [\n {\"start\": 0, \"end\": 1, \"text\": \"a\"},\n {\"start\": \"x\", \"end\": 2}\n]}", "d.json", 3),
            ("{\"segments\": [\n {\"start\": 0, \"end\": 1,\n \"text\": \"a\"\n ]}", "e.json", 4),
            ("{\"chunks\": [\n {\"timestamp\": [2.0], \"text\": \"a\"}]}", "f.json", 2),
        ]
        for (text, name, line) in cases {
            let error = try #require(Self.error(text, name: name), "\(name) was read")
            #expect(error.kind == .malformed && error.line == line && error.file == name, "\(error)")
            #expect(error.description.hasPrefix("\(name):\(line): ") && error.fault == .input, "\(error)")
        }
        #expect(Self.error("\n\n", name: "empty.srt")?.kind == .empty)
        #expect(Self.error("WEBVTT\n\nNOTE nothing\n", name: "n.vtt")?.kind == .empty)
        #expect(Self.error("{\"chunks\": []}", name: "g.json")?.kind == .empty)
    }

    @Test func timesBeyondTheAudioAreRefused() throws {
        let srt = "1\n00:00:01,000 --> 00:00:02,000\na\n\n2\n00:00:09,000 --> 00:00:10,500\nb\n"
        let error = try #require(Self.error(srt, name: "late.srt", audio: 10))
        #expect(error.kind == .beyondAudio && error.line == 6 && error.description.hasPrefix("late.srt:6: "))
        // Rounding past the end is not another recording: clamped.
        #expect(try Self.parse(srt, name: "late.srt", audio: 10.48).segments[1].end == 10.48)
        let t = try Self.parse(srt)
        #expect(throws: TranscriptError.self) { try t.check(audioDuration: 5, name: "fal-ai/whisper") }
        try t.check(audioDuration: 11, name: "fal-ai/whisper")
    }

    @Test func readsFilesAndChoosesByContentThenExtension() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let vtt = dir.url.appendingPathComponent("noheader.vtt")
        try Data("00:01.000 --> 00:02.000\nx\n".utf8).write(to: vtt)
        #expect(try Transcript(contentsOf: vtt).segments.count == 1)
        let json = dir.url.appendingPathComponent("t.txt")
        try Data("{\"segments\": [{\"start\": 0, \"end\": 1, \"text\": \"a\"}]}".utf8).write(to: json)
        #expect(try Transcript.read(file: json).segments.map(\.text) == ["a"])
        #expect(Transcript.detectFormat("WEBVTT\n", pathExtension: "srt") == .webVTT)
        #expect(Transcript.detectFormat(" {\"chunks\": []}", pathExtension: "srt") == .falChunks)
        let missing = dir.url.appendingPathComponent("none.srt")
        #expect(throws: TranscriptError.self) { try Transcript.read(file: missing) }
        try Data([0xFF, 0xFE, 0x00]).write(to: json)
        #expect((try? Transcript.read(file: json)) == nil)
    }
}
