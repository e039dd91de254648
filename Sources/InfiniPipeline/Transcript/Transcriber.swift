// InfiniPipeline: where a transcript comes from, behind one protocol.

import Foundation

/// Where a run's captions come from.
public enum CaptionSource: Sendable, Hashable {
    /// A user's transcript, read offline: SRT, WebVTT, Whisper-style JSON or fal's chunks.
    case file(String)
    /// Transcribed from the audio on fal (see ``TranscriptionModel``).
    case auto

    /// `auto`, or a file path.
    public init(argument: String) {
        self = argument == "auto" ? .auto : .file(argument)
    }
}

/// The speech-to-text endpoints on fal a transcript can come from.
public enum TranscriptionModel: String, Sendable, Hashable, Codable, CaseIterable {
    /// Whisper large v3: word-level timestamps, optional diarization.
    case whisper = "fal-ai/whisper"
    /// A faster Whisper v3: segment chunks only.
    case wizper = "fal-ai/wizper"

    /// The endpoint's price per second of audio sent, in US dollars (fal bills the compute
    /// time; about a tenth of the audio's length on their GPUs).
    public var pricePerAudioSecond: Double {
        switch self {
        case .whisper: return 0.00111 / 10
        case .wizper: return 0.00111 / 20
        }
    }

    /// What a transcript of `seconds` of audio costs, in US dollars (at least a cent: fal's
    /// smallest charge).
    public func cost(audioSeconds seconds: Double) -> Double {
        max(0.01, (seconds * pricePerAudioSecond * 100).rounded(.up) / 100)
    }

    /// Whether the endpoint gives word-level timestamps.
    public var hasWordTimestamps: Bool { self == .whisper }
}

/// Turns an audio file into a ``Transcript``: fal's Whisper endpoints, or a user's file.
public protocol Transcriber: Sendable {
    /// What identifies this transcriber's transcripts of the same audio (the endpoint and its
    /// options): part of the transcript cache's key.
    var identity: String { get }
    /// What transcribing `seconds` of audio costs, in US dollars (0 when free).
    func cost(audioSeconds seconds: Double) -> Double
    /// Transcribes `audio`, whose decoded length is `duration` seconds.
    /// - Throws: the transcriber's own errors, each an ``InfiniPipelineError``.
    func transcribe(audio: URL, duration: Double) async throws -> Transcript
}

/// A user's own transcript file as a ``Transcriber``: read offline, free.
public struct TranscriptFile: Transcriber {
    /// The file.
    public let file: URL

    public init(file: URL) { self.file = file }

    public var identity: String { "file:\(file.path)" }
    public func cost(audioSeconds seconds: Double) -> Double { 0 }

    /// Reads the file (``Transcript/read(file:audioDuration:)``): a time past `duration` is refused.
    public func transcribe(audio: URL, duration: Double) async throws -> Transcript {
        try Transcript.read(file: file, audioDuration: duration)
    }
}
