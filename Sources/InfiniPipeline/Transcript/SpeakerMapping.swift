// InfiniPipeline: a diarized transcript's voices named after the run's speakers.

import Foundation

/// How a diarized transcript's voices (`SPEAKER_00`, … in the order they are first heard) map
/// to the run's speakers: the first voice heard to the first speaker given, and so on, each
/// with its first words so that a user can see whether the order is right.
public struct SpeakerMapping: Sendable, Hashable, Codable {
    /// One voice.
    public struct Voice: Sendable, Hashable, Codable {
        /// The transcriber's label (`SPEAKER_00`).
        public var label: String
        /// The speaker it is mapped to; nil when there are more voices than speakers.
        public var name: String?
        /// When it is first heard, in seconds.
        public var firstHeard: Double
        /// Its first words (up to eight).
        public var firstWords: String
    }

    /// The voices, in the order they are first heard.
    public var voices: [Voice]

    /// A mapping of these voices.
    public init(voices: [Voice]) { self.voices = voices }

    /// Maps the voices of `transcript` to `names`, in order of first appearance.
    public init(transcript: Transcript, names: [String]) {
        let pieces: [(speaker: String?, start: Double, text: String)] =
            transcript.words.isEmpty
            ? transcript.segments.map { ($0.speaker, $0.start, $0.text) }
            : transcript.words.map { ($0.speaker, $0.start, $0.word) }
        var voices: [Voice] = []
        // The voice whose first turn is still going: only its first turn gives its first words.
        var opening: String? = nil
        for piece in pieces {
            guard let label = piece.speaker else { continue }
            if let i = voices.firstIndex(where: { $0.label == label }) {
                if label != opening { opening = nil }
                if label == opening, voices[i].firstWords.split(separator: " ").count < 8, !transcript.words.isEmpty {
                    voices[i].firstWords += " " + piece.text.trimmingCharacters(in: .whitespaces)
                }
            } else {
                opening = label
                let words = piece.text.trimmingCharacters(in: .whitespaces).split(separator: " ").prefix(8)
                voices.append(
                    Voice(
                        label: label, name: voices.count < names.count ? names[voices.count] : nil, firstHeard: piece.start,
                        firstWords: words.joined(separator: " ")))
            }
        }
        self.voices = voices
    }

    /// `transcript` with each voice's label replaced by its speaker's name (a voice without
    /// a speaker keeps its label).
    public func renaming(_ transcript: Transcript) -> Transcript {
        let names = Dictionary(uniqueKeysWithValues: voices.map { ($0.label, $0.name ?? $0.label) })
        var renamed = transcript
        for i in renamed.words.indices { renamed.words[i].speaker = renamed.words[i].speaker.map { names[$0] ?? $0 } }
        for i in renamed.segments.indices {
            renamed.segments[i].speaker = renamed.segments[i].speaker.map { names[$0] ?? $0 }
        }
        return renamed
    }

    /// One line per voice: `SPEAKER_00 → ann (0:00:01.20): "So tell me how it began"`.
    public var lines: [String] {
        voices.map { voice in
            let centiseconds = Int((voice.firstHeard * 100).rounded())
            let seconds = centiseconds / 100
            let clock = String(
                format: "%d:%02d:%02d.%02d", seconds / 3600, seconds / 60 % 60, seconds % 60, centiseconds % 100)
            return "\(voice.label) → \(voice.name ?? "(no --speaker)") (\(clock)): \"\(voice.firstWords)\""
        }
    }
}

/// What a run with the automatic speaker source (``SpeakerSource/automatic``) found: the
/// mapping of the diarized transcript's voices to the speakers, and what the transcript cost.
/// The `speakerMapping` event and the `speakerMapping` key of `plan --json`.
public struct SpeakerMappingReport: Sendable, Equatable, Codable {
    /// The endpoint that made the transcript (`fal-ai/whisper`).
    public var source: String
    /// What this run paid for it, US dollars (0 when it came from the cache).
    public var cost: Double
    /// Whether it came from the transcript cache.
    public var cached: Bool
    /// The voices, in the order they are first heard, each with its speaker and first words.
    public var voices: [SpeakerMapping.Voice]

    public init(source: String, cost: Double, cached: Bool, mapping: SpeakerMapping) {
        self.source = source
        self.cost = cost
        self.cached = cached
        self.voices = mapping.voices
    }

    /// One line per voice (``SpeakerMapping/lines``).
    public var lines: [String] { SpeakerMapping(voices: voices).lines }
}
