import ArgumentParser
import Foundation
import InfiniPipeline

/// Multi-speaker options, shared by `plan` and the main command: one portrait per voice and
/// exactly one way of saying who speaks when.
struct SpeakerArguments: ParsableArguments {
    @Option(
        name: .customLong("speaker"),
        help: ArgumentHelp(
            "A voice and its portrait, 2 to 4 times; switches to multi-speaker mode (instead of --image).",
            valueName: "NAME=IMAGE"))
    var speakers: [String] = []

    @Option(
        help: ArgumentHelp(
            "Who speaks when: an RTTM file whose speaker names are the NAMEs, or auto to diarize AUDIO on fal-ai/whisper (FAL_KEY; the first voice heard is the first --speaker, and so on).",
            valueName: "FILE|auto"))
    var diarization: String?

    @Option(
        name: .customLong("speaker-track"),
        help: ArgumentHelp(
            "Who speaks when, from each speaker's own recording on AUDIO's timeline (one per speaker).", valueName: "NAME=FILE"))
    var speakerTracks: [String] = []

    @Option(
        name: .customLong("speaker-channel"),
        help: ArgumentHelp("Who speaks when, from channel N (from 0) of AUDIO (one per speaker).", valueName: "NAME=N"))
    var speakerChannels: [String] = []

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "A turn shorter than this stays in the current shot (seconds; default 2, on WaveSpeed its minimum charge, 5).",
            valueName: "SECONDS"))
    var minShot: Double?

    /// Whether the run has several speakers.
    var isMultiSpeaker: Bool { !speakers.isEmpty }

    func validate() throws { _ = try parsed() }

    /// The speakers in the order given and the source of who speaks when; `nil` for one speaker.
    func parsed() throws -> (speakers: [Plan.Speaker], source: SpeakerSource)? {
        guard isMultiSpeaker else {
            if diarization != nil || !speakerTracks.isEmpty || !speakerChannels.isEmpty {
                throw ValidationError(
                    "--diarization, --speaker-track and --speaker-channel need the speakers: give --speaker NAME=IMAGE for each")
            }
            return nil
        }
        let range = PipelineOptions.speakerCountRange
        guard range.contains(speakers.count) else {
            throw ValidationError(
                "--speaker is given \(speakers.count) time\(speakers.count == 1 ? "" : "s"): a multi-speaker run has \(range.lowerBound) to \(range.upperBound) speakers (use --image for one)"
            )
        }
        if let minShot, !(minShot.isFinite && minShot >= 0) {
            throw ValidationError("--min-shot \(minShot) must be a number of seconds ≥ 0")
        }
        let list = try speakers.map { arg -> Plan.Speaker in
            let (name, image) = try Self.pair(arg, flag: "--speaker", value: "IMAGE")
            return Plan.Speaker(name: name, image: image)
        }
        let names = list.map(\.name)
        if let twice = names.first(where: { name in names.filter { $0 == name }.count > 1 }) {
            throw ValidationError("--speaker \(twice) is given twice: each voice has one name")
        }
        let sources = [diarization != nil, !speakerTracks.isEmpty, !speakerChannels.isEmpty].filter { $0 }.count
        guard sources == 1 else {
            throw ValidationError(
                sources == 0
                    ? "a multi-speaker run needs to know who speaks when: give --diarization FILE|auto, --speaker-track NAME=FILE or --speaker-channel NAME=N"
                    : "--diarization, --speaker-track and --speaker-channel are alternatives: give one of them")
        }
        if let diarization { return (list, diarization == "auto" ? .automatic : .diarization(path: diarization)) }
        if !speakerTracks.isEmpty {
            let tracks: [String: String] = try Self.perSpeaker(
                speakerTracks, flag: "--speaker-track", value: "FILE", names: names
            ) { $0 }
            return (list, .tracks(tracks))
        }
        let channels: [String: Int] = try Self.perSpeaker(speakerChannels, flag: "--speaker-channel", value: "N", names: names) {
            text -> Int? in
            guard let n = Int(text), n >= 0 else { return nil }
            return n
        }
        return (list, .channels(channels))
    }

    /// `NAME=VALUE`, both non-empty, the name without control characters.
    static func pair(_ arg: String, flag: String, value: String) throws -> (String, String) {
        let shown = Self.shown(arg)
        guard let eq = arg.firstIndex(of: "="), eq != arg.startIndex, arg.index(after: eq) != arg.endIndex else {
            throw ValidationError("\(flag) \(shown) is not NAME=\(value)")
        }
        let name = String(arg[..<eq]).trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty else { throw ValidationError("\(flag) \(shown) is not NAME=\(value)") }
        guard !SpeakerTimeline.hasControlCharacters(name) else {
            throw ValidationError(
                "\(flag) \(shown): the name \(name.debugDescription) holds a control character; names are single-line text")
        }
        return (name, String(arg[arg.index(after: eq)...]))
    }

    /// `text` as an error shows it: escaped (`"a\nb=x"`) when it holds a control character,
    /// which must never reach the terminal raw (nor break the one-line error).
    static func shown(_ text: String) -> String {
        SpeakerTimeline.hasControlCharacters(text) ? text.debugDescription : text
    }

    /// One `NAME=VALUE` per speaker, each NAME a speaker's, in the speakers' order.
    static func perSpeaker<T>(
        _ args: [String], flag: String, value: String, names: [String], parse: (String) -> T?
    ) throws -> [String: T] {
        var byName: [String: T] = [:]
        for arg in args {
            let (name, text) = try pair(arg, flag: flag, value: value)
            guard names.contains(name) else {
                throw ValidationError("\(flag) \(shown(arg)): \(name) is not a speaker (\(names.joined(separator: ", ")))")
            }
            guard byName[name] == nil else { throw ValidationError("\(flag) \(name) is given twice") }
            guard let parsed = parse(text) else {
                throw ValidationError("\(flag) \(shown(arg)): \(shown(text)) is not a channel number (0, 1, …)")
            }
            byName[name] = parsed
        }
        if let missing = names.first(where: { byName[$0] == nil }) {
            throw ValidationError("\(flag) is missing for speaker \(missing): give one per speaker")
        }
        return byName
    }
}
