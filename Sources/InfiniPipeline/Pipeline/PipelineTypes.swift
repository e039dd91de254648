import Foundation

/// Which backend generates the clips.
public enum BackendKind: String, Codable, Sendable, CaseIterable {
    /// The hosted model on fal.ai (needs FAL_KEY; costs money).
    case fal
    /// Local stand-in clips (no key, no network, no cost).
    case preview
}

/// Everything a run needs. The defaults are the command line's.
public struct PipelineOptions: Sendable {
    /// The prompt used when none is given.
    public static let defaultPrompt = "A person talking naturally to the camera, with lip movements in sync with the speech, subtle head motion and natural facial expressions."

    /// The audio file (any format FFmpeg reads).
    public var audio: String
    /// The portrait (PNG or JPEG).
    public var image: String
    /// The MP4 to write; nil means the audio's base name with `.mp4` in the current directory.
    public var output: String?
    /// Text prompt for the model.
    public var prompt: String = PipelineOptions.defaultPrompt
    /// Output resolution.
    public var resolution: Resolution = InfiniTalk.defaultResolution
    /// Generation seed.
    public var seed: Int = InfiniTalk.defaultSeed
    /// Model acceleration.
    public var acceleration: Acceleration = InfiniTalk.defaultAcceleration
    /// Largest num_frames per request.
    public var maxFrames: Int = ModelLimits.maximumFrames
    /// Overrides the price per second.
    public var pricePerSecond: Double?
    /// Requests in flight at once.
    public var concurrency: Int = 4
    /// Where clips come from.
    public var backend: BackendKind = .fal
    /// The model endpoint id.
    public var endpoint: String = InfiniTalk.endpoint
    /// Queue base URL (nil: INFINISTITCH_QUEUE_URL or fal's).
    public var queueURL: String?
    /// REST base URL (nil: INFINISTITCH_REST_URL or fal's).
    public var restURL: String?
    /// Send image and audio as data: URIs instead of uploading.
    public var inline: Bool = false
    /// The work dir (nil: derived from the inputs and options, under the cache dir).
    public var workDir: String?
    /// Reuse and fill the content-addressed clip cache.
    public var useCache: Bool = true
    /// Plan and price only; send nothing.
    public var dryRun: Bool = false
    /// Refuse to start when the estimate is higher (US dollars).
    public var maxCost: Double?
    /// How to stitch.
    public var stitch = StitchOptions()
    /// Forced aspect ratio for the image.
    public var aspect: ImageFitter.Aspect?
    /// Crop window anchor for the image.
    public var cropAnchor: ImageFitter.CropAnchor = .center
    /// Background under transparent image parts.
    public var background: RGBColor = .white
    /// Submits per segment before the run gives up on it (1 + 2 resubmissions).
    public var maxAttempts: Int = 3
    /// The environment (FAL_KEY, XDG_CACHE_HOME, INFINISTITCH_*); the process's by default.
    public var environment: [String: String] = ProcessInfo.processInfo.environment
    /// The directory relative paths resolve against.
    public var currentDirectory: String = FileManager.default.currentDirectoryPath

    /// Options for a run of `audio` with `image`.
    public init(audio: String, image: String) {
        self.audio = audio
        self.image = image
    }

    /// The output path: `output`, or the audio's base name with `.mp4` in the current directory.
    public var resolvedOutput: String {
        if let output { return absolute(output) }
        let base = URL(fileURLWithPath: audio).deletingPathExtension().lastPathComponent
        return URL(fileURLWithPath: currentDirectory).appendingPathComponent(base + ".mp4").path
    }

    func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: currentDirectory).appendingPathComponent(path).standardizedFileURL.path
    }
}

/// Why a run stopped. `description` is one line naming the file, value or segment.
public struct PipelineError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The kind of stop, which decides the exit code.
    public enum Kind: String, Sendable {
        /// Bad input or usage (exit 2).
        case badInput
        /// A failure during the run (exit 1).
        case failure
        /// Interrupted by Ctrl-C or SIGTERM (exit 130).
        case interrupted
    }

    /// The kind.
    public var kind: Kind
    /// One line.
    public var message: String

    public var description: String { message }

    static func badInput(_ message: String) -> PipelineError { PipelineError(kind: .badInput, message: message) }
    static func failure(_ message: String) -> PipelineError { PipelineError(kind: .failure, message: message) }
}

/// A change in one segment, as reported to observers.
public struct SegmentUpdate: Sendable, Equatable, Codable {
    /// Plan segment index.
    public var index: Int
    /// The new state, in the words a user sees: pending, cached, audio, uploading, submitted,
    /// queued, running, downloading, done, retrying, failed, cancelled.
    public var state: String
    /// Queue position while queued.
    public var queuePosition: Int?
    /// The request id, once submitted.
    public var requestId: String?
    /// More detail (a failure reason, a log line).
    public var detail: String?
}

/// The outcome of a run.
public struct PipelineSummary: Sendable, Equatable, Codable {
    /// The MP4 written (nil for a dry run).
    public var output: String?
    /// Audio duration, seconds.
    public var duration: Double
    /// Frames in the video.
    public var frames: Int
    /// Segments in the plan.
    public var segments: Int
    /// Seconds of video paid for in this run (cache hits, reused clips and the preview backend
    /// cost nothing).
    public var paidSeconds: Double
    /// What those seconds cost, US dollars.
    public var cost: Double
    /// Seconds of video the plan would pay for from scratch.
    public var plannedSeconds: Double
    /// The plan's estimated cost from scratch.
    public var estimatedCost: Double
    /// Segments served from the cache or from an earlier run.
    public var reusedSegments: Int
    /// Wall-clock time of the run, seconds.
    public var wallTime: Double
    /// The work dir.
    public var workDir: String?
    /// Copy or re-encode.
    public var videoPath: String?
    /// Whether this was a dry run.
    public var dryRun: Bool
    /// How the output carries (or, in a dry run, would carry) the audio.
    public var outputAudio: OutputAudio?
}

/// What a running pipeline reports.
public enum PipelineEvent: Sendable, Equatable {
    /// The plan, before any generation.
    case plan(Plan)
    /// The fitted image's bucket.
    case image(width: Int, height: Int)
    /// How the output will carry the audio, decided and proven before any request.
    case outputAudio(OutputAudio)
    /// A segment changed state.
    case segment(SegmentUpdate)
    /// Something the user should know; the run goes on.
    case warning(String)
    /// A step of the run began ("fitting image", "planning", "stitching").
    case stage(String)
    /// The run finished.
    case summary(PipelineSummary)
    /// A segment's download was interrupted and resumes after a wait (the segment stays
    /// `downloading`). NDJSON: `{"event":"download_retry","index":…,"attempt":…,
    /// "bytesReceived":…,"totalBytes":…,"elapsedSeconds":…,"delaySeconds":…,"reason":…,"url":…}`.
    case downloadRetry(index: Int, DownloadRetry)

    /// The event as one JSON object (an NDJSON line without the newline).
    public func jsonLine() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        struct Wrapped<T: Encodable>: Encodable {
            let event: String
            let body: T
            func encode(to encoder: any Encoder) throws {
                try body.encode(to: encoder)
                var c = encoder.container(keyedBy: K.self)
                try c.encode(event, forKey: K(stringValue: "event")!)
            }
            struct K: CodingKey {
                var stringValue: String
                init?(stringValue: String) { self.stringValue = stringValue }
                var intValue: Int? { nil }
                init?(intValue: Int) { nil }
            }
        }
        struct Message: Encodable { let message: String }
        struct Size: Encodable { let width: Int; let height: Int }
        struct Retry: Encodable {
            let index: Int
            let attempt: Int
            let bytesReceived: Int64
            let totalBytes: Int64?
            let elapsedSeconds: Double
            let delaySeconds: Double
            let reason: String
            let url: String
        }
        let data: Data?
        switch self {
        case .plan(let p): data = try? encoder.encode(Wrapped(event: "plan", body: p))
        case .image(let w, let h): data = try? encoder.encode(Wrapped(event: "image", body: Size(width: w, height: h)))
        case .outputAudio(let a): data = try? encoder.encode(Wrapped(event: "outputAudio", body: a))
        case .segment(let s): data = try? encoder.encode(Wrapped(event: "segment", body: s))
        case .warning(let m): data = try? encoder.encode(Wrapped(event: "warning", body: Message(message: m)))
        case .stage(let m): data = try? encoder.encode(Wrapped(event: "stage", body: Message(message: m)))
        case .summary(let s): data = try? encoder.encode(Wrapped(event: "summary", body: s))
        case .downloadRetry(let index, let r):
            let body = Retry(index: index, attempt: r.attempt, bytesReceived: r.bytesReceived, totalBytes: r.totalBytes,
                             elapsedSeconds: (r.elapsed.seconds * 1000).rounded() / 1000,
                             delaySeconds: (r.delay.seconds * 1000).rounded() / 1000, reason: r.reason, url: r.url)
            data = try? encoder.encode(Wrapped(event: "download_retry", body: body))
        }
        return data.map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
