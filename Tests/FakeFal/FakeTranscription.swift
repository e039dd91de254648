// The fake fal server's speech-to-text endpoints: fal-ai/whisper and fal-ai/wizper answer with
// the fixture speech's words, timed as the fixture was made.

import Foundation

/// What the fake `fal-ai/whisper` and `fal-ai/wizper` hear: sentences with their times (and
/// speakers); words are timed inside each sentence in proportion to their length.
public struct FakeTranscript: Sendable {
    /// One sentence as the fixture script wrote it.
    public struct Sentence: Sendable {
        public var start: Double
        public var end: Double
        public var text: String
        public var speaker: String?
        public init(start: Double, end: Double, text: String, speaker: String? = nil) {
            self.start = start
            self.end = end
            self.text = text
            self.speaker = speaker
        }
    }

    public var sentences: [Sentence]
    /// The language the fake reports having detected.
    public var language = "en"

    public init(sentences: [Sentence]) { self.sentences = sentences }

    /// `Fixtures/speech.*`: three sentences spoken by one voice, with 600 ms pauses (the times
    /// `make-fixtures.sh` wrote into `speech.srt`).
    public static let speech = FakeTranscript(sentences: [
        Sentence(start: 0, end: 2.2, text: "The lander touched down gently."),
        Sentence(start: 2.8, end: 5.074, text: "Nobody in the room said a word."),
        Sentence(start: 5.674, end: 8.044, text: "Then everyone began to cheer."),
    ])

    /// The endpoints the fake answers as speech to text.
    public static let endpoints: Set<String> = ["fal-ai/whisper", "fal-ai/wizper"]

    /// Each word with its time: a sentence's time shared among its words by their length.
    public var words: [(word: String, start: Double, end: Double, speaker: String?)] {
        sentences.flatMap { s -> [(word: String, start: Double, end: Double, speaker: String?)] in
            let parts = s.text.split(separator: " ").map(String.init)
            let total = Double(parts.reduce(0) { $0 + $1.count + 1 })
            var at = s.start
            return parts.map { part in
                let length = (s.end - s.start) * Double(part.count + 1) / total
                defer { at += length }
                return (part, (at * 1000).rounded() / 1000, (min(s.end, at + length) * 1000).rounded() / 1000, s.speaker)
            }
        }
    }

    /// The result fal would send for `input` on `endpoint`.
    func answer(endpoint: String, input: [String: Any]) -> [String: Any] {
        let wordLevel = endpoint == "fal-ai/whisper" && (input["chunk_level"] as? String) == "word"
        let diarize = endpoint == "fal-ai/whisper" && (input["diarize"] as? Bool) == true
        var labels: [String: String] = [:]
        func label(_ speaker: String?) -> String {
            let name = speaker ?? "one"
            if let known = labels[name] { return known }
            let made = String(format: "SPEAKER_%02d", labels.count)
            labels[name] = made
            return made
        }
        var chunks: [[String: Any]] = []
        if wordLevel {
            for w in words {
                var chunk: [String: Any] = ["timestamp": [w.start, w.end], "text": " " + w.word]
                if diarize { chunk["speaker"] = label(w.speaker) }
                chunks.append(chunk)
            }
        } else {
            for s in sentences {
                var chunk: [String: Any] = ["timestamp": [s.start, s.end], "text": " " + s.text]
                if diarize { chunk["speaker"] = label(s.speaker) }
                chunks.append(chunk)
            }
        }
        var body: [String: Any] = ["text": sentences.map(\.text).joined(separator: " "), "chunks": chunks]
        let detected = (input["language"] as? String) ?? language
        if endpoint == "fal-ai/whisper" {
            body["inferred_languages"] = [detected]
            if diarize {
                body["diarization_segments"] = sentences.map { ["timestamp": [$0.start, $0.end], "speaker": label($0.speaker)] }
            }
        } else {
            body["languages"] = [detected]
        }
        return body
    }
}

extension FakeFalServer {
    /// The speech-to-text requests received, in order: the endpoint and the input sent.
    public var transcriptionRequests: [(endpoint: String, input: [String: Any])] {
        state.withLockedValue { state in
            state.transcriptionOrder.compactMap { id in
                state.transcriptions[id].map {
                    ($0.endpoint, (try? JSONSerialization.jsonObject(with: Data($0.body)) as? [String: Any]) ?? [:])
                }
            }
        }
    }
}
