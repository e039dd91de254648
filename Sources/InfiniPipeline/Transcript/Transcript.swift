// InfiniPipeline: what was said and when, as a value, and reading it from a user's file.

import Foundation

/// What was said and when: timed segments (sentences or cues) and, when known, timed words,
/// each with its speaker when known. Times are seconds from the start of the audio.
///
/// Read one from a file with ``read(file:audioDuration:)``; make captions from it with
/// ``captions(rules:)``.
public struct Transcript: Codable, Sendable, Hashable {
    /// A stretch of speech: a sentence, a Whisper segment or a subtitle cue.
    public struct Segment: Codable, Sendable, Hashable {
        /// Start, in seconds from the start of the audio.
        public var start: Double
        /// End, in seconds; never before ``start``.
        public var end: Double
        /// What was said, on one line, without markup.
        public var text: String
        /// Who said it, when known.
        public var speaker: String?

        public init(start: Double, end: Double, text: String, speaker: String? = nil) {
            self.start = start
            self.end = end
            self.text = text
            self.speaker = speaker
        }
    }

    /// One word, with the time it is heard.
    public struct Word: Codable, Sendable, Hashable {
        /// The word as written, with its punctuation (`"down,"`).
        public var word: String
        /// When the word starts being heard, in seconds.
        public var start: Double
        /// When it stops being heard, in seconds; never before ``start``.
        public var end: Double
        /// Who said it, when known.
        public var speaker: String?

        public init(word: String, start: Double, end: Double, speaker: String? = nil) {
            self.word = word
            self.start = start
            self.end = end
            self.speaker = speaker
        }
    }

    /// The file formats a transcript is read from.
    public enum Format: String, Codable, Sendable, CaseIterable {
        /// SubRip (`.srt`).
        case srt
        /// WebVTT (`.vtt`).
        case webVTT
        /// JSON as Whisper-style tools write it (`{"segments": [...]}`), whisper.cpp's
        /// (`{"transcription": [...]}`) included.
        case whisperJSON
        /// JSON as fal's `fal-ai/whisper` and `fal-ai/wizper` return it (`{"chunks": [...]}`).
        case falChunks
    }

    /// The segments, in order of start.
    public var segments: [Segment]
    /// The words, in order of start; empty when only segments are known.
    public var words: [Word]
    /// The language spoken (an ISO 639-1 code such as `en`), when known.
    public var language: String? = nil

    public init(segments: [Segment], words: [Word] = []) {
        self.segments = segments
        self.words = words
    }

    /// The speakers, in the order they are first heard.
    public var speakers: [String] {
        var seen: [String] = []
        for name in (words.isEmpty ? segments.map(\.speaker) : words.map(\.speaker)).compactMap({ $0 })
        where !seen.contains(name) {
            seen.append(name)
        }
        return seen
    }

    /// The latest time the transcript names (0 when empty).
    public var end: Double {
        max(segments.map(\.end).max() ?? 0, words.map(\.end).max() ?? 0)
    }

    /// Reads a user's transcript, choosing the format by the file's content (a `WEBVTT` header,
    /// JSON) and then its extension (`.vtt`; anything else is read as SRT).
    ///
    /// - Parameters:
    ///   - file: the transcript file.
    ///   - audioDuration: the length of the audio it is for, in seconds; when given, a time
    ///     past it is refused and a chunk without an end (fal) ends there.
    /// - Throws: ``TranscriptError`` naming the file and line.
    public static func read(file: URL, audioDuration: Double? = nil) throws -> Transcript {
        let data: Data
        do {
            data = try Data(contentsOf: file)
        } catch {
            throw TranscriptError.unreadable(file: file.path, "cannot be read (\(error.localizedDescription))")
        }
        return try parse(data, name: file.path, pathExtension: file.pathExtension, audioDuration: audioDuration)
    }

    /// ``read(file:audioDuration:)`` as an initializer.
    public init(contentsOf file: URL, audioDuration: Double? = nil) throws {
        self = try Transcript.read(file: file, audioDuration: audioDuration)
    }

    /// Reads a transcript from bytes; `name` is used in errors, `pathExtension` (`"vtt"`) helps
    /// choose the format when the content does not tell.
    ///
    /// - Throws: ``TranscriptError`` naming `name` and the line.
    public static func parse(
        _ data: Data, name: String, pathExtension: String = "", format: Format? = nil, audioDuration: Double? = nil
    ) throws -> Transcript {
        guard var text = String(data: data, encoding: .utf8) else {
            throw TranscriptError.unreadable(file: name, "is not UTF-8 text")
        }
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        let format = format ?? detectFormat(text, pathExtension: pathExtension)
        let lined: Lined
        switch format {
        case .srt, .webVTT: lined = try SubtitleReader(text: text, name: name).read()
        case .whisperJSON, .falChunks:
            lined = try TranscriptJSONReader(text: text, name: name, audioDuration: audioDuration).read()
        }
        if let audioDuration { try lined.check(audioDuration: audioDuration, name: name) }
        return lined.transcript(clampedTo: audioDuration)
    }

    /// The format `text` is in: JSON by its first character (`chunks` or not), WebVTT by its
    /// header or the extension, SRT otherwise.
    static func detectFormat(_ text: String, pathExtension: String) -> Format {
        let head = text.drop { $0.isWhitespace || $0.isNewline }
        if head.first == "{" || head.first == "[" {
            return head.prefix(4096).contains("\"chunks\"") || head.prefix(4096).contains("\"timestamp\"")
                ? .falChunks : .whisperJSON
        }
        if head.hasPrefix("WEBVTT") || pathExtension.lowercased() == "vtt" { return .webVTT }
        return .srt
    }

    /// Refuses a time past the end of the audio (beyond a rounding `tolerance`), naming the
    /// transcript by `name`; use it on a transcript that did not come from a file.
    ///
    /// - Throws: ``TranscriptError`` of kind ``ErrorKind/beyondAudio``.
    public func check(audioDuration: Double, name: String, tolerance: Double = 0.05) throws {
        let late = (segments.map(\.end) + words.map(\.end)).first { $0 > audioDuration + tolerance }
        if let late { throw TranscriptError.beyondAudio(file: name, line: nil, time: late, audioSeconds: audioDuration) }
    }

    /// A transcript being read: each segment and word with the line it came from.
    struct Lined {
        /// Times this much past the audio's end are rounding, not another recording's.
        static let tolerance = 0.05

        var segments: [(Segment, line: Int)] = []
        var words: [(Word, line: Int)] = []

        func check(audioDuration: Double, name: String) throws {
            for (time, line) in segments.map({ ($0.0.end, $0.line) }) + words.map({ ($0.0.end, $0.line) })
            where time > audioDuration + Self.tolerance {
                throw TranscriptError.beyondAudio(file: name, line: line, time: time, audioSeconds: audioDuration)
            }
        }

        func transcript(clampedTo duration: Double?) -> Transcript {
            func clamp(_ t: Double) -> Double { duration.map { min(t, $0) } ?? t }
            let segments = segments.map { s, _ in
                Segment(start: clamp(s.start), end: clamp(s.end), text: s.text, speaker: s.speaker)
            }
            let words = words.map { w, _ in Word(word: w.word, start: clamp(w.start), end: clamp(w.end), speaker: w.speaker) }
            return Transcript(
                segments: segments.enumerated().sorted { ($0.element.start, $0.offset) < ($1.element.start, $1.offset) }
                    .map(\.element),
                words: words.enumerated().sorted { ($0.element.start, $0.offset) < ($1.element.start, $1.offset) }
                    .map(\.element))
        }
    }
}
