// The values of WaveSpeed's protocol: the model input, task statuses, predictions, events.

/// The output resolution of `wavespeed-ai/infinitetalk`.
public enum WaveSpeedResolution: String, Sendable, Hashable, Codable, CaseIterable {
    /// 480p (WaveSpeed's default).
    case p480 = "480p"
    /// 720p.
    case p720 = "720p"
}

/// The input of a `wavespeed-ai/infinitetalk` task, as the JSON body of the submit.
///
/// The video's length follows the audio (there is no frame count): at most 10 minutes.
public struct WaveSpeedInput: Sendable, Hashable, Codable {
    /// The portrait's URL (an upload's `download_url`).
    public var image: String
    /// The audio's URL (mp3, wav or m4a; at most 10 minutes).
    public var audio: String
    /// What the person does, in words.
    public var prompt: String?
    /// The output resolution; nil leaves WaveSpeed's default (480p).
    public var resolution: WaveSpeedResolution?
    /// The seed; -1 (or nil) is random.
    public var seed: Int?
    /// A mask image's URL: which regions may move.
    public var maskImage: String?

    enum CodingKeys: String, CodingKey {
        case image, audio, prompt, resolution, seed
        case maskImage = "mask_image"
    }

    /// Creates an input.
    public init(
        image: String, audio: String, prompt: String? = nil, resolution: WaveSpeedResolution? = .p480,
        seed: Int? = nil, maskImage: String? = nil
    ) {
        self.image = image
        self.audio = audio
        self.prompt = prompt
        self.resolution = resolution
        self.seed = seed
        self.maskImage = maskImage
    }
}

/// Where a WaveSpeed task stands (`data.status`).
public struct WaveSpeedTaskStatus: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The status as WaveSpeed spells it.
    public let rawValue: String

    /// Wraps a status (unknown ones included).
    public init(_ rawValue: String) { self.rawValue = rawValue }

    /// Accepted, not yet running.
    public static let created = WaveSpeedTaskStatus("created")
    /// Running.
    public static let processing = WaveSpeedTaskStatus("processing")
    /// Done: `outputs[0]` is the video.
    public static let completed = WaveSpeedTaskStatus("completed")
    /// Failed: `error` says why.
    public static let failed = WaveSpeedTaskStatus("failed")
    /// Cancelled.
    public static let cancelled = WaveSpeedTaskStatus("cancelled")
    /// Timed out on WaveSpeed's side.
    public static let timeout = WaveSpeedTaskStatus("timeout")
    /// Deleted.
    public static let deleted = WaveSpeedTaskStatus("deleted")

    /// Whether the task will not change any more.
    public var isFinal: Bool { [.completed, .failed, .cancelled, .timeout, .deleted].contains(self) }

    /// The status as WaveSpeed spells it.
    public var description: String { rawValue }

    /// Decodes a status from a JSON string.
    public init(from decoder: any Swift.Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    /// Encodes the status as a JSON string.
    public func encode(to encoder: any Swift.Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// A task as a submit or a result poll reported it (`data`).
public struct WaveSpeedPrediction: Sendable, Hashable {
    /// The prediction (task) id: record it before anything else, the task may be billed.
    public var id: String
    /// Where it stands.
    public var status: WaveSpeedTaskStatus
    /// The output URLs once `completed` (the video first).
    public var outputs: [String]
    /// Why it failed, when it did (redacted).
    public var error: String?

    /// Creates a prediction.
    public init(id: String, status: WaveSpeedTaskStatus, outputs: [String] = [], error: String? = nil) {
        self.id = id
        self.status = status
        self.outputs = outputs
        self.error = error
    }

    /// The video's URL: the first output.
    public var videoURL: String? { outputs.first }
}

/// A step of the WaveSpeed client's work, for progress displays and logs.
public enum WaveSpeedEvent: Sendable, Equatable {
    /// A failed call will be tried again after `delay`.
    case retrying(operation: String, attempt: Int, delay: Duration, reason: String)
    /// A file was uploaded; `url` is its `download_url`.
    case uploaded(fileName: String, bytes: Int, url: String)
    /// A task was accepted (record `id` at once: it may be billed).
    case submitted(id: String, status: WaveSpeedTaskStatus)
    /// A poll found the task `created` or `processing`; `elapsed` counts from the start of the
    /// wait (WaveSpeed reports no queue position).
    case progress(id: String, status: WaveSpeedTaskStatus, elapsed: Duration)
    /// The task completed; `elapsed` counts from the start of the wait.
    case completed(id: String, elapsed: Duration)
}
