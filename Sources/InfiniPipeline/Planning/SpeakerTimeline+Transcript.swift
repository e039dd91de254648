// InfiniPipeline: who speaks when, read from a diarized transcript (SpeakerSource.automatic).

extension SpeakerTimeline {
    /// Who speaks when, read from a diarized transcript (its words, or its segments when it has
    /// no words), each labelled with its voice (`SPEAKER_00`, …).
    ///
    /// The voices are mapped to `speakers` as ``SpeakerMapping`` does: the first voice heard is
    /// the first speaker, the second the second, and so on. A turn is a run of consecutive words
    /// of one voice, from the first one's start to the last one's end (a word without a label
    /// neither ends nor extends it). A voice beyond the speakers is nobody's: its turns are on
    /// no speaker's timeline, so they stay in the shot around them, with a warning naming the
    /// voice and its first words; a speaker whose voice is never heard gets a warning that they
    /// are never on screen, as with an RTTM file.
    /// - Parameters:
    ///   - transcript: The diarized transcript, times in seconds of the audio.
    ///   - speakers: The speakers' names, in the order given.
    ///   - duration: The audio's duration in seconds.
    /// - Throws: ``SpeakerError`` of kind `notDiarized` for a transcript that names no voice,
    ///   `invalidSpeakers` for bad names.
    public static func diarized(_ transcript: Transcript, speakers: [String], duration: Double) throws -> SpeakerTimeline {
        try check(speakers: speakers)
        let mapping = SpeakerMapping(transcript: transcript, names: speakers)
        guard !mapping.voices.isEmpty else {
            throw SpeakerError.notDiarized(
                "the transcript names no voice: the automatic speaker source needs a diarized transcript (fal-ai/whisper with diarize)"
            )
        }
        let names = Dictionary(uniqueKeysWithValues: mapping.voices.map { ($0.label, $0.name) })
        let pieces: [(speaker: String?, start: Double, end: Double)] =
            transcript.words.isEmpty
            ? transcript.segments.map { ($0.speaker, $0.start, $0.end) }
            : transcript.words.map { ($0.speaker, $0.start, $0.end) }
        var voiced = [[Range<Double>]](repeating: [], count: speakers.count)
        var turn: (label: String, start: Double, end: Double)? = nil
        func close() {
            guard let turn, let name = names[turn.label] ?? nil, let index = speakers.firstIndex(of: name) else { return }
            voiced[index].append(turn.start..<max(turn.start, turn.end))
        }
        for piece in pieces {
            guard let label = piece.speaker else { continue }
            if let current = turn, current.label == label {
                turn?.end = max(current.end, piece.end)
            } else {
                close()
                turn = (label, piece.start, piece.end)
            }
        }
        close()
        var warnings: [String] = []
        for (voice, line) in zip(mapping.voices, mapping.lines) where voice.name == nil {
            warnings.append(
                "the diarized transcript has more voices than speakers; this one is nobody's, its turns stay in the shot around them: \(line)"
            )
        }
        let timeline = SpeakerTimeline(speakers: speakers, voiced: voiced, duration: duration)
        for (index, name) in speakers.enumerated() where timeline.voiced[index].isEmpty {
            warnings.append("speaker \"\(name)\" is not heard in the diarized transcript, who is then never on screen")
        }
        return SpeakerTimeline(speakers: speakers, voiced: voiced, duration: duration, warnings: warnings)
    }
}
