import Foundation

/// Speech to text on fal (`fal-ai/whisper` or `fal-ai/wizper`) over a ``FalClient``'s queue, with
/// the same key, retries and upload as generation: the audio is uploaded once, the request
/// queued and polled, and the chunks read into a ``Transcript`` (word-level on `fal-ai/whisper`).
public struct FalTranscriber: Transcriber {
    /// The client the requests go through (its own endpoint is not used).
    public let client: FalClient
    /// The endpoint.
    public let model: TranscriptionModel
    /// The language spoken (ISO 639-1); nil lets the model detect it.
    public let language: String?
    /// How many speakers to tell apart (`fal-ai/whisper` only): `diarize` with `num_speakers`;
    /// nil: no diarization.
    public let speakers: Int?

    /// The formats fal's Whisper endpoints take as they are; others are sent as 16 kHz WAV.
    static let acceptedExtensions: Set<String> = ["mp3", "mp4", "mpeg", "mpga", "m4a", "wav", "webm"]

    /// A transcriber on `model`.
    public init(client: FalClient, model: TranscriptionModel = .whisper, language: String? = nil, speakers: Int? = nil) {
        self.client = client
        self.model = model
        self.language = language
        self.speakers = model == .whisper ? speakers : nil
    }

    public var identity: String {
        [
            model.rawValue, language ?? "detect", model.hasWordTimestamps ? "word" : "segment",
            speakers.map { "diarize-\($0)" } ?? "",
        ]
        .joined(separator: "|")
    }

    public func cost(audioSeconds seconds: Double) -> Double { model.cost(audioSeconds: seconds) }

    /// The request's input.
    func input(audioURL: String) -> [String: Any] {
        var input: [String: Any] = ["audio_url": audioURL, "task": "transcribe", "version": "3"]
        input["chunk_level"] = model.hasWordTimestamps ? "word" : "segment"
        if let language { input["language"] = language }
        if let speakers {
            input["diarize"] = true
            input["num_speakers"] = speakers
        }
        return input
    }

    /// Uploads `audio`, queues it, waits and reads the chunks; a time past `duration` is refused.
    /// - Throws: ``FalError`` (the model's failure included); ``TranscriptError`` when the
    ///   answer is not a transcript of this audio.
    public func transcribe(audio: URL, duration: Double) async throws -> Transcript {
        let url: String
        if Self.acceptedExtensions.contains(audio.pathExtension.lowercased()) {
            url = try await client.upload(file: audio.path)
        } else {
            let path = audio.path
            let wav = try await runBlocking {
                let samples = try AudioReader(path: path, sampleRate: 16000, channels: 1).readAll()
                return [UInt8](WAV.file(samples, sampleRate: 16000, channels: 1))
            }
            url = try await client.upload(wav, contentType: "audio/wav", fileName: "audio.wav")
        }
        let body = try JSONSerialization.data(withJSONObject: input(audioURL: url), options: [.sortedKeys])
        let handle = try await client.submit(json: [UInt8](body), to: try FalEndpointID(model.rawValue))
        let completion = try await client.waitForCompletion(handle, pollImmediately: false)
        if let error = completion.error {
            throw FalError(
                .generationFailed, url: handle.statusURL, reason: "\(model.rawValue) failed: \(error)",
                requestID: handle.requestID)
        }
        let result = try await client.resultBody(handle)
        var transcript = try Transcript.parse(
            Data(result), name: "the \(model.rawValue) result of request \(handle.requestID)", format: .falChunks,
            audioDuration: duration)
        transcript.language = language ?? Self.detectedLanguage(result)
        return transcript
    }

    /// The language the model reports (`inferred_languages` or `languages`), when it does.
    static func detectedLanguage(_ result: [UInt8]) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(result)) as? [String: Any] else { return nil }
        let list = (object["inferred_languages"] ?? object["languages"]) as? [Any]
        return list?.first as? String
    }
}
