import Foundation
import Testing

@testable import InfiniPipeline

/// Cue making from word timings, checked as properties over random word streams, and the SRT
/// and WebVTT writers, checked by reading back what they write.
@Suite("Captions", .ownThreads)
struct CaptionTests {
    /// SplitMix64: the same stream for the same seed, on every machine.
    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let vocabulary = [
        "the", "lander", "touched", "down", "gently", "nobody", "in", "room", "said", "a", "word", "then", "everyone",
        "began", "to", "cheer", "extraordinarily", "I", "spacecraft", "Moon", "commander", "reported", "safely",
        "supercalifragilisticexpialidocious",
    ]

    /// A random stream of words: short and long words, punctuation, small gaps and pauses, a
    /// word now and then longer than a cue may be, and runs of speakers when `speakers` > 1.
    static func stream(seed: UInt64, count: Int, speakers: Int) -> [Transcript.Word] {
        var rng = Seeded(state: seed)
        var t = Double.random(in: 0...2, using: &rng)
        var speaker = 0
        return (0..<count).map { _ in
            var text = vocabulary.randomElement(using: &rng)!
            let mark = Int.random(in: 0..<12, using: &rng)
            if mark == 0 { text += "." } else if mark == 1 { text += "," } else if mark == 2 { text += "?" }
            let length = Int.random(in: 0..<200, using: &rng) == 0 ? 8.5 : Double.random(in: 0.08...0.8, using: &rng)
            let start = t
            t += length
            let end = t
            let gap =
                Int.random(in: 0..<8, using: &rng) == 0
                ? Double.random(in: 0.6...2.5, using: &rng) : Double.random(in: 0...0.25, using: &rng)
            t += gap
            if speakers > 1, Int.random(in: 0..<15, using: &rng) == 0 { speaker = (speaker + 1) % speakers }
            return Transcript.Word(
                word: text, start: start, end: end, speaker: speakers > 1 ? ["Ada", "Bob Smith", "Cy"][speaker] : nil)
        }
    }

    /// Checks every rule on `cues` made from `words` (which the stream makes without overlaps).
    static func checkRules(_ cues: [Caption], _ words: [Transcript.Word], rules: CaptionRules = .standard, _ seed: UInt64) {
        let tolerance = 1e-9
        #expect(cues.flatMap { $0.text.split(separator: " ").map(String.init) } == words.map(\.word), "seed \(seed): words lost")
        var next = 0
        for (index, cue) in cues.enumerated() {
            let count = cue.text.split(separator: " ").count
            let covered = Array(words[next..<next + count])
            next += count
            let first = covered.first!
            let last = covered.last!
            let where_ = "seed \(seed) cue \(index) \(cue)"
            #expect(cue.start >= first.start - tolerance && cue.start <= first.start + tolerance, "\(where_)")
            #expect(cue.end <= last.end + rules.maxLinger + tolerance && cue.end >= last.end - tolerance, "\(where_)")
            if index + 1 < cues.count { #expect(cue.end <= cues[index + 1].start + tolerance, "\(where_) overlaps the next") }
            let duration = cue.end - cue.start
            #expect(duration <= rules.maxDuration + tolerance || covered.count == 1, "\(where_) lasts \(duration)")
            let atLimit =
                abs(cue.end - (last.end + rules.maxLinger)) < 1e-6
                || (index + 1 < cues.count && abs(cue.end - cues[index + 1].start) < 1e-6)
            #expect(duration >= rules.minDuration - tolerance || atLimit, "\(where_) lasts only \(duration)")
            #expect(cue.lines.count <= rules.maxLines && !cue.lines.isEmpty, "\(where_)")
            for (n, line) in cue.lines.enumerated() {
                let shown = (n == 0 ? cue.speaker.map { "\($0): " } ?? "" : "") + line
                #expect(shown.count <= rules.maxLineLength, "\(where_): \"\(shown)\" is too long")
            }
            for (a, b) in zip(covered, covered.dropFirst()) {
                #expect(b.start - a.end < rules.pause, "\(where_) spans a pause")
                if let speaker = cue.speaker { #expect(a.speaker == speaker && b.speaker == speaker, "\(where_) mixes speakers") }
            }
        }
    }

    @Test(arguments: [(UInt64(1), 1), (2, 1), (3, 2), (4, 3), (5, 1), (6, 2), (7, 1), (8, 2)])
    func cueRulesHoldOverRandomWordStreams(seed: UInt64, speakers: Int) {
        for round in 0..<25 {
            let s = seed * 1000 + UInt64(round)
            let words = Self.stream(seed: s, count: 10 + Int(s % 150), speakers: speakers)
            let transcript = Transcript(segments: [], words: words)
            let cues = transcript.captions()
            Self.checkRules(cues, CueMaker.prepared(words, rules: .standard), s)
            #expect(cues.allSatisfy { ($0.speaker != nil) == (transcript.speakers.count > 1) }, "seed \(s)")
            #expect(transcript.captions() == cues, "seed \(s): not deterministic")
        }
    }

    @Test func cuesBreakAfterSentencesAndAtPausesBeforeLength() {
        func w(_ text: String, _ start: Double, _ end: Double) -> Transcript.Word { .init(word: text, start: start, end: end) }
        let words = [
            w("The", 0, 0.3), w("lander", 0.3, 0.8), w("touched", 0.8, 1.2), w("down.", 1.2, 1.7),
            w("Nobody", 1.8, 2.2), w("spoke", 2.2, 2.6), w("then", 3.6, 3.9), w("they", 3.9, 4.1), w("cheered.", 4.1, 4.8),
        ]
        let cues = Transcript(segments: [], words: words).captions()
        #expect(cues.map(\.text) == ["The lander touched down.", "Nobody spoke", "then they cheered."])
        #expect(cues.map(\.start) == [0, 1.8, 3.6])
        #expect(cues.map(\.end) == [1.8, 3.1, 5.3])
    }

    @Test func longTextWrapsIntoTwoBalancedLines() {
        let text = "With only seconds of fuel left, the lander settled onto the dust."
        let cues = Transcript(segments: [.init(start: 0, end: 5, text: text)]).captions()
        #expect(cues.map(\.text).joined(separator: " ") == text)
        #expect(cues.allSatisfy { $0.lines.count <= 2 && $0.lines.allSatisfy { $0.count <= 42 } })
        #expect(cues[0].lines.first?.hasSuffix(",") == true, "\(cues)")
        #expect(cues.first?.start == 0 && cues.last!.end <= 5.5)
    }

    @Test func segmentsWithoutWordsShareTheirTime() {
        let segments = (0..<30).map { i in
            Transcript.Segment(
                start: Double(i) * 4, end: Double(i) * 4 + 3.5, text: "Sentence number \(i) is here, spoken clearly.",
                speaker: i % 3 == 0 ? "Ada" : "Bob")
        }
        let transcript = Transcript(segments: segments)
        let cues = transcript.captions()
        Self.checkRules(cues, CueMaker.prepared(CueMaker.words(of: segments), rules: .standard), 0)
        #expect(Set(cues.compactMap(\.speaker)) == ["Ada", "Bob"])
    }

    @Test func writersRoundTripThroughTheReaders() throws {
        for seed in UInt64(20)..<UInt64(30) {
            let words = Self.stream(seed: seed, count: 120, speakers: seed % 2 == 0 ? 2 : 1)
            let cues = Transcript(segments: [], words: words).captions()
            Self.checkRules(cues, CueMaker.prepared(words, rules: .standard), seed)
            for (text, name) in [(CaptionWriter.srt(cues), "r.srt"), (CaptionWriter.webVTT(cues), "r.vtt")] {
                let back = try Transcript.parse(Data(text.utf8), name: name, pathExtension: String(name.suffix(3)))
                #expect(back.segments.count == cues.count, "\(name) seed \(seed)")
                for (segment, cue) in zip(back.segments, cues) {
                    #expect(segment.text == cue.text && segment.speaker == cue.speaker, "\(name) seed \(seed)")
                    #expect(abs(segment.start - cue.start) <= 0.0005 + 1e-9 && abs(segment.end - cue.end) <= 0.0005 + 1e-9)
                }
            }
        }
    }

    @Test func writersSayWhoSpeaksAndEscape() throws {
        let cues = [
            Caption(start: 1.0006, end: 2.25, lines: ["Fish & chips <3", "tonight"], speaker: "Ada"),
            Caption(start: 3661.5, end: 3662, lines: ["Yes."], speaker: "Bob"),
        ]
        #expect(
            CaptionWriter.srt(cues)
                == "1\n00:00:01,001 --> 00:00:02,250\nAda: Fish & chips <3\ntonight\n\n2\n01:01:01,500 --> 01:01:02,000\nBob: Yes.\n\n"
        )
        let vtt = CaptionWriter.webVTT(cues)
        #expect(vtt.hasPrefix("WEBVTT\n\n00:00:01.001 --> 00:00:02.250\n<v Ada>Fish &amp; chips &lt;3\ntonight\n\n"))
        let back = try Transcript.parse(Data(vtt.utf8), name: "x.vtt")
        #expect(back.segments.map(\.text) == ["Fish & chips <3 tonight", "Yes."] && back.speakers == ["Ada", "Bob"])
    }

    /// The fixture transcripts: sentence times from how the fixtures were made (each espeak-ng
    /// sentence's length and the inserted silences, Fixtures/make-fixtures.sh).
    @Test func fixtureTranscriptsFitTheFixtureSpeech() throws {
        let short = try Transcript.read(
            file: Fixture.directory.appendingPathComponent("speech.srt"), audioDuration: 177360.0 / 22050)
        #expect(
            short.segments.map(\.text) == [
                "The lander touched down gently.", "Nobody in the room said a word.", "Then everyone began to cheer.",
            ])
        // The silences between the sentences are the 600 ms the script inserts.
        #expect(abs(short.segments[1].start - short.segments[0].end - 0.6) < 0.002)
        let long = try Transcript.read(file: Fixture.directory.appendingPathComponent("speech-long.srt"))
        #expect(long.segments.count == 16)
        let pauses = try JSONDecoder().decode(
            [[String: Double]].self, from: Data(contentsOf: Fixture.directory.appendingPathComponent("speech-long.pauses.json")))
        for (pause, (before, after)) in zip(pauses, zip(long.segments, long.segments.dropFirst())) {
            #expect(abs(before.end - pause["start"]!) < 0.001 && abs(after.start - pause["end"]!) < 0.001)
        }
        Self.checkRules(long.captions(), CueMaker.prepared(CueMaker.words(of: long.segments), rules: .standard), 0)
    }
}
