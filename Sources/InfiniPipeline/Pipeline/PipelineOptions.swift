import Foundation

/// Which backend generates the clips: the older spelling of ``PipelineOptions/provider``.
@nonexhaustive
public enum BackendKind: String, Codable, Sendable, CaseIterable {
    /// The hosted model on fal.ai (needs FAL_KEY; costs money).
    case fal
    /// The hosted model on WaveSpeed (needs WAVESPEED_API_KEY; costs money).
    case wavespeed
    /// Local stand-in clips (no key, no network, no cost).
    case preview
}

/// Everything a run needs. The defaults are the command line's.
public struct PipelineOptions: Sendable {
    /// The prompt used when none is given.
    public static let defaultPrompt =
        "A person talking naturally to the camera, with lip movements in sync with the speech, subtle head motion and natural facial expressions."

    /// The default number of requests in flight.
    public static let defaultConcurrency = 4
    /// The numbers of requests in flight a run accepts.
    public static let concurrencyRange = 1...64
    /// The default number of submits per segment.
    public static let defaultMaxAttempts = 3
    /// The numbers of speakers a multi-speaker run takes.
    public static let speakerCountRange = 2...4

    /// The audio file (any format FFmpeg reads).
    public var audio: String
    /// The portrait (PNG or JPEG) of a single-speaker run; unused when ``speakers`` are given.
    public var image: String
    /// The voices of a multi-speaker run (2 to 4), each with its portrait; empty for one speaker.
    /// All portraits are fitted to one bucket, chosen by the first one (or ``aspect``).
    public var speakers: [Plan.Speaker] = []
    /// Who speaks when, in a multi-speaker run (required with ``speakers``); file paths in it
    /// resolve against ``currentDirectory``.
    public var speakerSource: SpeakerSource?
    /// In a multi-speaker run, a turn shorter than this (seconds) stays in the current shot;
    /// `nil` for the provider's default (``SpeakerTimeline/defaultMinShot(for:)``: 2 s on fal,
    /// the minimum charge, 5 s, on WaveSpeed).
    public var minShot: Double?
    /// The MP4 to write; nil means the audio's base name with `.mp4` in the current directory.
    public var output: String?
    /// Text prompt for the model.
    public var prompt: String = PipelineOptions.defaultPrompt
    /// Output resolution.
    public var resolution: InfiniTalk.Resolution = InfiniTalk.defaultResolution
    /// Generation seed.
    public var seed: Int = InfiniTalk.defaultSeed
    /// Model acceleration.
    public var acceleration: InfiniTalk.Acceleration = InfiniTalk.defaultAcceleration
    /// The longest request, in frames: on fal, `num_frames` (rounded down to 4n + 1, at most
    /// 721); on a provider whose clips follow the audio, values at or above its cap mean the
    /// balanced default (see ``SegmentPlanner/balancedMaxFrames(totalFrames:provider:concurrency:)``).
    public var maxFrames: Int = .max
    /// Overrides the price per second.
    public var pricePerSecond: Double?
    /// Requests in flight at once, within ``concurrencyRange``.
    public var concurrency: Int = PipelineOptions.defaultConcurrency
    /// Who generates the clips: ``Provider/fal`` (the default), ``Provider/wavespeed``, or the
    /// offline ``Provider/preview``. The planner, the price, the cache and the work dir follow it.
    public var provider: Provider = .fal
    /// Where clips come from: the older spelling of ``provider``.
    public var backend: BackendKind {
        get { BackendKind(rawValue: provider.id) ?? .fal }
        set { provider = Provider.named(newValue.rawValue) ?? .fal }
    }
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
    /// Make only a sample of the job: the whole job is planned (same plan, work dir and cache
    /// keys), then only the requests that cover this stretch are generated and stitched to
    /// ``resolvedSampleOutput``, with the transitions the whole job has at the seams inside it.
    /// A later run of the whole job reuses those clips. ``maxCost`` then limits the sample's
    /// requests. Nil (the default) makes the whole job.
    public var sample: SampleSpan?
    /// Send again the submits whose answer never arrived in an earlier run (segments recorded
    /// as unknown): each may then be paid for twice. Off by default: such a segment stops the
    /// run (after the others finish) instead.
    public var resubmitUnknown = false
    /// How to stitch; the seams are morphed by default (the video is made to be watched;
    /// ``StitchOptions/Transition/cut`` keeps the lossless copy path).
    public var stitch = StitchOptions(transition: .morph)
    /// Draw the run's captions into the picture (needs the run's captions; forces the
    /// re-encode path), as well as writing them beside the video.
    public var burnCaptions = false
    /// An ASS file whose styles the burned captions use instead of ours (with ``burnCaptions``).
    public var captionStyle: String?
    /// A directory for an HLS stream of the finished part of the video while the run goes on
    /// (`index.m3u8`, an EVENT playlist of fragmented-MP4 segments, closed when the run ends;
    /// a resumed run continues it); nil for none. When the stitch re-encodes (transitions,
    /// ``colorMatch``, burned captions), the stream encodes each stretch as its clips arrive,
    /// as the stitch would, and the MP4 is made from its packets (with the soft subtitle track).
    public var live: String?
    /// Colour drift inside each clip corrected against the fitted portrait its request was made
    /// from (``ColorMatch/portrait``, the default; it re-encodes the video) or not
    /// (``ColorMatch/off``). A colour match set in ``stitch`` takes precedence.
    public var colorMatch: ColorMatch = .portrait
    /// Forced aspect ratio for the image.
    public var aspect: ImageFitter.Aspect?
    /// Crop window anchor for the image: around the face by default (the centre when none is found).
    public var cropAnchor: ImageFitter.CropAnchor = .face
    /// Background under transparent image parts.
    public var background: RGBColor = .white
    /// Submits per segment before the run gives up on it (1 + 2 resubmissions).
    public var maxAttempts: Int = PipelineOptions.defaultMaxAttempts
    /// The fal key; nil reads it from ``environment`` (`FAL_KEY`, or `FAL_KEY_ID` and
    /// `FAL_KEY_SECRET`), as fal's own clients do.
    public var credentials: FalCredentials?
    /// The WaveSpeed key; nil reads it from ``environment`` (`WAVESPEED_API_KEY`).
    public var waveSpeedCredentials: WaveSpeedCredentials?
    /// The WaveSpeed API's base URL (nil: `INFINISTITCH_WAVESPEED_URL` or WaveSpeed's own);
    /// plain http only to loopback. For tests.
    public var providerURL: String?
    /// The environment (FAL_KEY, XDG_CACHE_HOME, INFINISTITCH_*); the process's by default.
    public var environment: [String: String] = ProcessInfo.processInfo.environment
    /// Where the run's captions come from: a transcript file (``CaptionSource/file(_:)``) or
    /// the audio transcribed on fal (``CaptionSource/auto``); none when nil. With captions the
    /// MP4 carries a soft subtitle track (`mov_text`) and `talk.srt` and `talk.vtt` are written
    /// beside `talk.mp4`.
    public var captions: CaptionSource? = nil
    /// The fal endpoint ``CaptionSource/auto`` captions are transcribed with.
    public var transcriber: TranscriptionModel = .whisper
    /// The language spoken (an ISO 639-1 code such as `en`): sent to the transcriber and given
    /// to the subtitle track; nil detects it (or leaves the track's language undetermined).
    public var language: String? = nil
    /// The directory relative paths resolve against.
    public var currentDirectory: String = FileManager.default.currentDirectoryPath

    /// Options for a run of `audio` with `image`.
    public init(audio: String, image: String) {
        self.audio = audio
        self.image = image
    }

    /// Options for a multi-speaker run of `audio`: each speaker's portrait is shown while they
    /// speak, as `source` says.
    /// - Parameters:
    ///   - audio: The final mix: what the output carries and what the timeline is measured on.
    ///   - speakers: The voices (2 to 4, ``speakerCountRange``), each with its portrait.
    ///   - source: Who speaks when.
    public init(audio: String, speakers: [Plan.Speaker], source: SpeakerSource) {
        self.audio = audio
        self.image = speakers.first?.image ?? ""
        self.speakers = speakers
        self.speakerSource = source
    }

    /// ``speakerSource`` with its paths made absolute.
    var resolvedSpeakerSource: SpeakerSource? {
        switch speakerSource {
        case .diarization(let path)?: return .diarization(path: absolute(path))
        case .tracks(let files)?: return .tracks(files.mapValues { absolute($0) })
        case let other: return other
        }
    }

    /// The output path: `output`, or the audio's base name with `.mp4` in the current directory.
    public var resolvedOutput: String {
        if let output { return absolute(output) }
        let base = URL(fileURLWithPath: audio).deletingPathExtension().lastPathComponent
        return URL(fileURLWithPath: currentDirectory).appendingPathComponent(base + ".mp4").path
    }

    /// Where a sample goes: beside the output, `.sample` before its extension (`talk.mp4` →
    /// `talk.sample.mp4`).
    public var resolvedSampleOutput: String {
        let output = URL(fileURLWithPath: resolvedOutput)
        let ext = output.pathExtension.isEmpty ? "mp4" : output.pathExtension
        return output.deletingPathExtension().path + ".sample." + ext
    }

    func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: currentDirectory).appendingPathComponent(path).standardizedFileURL.path
    }
}
