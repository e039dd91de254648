// InfiniPipeline: why who-speaks-when could not be read, or the speakers are not usable.

/// Why who-speaks-when could not be established: a bad diarization line, a speaker track or
/// channel that does not fit the audio, or speakers that cannot be told apart.
///
/// An ``InfiniPipelineError``, compared through ``kind`` (an ``ErrorKind``), so new kinds can be
/// added without breaking callers. ``description`` is one line naming the file (and
/// line) or value and the reason, for example
/// `talk.rttm:7: duration "-1.2" is negative`; an error about an option value sets ``option``
/// to the property's name (`minShot`) and starts with it.
public struct SpeakerError: InfiniPipelineError, Equatable {
    /// The kind of a ``SpeakerError``: compare with `==` or match with `~=`
    /// (`case SpeakerError.Kind.malformedDiarization = error`). New kinds may be added; switch with a `default`.
    public typealias Kind = ErrorKind<SpeakerError>

    /// The kind of failure.
    public let kind: Kind
    /// The option property at fault (`"minShot"`); `nil` when an input file or name is.
    public let option: String?
    /// One line naming the file (and line) or value, and the reason.
    public let description: String

    public var kindName: String { kind.name }
    /// ``ErrorFault/option`` when ``option`` names the value at fault, else ``ErrorFault/input``.
    public var fault: ErrorFault { option == nil ? .input : .option }

    private init(_ kind: Kind, option: String? = nil, _ description: String) {
        self.kind = kind
        self.option = option
        self.description = description
    }

    /// An RTTM line that cannot be read.
    static func malformedDiarization(file: String, line: Int, _ reason: String) -> SpeakerError {
        SpeakerError(.malformedDiarization, "\(file):\(line): \(reason)")
    }

    /// An RTTM line naming a speaker that was not given.
    static func unknownSpeaker(file: String, line: Int, name: String, speakers: [String]) -> SpeakerError {
        SpeakerError(
            .unknownSpeaker,
            "\(file):\(line): speaker \"\(name)\" is not one of the speakers (\(speakers.joined(separator: ", ")))")
    }

    /// A track or channel given for a name that is not a speaker.
    static func unknownSpeaker(name: String, of what: String, speakers: [String]) -> SpeakerError {
        SpeakerError(
            .unknownSpeaker,
            "\(what) for \"\(name)\", which is not one of the speakers (\(speakers.joined(separator: ", ")))")
    }

    /// A speaker without its track or channel.
    static func missingSource(speaker: String, _ what: String) -> SpeakerError {
        SpeakerError(.missingSource, "speaker \"\(speaker)\" has no \(what): every speaker needs one")
    }

    /// A track of another length than the audio.
    static func trackLength(file: String, seconds: Double, audio: String, audioSeconds: Double) -> SpeakerError {
        func s(_ value: Double) -> String { String(format: "%.3f s", value) }
        return SpeakerError(
            .trackLength,
            "\(file) lasts \(s(seconds)) but \(audio) lasts \(s(audioSeconds)): a speaker track must be on the audio's timeline, as long as it"
        )
    }

    /// A channel the audio does not have.
    static func missingChannel(_ channel: Int, file: String, channels: Int) -> SpeakerError {
        SpeakerError(
            .missingChannel,
            "\(file) has no channel \(channel): it has \(channels) channel\(channels == 1 ? "" : "s") (numbered from 0 to \(channels - 1))"
        )
    }

    /// Speakers that cannot be told apart.
    static func invalidSpeakers(_ reason: String) -> SpeakerError {
        SpeakerError(.invalidSpeakers, reason)
    }

    /// Two speakers given the same channel or track (`what`, e.g. `"channel 0"`).
    static func sharedSource(_ first: String, _ second: String, _ what: String) -> SpeakerError {
        SpeakerError(
            .sharedSource,
            "speakers \"\(first)\" and \"\(second)\" are both given \(what): each speaker needs their own, or one of them is never on screen"
        )
    }

    /// A transcript that cannot say who speaks when: it names no voice.
    static func notDiarized(_ reason: String) -> SpeakerError {
        SpeakerError(.notDiarized, reason)
    }

    /// A negative, infinite or NaN minimum shot.
    static func invalidMinShot(_ value: Double) -> SpeakerError {
        SpeakerError(
            .invalidMinShot, option: "minShot", "minShot \(value) is not a duration: it must be a finite number of seconds ≥ 0")
    }
}

extension ErrorKind where Owner == SpeakerError {
    /// An RTTM line that cannot be read: too few fields, a start or duration that is not a
    /// number, or a negative one.
    public static var malformedDiarization: Self { Self("malformedDiarization") }
    /// A name (in the RTTM file, or given a track or channel) that is not one of the speakers.
    public static var unknownSpeaker: Self { Self("unknownSpeaker") }
    /// A speaker without a track or channel when every speaker needs one.
    public static var missingSource: Self { Self("missingSource") }
    /// A speaker track whose length is not the audio's.
    public static var trackLength: Self { Self("trackLength") }
    /// A channel number the audio does not have.
    public static var missingChannel: Self { Self("missingChannel") }
    /// No speakers, or two with the same name, or an empty name.
    public static var invalidSpeakers: Self { Self("invalidSpeakers") }
    /// A minimum shot that is negative, infinite or NaN.
    public static var invalidMinShot: Self { Self("invalidMinShot") }
    /// Two speakers given the same channel or the same track: the second would never be on
    /// screen (a voice belongs to one speaker).
    public static var sharedSource: Self { Self("sharedSource") }
    /// A transcript, for the automatic speaker source, that names no voice (not diarized).
    public static var notDiarized: Self { Self("notDiarized") }
}
