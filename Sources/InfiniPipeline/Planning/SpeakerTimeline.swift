// InfiniPipeline: who speaks when, on the audio's timeline, from exactly one source.

import Foundation

/// Where who-speaks-when comes from: exactly one of a diarization file, one recording per
/// speaker, one channel of the audio per speaker, or the audio's own diarized transcript.
@nonexhaustive
public enum SpeakerSource: Sendable, Equatable {
    /// An RTTM file (what pyannote and other diarizers write) whose speaker names are the
    /// speakers' names; its times are on the audio's timeline.
    case diarization(path: String)
    /// Each speaker's own recording (speaker name → file), on the same timeline as the audio and
    /// as long as it: the isolated microphone tracks that remote-recording tools export.
    case tracks([String: String])
    /// The audio channel (from 0) that carries each speaker (speaker name → channel): a two-mic
    /// interview recorded to left and right.
    case channels([String: Int])
    /// The audio's diarized transcript: a ``Pipeline`` transcribes the audio on `fal-ai/whisper`
    /// with `diarize` and `num_speakers` set to the number of speakers (or takes it from the
    /// transcript cache) before planning. The voices, in the order they are first heard, are the
    /// speakers in the order given (``SpeakerMapping``); a voice beyond the speakers is nobody's
    /// (its turns stay in the shot around them). Planning alone takes the diarized transcript
    /// from ``PlanningOptions/transcript`` (see ``SpeakerTimeline/diarized(_:speakers:duration:)``).
    case automatic
}

/// Who speaks when: for each speaker, the sorted, disjoint time ranges in which their voice is
/// heard, in seconds on the audio's timeline.
///
/// Ranges of different speakers may overlap (overlapping speech). Made from an RTTM file, from
/// per-speaker tracks, from the audio's channels or from a diarized transcript with
/// ``load(_:speakers:audio:detector:transcript:)``;
/// ``shots(totalFrames:minShot:)`` turns it into the edit.
public struct SpeakerTimeline: Sendable, Equatable {
    /// The speakers' names, in the order given.
    public var speakers: [String]
    /// For each speaker (same order as ``speakers``), the ranges in which their voice is heard,
    /// in seconds, sorted and disjoint.
    public var voiced: [[Range<Double>]]
    /// The audio's duration in seconds: every range lies within `0..<duration`.
    public var duration: Double
    /// What reading the source found odd but accepted (a speaker who never speaks, ranges past
    /// the end of the audio), one line each.
    public var warnings: [String]

    /// A timeline from ranges in any order: each speaker's ranges are clipped to
    /// `0..<duration`, sorted, and overlapping or touching ranges merged; empty ones are dropped.
    /// - Parameters:
    ///   - speakers: The speakers' names.
    ///   - voiced: Per speaker (same order), the ranges in which they speak, in seconds.
    ///   - duration: The audio's duration in seconds.
    ///   - warnings: Notes to pass on.
    public init(speakers: [String], voiced: [[Range<Double>]], duration: Double, warnings: [String] = []) {
        self.speakers = speakers
        self.duration = duration
        self.warnings = warnings
        self.voiced = speakers.indices.map { index in
            let ranges = index < voiced.count ? voiced[index] : []
            return SpeakerTimeline.normalized(ranges, duration: duration)
        }
    }

    /// The ranges in which `name` speaks (empty for a name that is not a speaker).
    /// - Parameter name: A speaker's name.
    public func voiced(_ name: String) -> [Range<Double>] {
        speakers.firstIndex(of: name).map { voiced[$0] } ?? []
    }

    /// Clipped, sorted, merged.
    static func normalized(_ ranges: [Range<Double>], duration: Double) -> [Range<Double>] {
        var clipped = ranges.compactMap { range -> Range<Double>? in
            let lower = max(0, range.lowerBound)
            let upper = min(duration, range.upperBound)
            return upper > lower ? lower..<upper : nil
        }
        clipped.sort { $0.lowerBound < $1.lowerBound }
        var merged: [Range<Double>] = []
        for range in clipped {
            if let last = merged.last, range.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        return merged
    }

    /// Whether `name` holds a control character (a newline, a tab, an escape, …): such a name
    /// would break the one-line messages and files it appears in, and could drive a terminal.
    package static func hasControlCharacters(_ name: String) -> Bool {
        name.unicodeScalars.contains {
            [.control, .lineSeparator, .paragraphSeparator].contains($0.properties.generalCategory)
        }
    }

    /// Checks a list of speaker names: at least one, none empty, none with control characters,
    /// no two alike.
    /// - Throws: ``SpeakerError`` of kind `invalidSpeakers`.
    static func check(speakers: [String]) throws {
        guard !speakers.isEmpty else { throw SpeakerError.invalidSpeakers("no speakers: at least one is needed") }
        var seen = Set<String>()
        for name in speakers {
            guard !name.isEmpty else { throw SpeakerError.invalidSpeakers("a speaker has an empty name") }
            guard !hasControlCharacters(name) else {
                // Shown escaped (`"a\nb"`): the raw name would break the line or reach the terminal.
                throw SpeakerError.invalidSpeakers(
                    "speaker name \(name.debugDescription) holds a control character: names are single-line text")
            }
            guard seen.insert(name).inserted else {
                throw SpeakerError.invalidSpeakers("two speakers are named \"\(name)\": names must differ")
            }
        }
    }

    // MARK: - Loading

    /// Who speaks when in `audio`, read from `source`.
    ///
    /// - A diarization file is read with ``diarization(rttm:file:speakers:duration:)``.
    /// - Tracks are decoded (any format the package reads); each must last as long as the audio
    ///   (within ``trackLengthTolerance``).
    /// - Channels are channels of the audio file itself (`audio.source`).
    /// - ``SpeakerSource/automatic`` reads `transcript` with ``diarized(_:speakers:duration:)``.
    ///
    /// For tracks and channels the voice activity is found per track with levels relative to
    /// the track's own speech (see ``PauseDetector``): a voice is where the track is not in a
    /// pause, and a voice heard on two tracks (bleed between microphones, typically 10–25 dB
    /// lower) belongs to the track on which it is louder.
    /// - Parameters:
    ///   - source: Where who-speaks-when comes from.
    ///   - speakers: The speakers' names (those of the RTTM file, the tracks or channels).
    ///   - audio: The analysed final mix, whose timeline everything is measured on.
    ///   - detector: How pauses are found (the planner's by default).
    ///   - transcript: The diarized transcript of ``SpeakerSource/automatic`` (unused otherwise).
    /// - Throws: ``SpeakerError`` for a bad RTTM line, an unknown or missing name, a track of
    ///   another length, a missing channel or a transcript without voices; `MediaError` for a
    ///   file that cannot be decoded.
    public static func load(
        _ source: SpeakerSource, speakers: [String], audio: AudioAnalysis, detector: PauseDetector = PauseDetector(),
        transcript: Transcript? = nil
    ) throws -> SpeakerTimeline {
        try check(speakers: speakers)
        switch source {
        case .automatic:
            guard let transcript else {
                throw SpeakerError.notDiarized(
                    "the automatic speaker source needs the audio's diarized transcript; none was given")
            }
            return try diarized(transcript, speakers: speakers, duration: audio.duration)
        case .diarization(let path):
            try FileChecks.requireInputFile(path, role: "diarization")
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw MediaError(.cannotOpen, file: path, "cannot be read as a UTF-8 text file")
            }
            return try diarization(rttm: text, file: path, speakers: speakers, duration: audio.duration)
        case .tracks(let files):
            try checkNames(Array(files.keys), speakers: speakers, what: "a speaker track")
            var envelopes: [LoudnessEnvelope] = []
            for name in speakers {
                try FileChecks.requireInputFile(files[name]!, role: "speaker track")
            }
            if let (first, second) = sameFile(speakers.map { files[$0]! }) {
                throw SpeakerError.sharedSource(
                    speakers[first], speakers[second], "the same track \(files[speakers[second]]!)")
            }
            for name in speakers {
                let file = files[name]!
                let loudness = try ChannelLoudness.read(path: file, mono: true)
                if abs(loudness.duration - audio.duration) > trackLengthTolerance {
                    throw SpeakerError.trackLength(
                        file: file, seconds: loudness.duration, audio: audio.source, audioSeconds: audio.duration)
                }
                envelopes.append(loudness.channels[0])
            }
            return fromActivity(envelopes, speakers: speakers, duration: audio.duration, detector: detector)
        case .channels(let numbers):
            try checkNames(Array(numbers.keys), speakers: speakers, what: "a channel")
            for (i, name) in speakers.enumerated() {
                if let other = speakers[..<i].first(where: { numbers[$0] == numbers[name] }) {
                    throw SpeakerError.sharedSource(other, name, "channel \(numbers[name]!)")
                }
            }
            let channels = audio.format.channels
            for name in speakers where !(0..<channels).contains(numbers[name]!) {
                throw SpeakerError.missingChannel(numbers[name]!, file: audio.source, channels: channels)
            }
            let loudness = try ChannelLoudness.read(path: audio.source)
            let envelopes = speakers.map { loudness.channels[numbers[$0]!] }
            return fromActivity(envelopes, speakers: speakers, duration: audio.duration, detector: detector)
        }
    }

    /// The first two of `paths` that name one file, as indexes.
    private static func sameFile(_ paths: [String]) -> (Int, Int)? {
        for j in paths.indices {
            if let i = paths[..<j].indices.first(where: { FileChecks.sameFile(paths[$0], paths[j]) }) { return (i, j) }
        }
        return nil
    }

    /// How far a speaker track's length may differ from the audio's, in seconds (0.05).
    public static let trackLengthTolerance = 0.05

    private static func checkNames(_ names: [String], speakers: [String], what: String) throws {
        for name in names.sorted() where !speakers.contains(name) {
            throw SpeakerError.unknownSpeaker(name: name, of: what, speakers: speakers)
        }
        for name in speakers where !names.contains(name) {
            throw SpeakerError.missingSource(speaker: name, what)
        }
    }

    private static func fromActivity(
        _ envelopes: [LoudnessEnvelope], speakers: [String], duration: Double, detector: PauseDetector
    ) -> SpeakerTimeline {
        let voiced = VoiceActivity.voicedRanges(envelopes, detector: detector)
        var warnings: [String] = []
        for (index, name) in speakers.enumerated() where voiced[index].isEmpty {
            warnings.append("speaker \"\(name)\" is never heard on their own track or channel")
        }
        return SpeakerTimeline(speakers: speakers, voiced: voiced, duration: duration, warnings: warnings)
    }

    /// Who speaks when, read from the text of an RTTM file.
    ///
    /// Each `SPEAKER <file> <channel> <start> <duration> <NA> <NA> <name> <NA> <NA>` line says
    /// that `name` speaks from `start` for `duration` seconds. Lines may come in any order and
    /// may overlap (overlapping speech); blank lines, comments (`;;` or `#`) and other record
    /// types (`SPKR-INFO`, …) are skipped. A speaker with no line within the audio (none at all,
    /// or all past its end) is accepted, with a warning that they are never on screen; ranges
    /// past the end of the audio are clipped, with a warning.
    /// - Parameters:
    ///   - text: The file's contents.
    ///   - file: The file's name, for messages.
    ///   - speakers: The speakers' names: every name in the file must be one of them.
    ///   - duration: The audio's duration in seconds.
    /// - Throws: ``SpeakerError`` naming `file:line` for a `SPEAKER` line with fewer than 8
    ///   fields, a start or duration that is not a finite number or is negative, or a name that
    ///   is not one of `speakers`.
    public static func diarization(
        rttm text: String, file: String, speakers: [String], duration: Double
    ) throws -> SpeakerTimeline {
        try check(speakers: speakers)
        var voiced = [[Range<Double>]](repeating: [], count: speakers.count)
        var past = false
        var number = 0
        // By newline, not by "\n": in a Swift string a Windows line end "\r\n" is one
        // character, which is not "\n".
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            number += 1
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            guard let type = fields.first, !type.hasPrefix(";;"), !type.hasPrefix("#") else { continue }
            guard type == "SPEAKER" else { continue }
            guard fields.count >= 8 else {
                throw SpeakerError.malformedDiarization(
                    file: file, line: number,
                    "malformed SPEAKER line: \(fields.count) fields, but start, duration and name are fields 4, 5 and 8")
            }
            func seconds(_ field: Substring, _ what: String) throws -> Double {
                guard let value = Double(field), value.isFinite else {
                    throw SpeakerError.malformedDiarization(file: file, line: number, "\(what) \"\(field)\" is not a number")
                }
                guard value >= 0 else {
                    throw SpeakerError.malformedDiarization(file: file, line: number, "\(what) \"\(field)\" is negative")
                }
                return value
            }
            let start = try seconds(fields[3], "start")
            let length = try seconds(fields[4], "duration")
            let name = String(fields[7])
            guard let index = speakers.firstIndex(of: name) else {
                throw SpeakerError.unknownSpeaker(file: file, line: number, name: name, speakers: speakers)
            }
            if start + length > duration + trackLengthTolerance { past = true }
            voiced[index].append(start..<(start + length))
        }
        var warnings: [String] = []
        let timeline = SpeakerTimeline(speakers: speakers, voiced: voiced, duration: duration)
        for (index, name) in speakers.enumerated() where timeline.voiced[index].isEmpty {
            if voiced[index].isEmpty {
                warnings.append("\(file): no line for speaker \"\(name)\", who is then never on screen")
            } else {
                warnings.append(
                    "\(file): no line of speaker \"\(name)\" speaks within the audio (\(String(format: "%.3f", duration)) s), who is then never on screen"
                )
            }
        }
        if past {
            warnings.append(
                "\(file): some lines reach past the end of the audio (\(String(format: "%.3f", duration)) s); they are cut there")
        }
        return SpeakerTimeline(speakers: speakers, voiced: voiced, duration: duration, warnings: warnings)
    }
}
