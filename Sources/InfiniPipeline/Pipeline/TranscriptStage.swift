import Foundation
import Logging

/// The transcript stage alone: a user's file read offline, or the audio transcribed on fal
/// (``PipelineOptions/transcriber``, ``PipelineOptions/language``) and cached by the audio's
/// content, the endpoint and its options, so that the same audio is never paid for twice.
///
/// With the automatic speaker source (``SpeakerSource/automatic``) the transcript is diarized:
/// `fal-ai/whisper` is asked to tell ``PipelineOptions/speakers``'s count of voices apart
/// (`diarize`, `num_speakers`), even when the captions come from a file, and it is cached apart
/// from an undiarized one of the same audio.
///
/// ```swift
/// var options = PipelineOptions(audio: "talk.mp3", image: "")
/// options.captions = .auto
/// let outcome = try await TranscriptStage(options: options).run()
/// print(CaptionWriter.srt(outcome.transcript.captions()))
/// ```
public struct TranscriptStage: Sendable {
    /// What the stage produced.
    public struct Outcome: Sendable, Equatable {
        /// The transcript, times in seconds of the audio.
        public var transcript: Transcript
        /// The file it was read from, or the endpoint that made it.
        public var source: String
        /// What this run paid for it, US dollars (0 for a file or a cached transcript).
        public var cost: Double
        /// Whether it came from the cache.
        public var cached: Bool
        /// The audio's length, in seconds: captions made from the transcript end by then.
        public var audioSeconds: Double

        /// The transcript's captions (``Transcript/captions(rules:)``), none lasting past the audio.
        public var captions: [Caption] { SubtitleTrack.clipped(transcript.captions(), to: audioSeconds) }
    }

    /// The options: ``PipelineOptions/audio``, ``PipelineOptions/captions`` (nil means
    /// ``CaptionSource/auto``), the transcriber, language, cache and fal settings.
    public let options: PipelineOptions
    private let falClient: FalClient?
    private let logger: Logger

    /// - Parameters:
    ///   - options: what to transcribe and how.
    ///   - falClient: the client to send through (not shut down by the stage); nil makes one
    ///     from `options` (FAL_KEY) when a transcript must be made.
    ///   - logger: where the client it makes logs.
    public init(options: PipelineOptions, falClient: FalClient? = nil, logger: Logger = Logger(label: "infinipipeline")) {
        self.options = options
        self.falClient = falClient
        self.logger = logger
    }

    /// The transcript cache: `transcripts/` under the clip cache's root.
    var cacheDirectory: URL {
        ClipCache.defaultRoot(environment: options.environment).appendingPathComponent("transcripts")
    }

    /// How many voices the transcript tells apart: the number of speakers with the automatic
    /// speaker source, nil (no diarization) otherwise.
    public var diarizedSpeakers: Int? {
        options.speakerSource == .automatic && !options.speakers.isEmpty ? options.speakers.count : nil
    }

    /// The transcriber of `.auto`, on `client`.
    func falTranscriber(_ client: FalClient) -> FalTranscriber {
        FalTranscriber(client: client, model: options.transcriber, language: options.language, speakers: diarizedSpeakers)
    }

    /// The cache key of a transcript of the audio whose SHA-256 is `audioSHA` (an undiarized
    /// one's key is what it always was).
    func cacheKey(audioSHA: String) -> String {
        Hashing.key(
            ["transcript-v1", audioSHA, options.transcriber.rawValue, options.language ?? "detect"]
                + (diarizedSpeakers.map { ["diarize", String($0)] } ?? []))
    }

    /// What the stage would pay now for `seconds` of audio at `audio`: 0 for a file or a
    /// transcript in the cache.
    public func estimate(audio: String, seconds: Double) async throws -> (cost: Double, cached: Bool) {
        guard options.captions == nil || options.captions == .auto || diarizedSpeakers != nil else { return (0, false) }
        if options.useCache, try await cached(audio: audio) != nil { return (0, true) }
        return (options.transcriber.cost(audioSeconds: seconds), false)
    }

    /// The cached transcript of `audio` for these options (endpoint, language), if there is one.
    public func cachedTranscript(of audio: String) async throws -> Transcript? {
        try await cached(audio: options.absolute(audio))
    }

    /// The cached transcript of `audio`, if there is one.
    func cached(audio: String) async throws -> Transcript? {
        let url = cacheDirectory.appendingPathComponent(cacheKey(audioSHA: try await Hashing.sha256(fileAt: audio)) + ".json")
        guard let data = try? Data(contentsOf: url) else { return nil }
        return try? JSONDecoder().decode(Transcript.self, from: data)
    }

    /// Makes (or reads) the transcript of `audio` (``PipelineOptions/audio`` when nil), whose
    /// decoded length is `seconds` (measured when nil).
    /// - Throws: ``PipelineError`` (a bad file or key, a failed request), with the stage's own
    ///   error as its underlying one.
    public func run(audio: String? = nil, seconds: Double? = nil) async throws -> Outcome {
        do {
            return try await make(audio: options.absolute(audio ?? options.audio), seconds: seconds)
        } catch {
            throw PipelineError.from(error)
        }
    }

    private func make(audio: String, seconds: Double?) async throws -> Outcome {
        try RunInputs.checkInputFile(audio, role: "audio")
        let duration: Double
        if let seconds {
            duration = seconds
        } else {
            duration = try await runBlocking { try AudioAnalysis.analyze(path: audio).duration }
        }
        if case .file(let path)? = options.captions, diarizedSpeakers == nil {
            let file = options.absolute(path)
            try RunInputs.checkInputFile(file, role: "captions")
            let transcript = try await TranscriptFile(file: URL(fileURLWithPath: file)).transcribe(
                audio: URL(fileURLWithPath: audio), duration: duration)
            return Outcome(transcript: transcript, source: file, cost: 0, cached: false, audioSeconds: duration)
        }
        let source = options.transcriber.rawValue
        if options.useCache, var transcript = try await cached(audio: audio) {
            try transcript.check(audioDuration: duration, name: "the cached transcript of \(audio)")
            if let language = options.language { transcript.language = language }
            return Outcome(transcript: transcript, source: source, cost: 0, cached: true, audioSeconds: duration)
        }
        let owned: FalClient?
        if falClient == nil {
            let settings = try options.falClientSettings()
            owned = try FalClient(credentials: settings.credentials, configuration: settings.configuration, logger: logger)
        } else {
            owned = nil
        }
        let client = (falClient ?? owned)!
        let transcript: Transcript
        do {
            transcript = try await falTranscriber(client).transcribe(audio: URL(fileURLWithPath: audio), duration: duration)
            try? await owned?.shutdown()
        } catch {
            try? await owned?.shutdown()
            throw error
        }
        if options.useCache {
            let key = cacheKey(audioSHA: try await Hashing.sha256(fileAt: audio))
            try FileManager.default.createDirectory(at: cacheDirectory, withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            try AtomicFile.write(try encoder.encode(transcript), to: cacheDirectory.appendingPathComponent(key + ".json").path)
        }
        return Outcome(
            transcript: transcript, source: source, cost: options.transcriber.cost(audioSeconds: duration), cached: false,
            audioSeconds: duration)
    }
}
