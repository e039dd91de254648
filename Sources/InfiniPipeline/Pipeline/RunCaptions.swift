import Foundation

/// A run's captions: the transcript they come from, and the files they become beside the MP4.
struct RunCaptions: Sendable {
    /// The transcript (times on the audio's timeline, which is the output's).
    var transcript: Transcript
    /// Where it came from: the file, or the transcriber's endpoint.
    var source: String
    /// What it cost (0 for a file or a cached transcript).
    var cost: Double
    /// Whether it came from the transcript cache.
    var cached: Bool
    /// The sidecars to write (`talk.srt`, `talk.vtt`) and the one left alone because it is the
    /// user's own `--captions` file.
    var sidecars: [String]
    /// The language of the soft subtitle track.
    var language: String?
    /// How long the cues may last, in seconds: the audio's length (never past the video's).
    var videoDuration: Double = .infinity

    /// The stretch of the job's output a sample shows (seconds), when these are a sample's
    /// captions (``sampled(_:)``); nil for the whole job's.
    var window: Range<Double>? = nil

    /// The cues the run uses (the soft track, the sidecars, the burned ones), on the output's
    /// timeline: a sample's are the whole job's cues in its stretch, moved onto its own.
    var captions: [Caption] {
        let cues = SubtitleTrack.clipped(transcript.captions(), to: videoDuration)
        guard let window else { return cues }
        return SubtitleTrack.excerpt(cues, from: window.lowerBound, to: window.upperBound)
    }

    /// The captions of `sample`: the whole job's cues that overlap its stretch, cut to it and
    /// moved by `-sample.startTime`. The sidecars stay these captions' own (a sample's run
    /// already names them after the sample's output: `talk.sample.srt`).
    func sampled(_ sample: PlanSample) -> RunCaptions {
        var captions = self
        captions.window = sample.startTime..<sample.endTime
        return captions
    }

    /// The sidecars of `output`: the same name with `.srt` and `.vtt`.
    static func sidecarPaths(for output: String) -> [String] {
        let base = URL(fileURLWithPath: output).deletingPathExtension()
        return ["srt", "vtt"].map { base.appendingPathExtension($0).path }
    }

    /// Checks, before anything is paid for, that the sidecars can be written: each is a file (or
    /// nothing yet) in the output's directory and not one of the inputs. A sidecar that is the
    /// captions file itself is left as it is (the user's transcript already sits beside the MP4).
    /// - Returns: the sidecars to write.
    static func checkSidecars(
        output: String, directory: String, captionsFile: String?, inputs: [(path: String, role: String)]
    ) throws -> [String] {
        var paths: [String] = []
        for path in sidecarPaths(for: output) {
            if let captionsFile, FileChecks.sameFile(path, captionsFile) { continue }
            try RunInputs.checkOutput(path, directory: directory, inputs: inputs + [(output, "output video")])
            paths.append(path)
        }
        return paths
    }

    /// Reads a user's transcript for audio of `duration` seconds.
    /// - Throws: ``PipelineError`` (invalid input) naming the file and line.
    static func read(file: String, duration: Double, language: String?, sidecars: [String]) async throws -> RunCaptions {
        let transcript = try await TranscriptFile(file: URL(fileURLWithPath: file)).transcribe(
            audio: URL(fileURLWithPath: file), duration: duration)
        return RunCaptions(
            transcript: transcript, source: file, cost: 0, cached: false, sidecars: sidecars,
            language: language ?? transcript.language)
    }

    /// The soft subtitle track the MP4 carries.
    var subtitleTrack: SubtitleTrack { SubtitleTrack(captions: captions, language: language) }

    /// Writes the sidecars (each whole or not at all); returns their paths.
    func writeSidecars() throws -> [String] {
        let cues = captions
        for path in sidecars {
            let text = path.hasSuffix(".vtt") ? CaptionWriter.webVTT(cues) : CaptionWriter.srt(cues)
            try AtomicFile.write(Data(text.utf8), to: path)
        }
        return sidecars
    }

    /// The report the run's `captions` event carries.
    var report: CaptionsReport {
        CaptionsReport(
            source: source, cues: captions.count, words: transcript.words.count, speakers: transcript.speakers,
            language: language, cost: cost, cached: cached, sidecars: sidecars)
    }
}

/// What a run's captions are: where the transcript came from and what it holds, and the files
/// they become.
public struct CaptionsReport: Sendable, Equatable, Codable {
    /// The transcript file, or the fal endpoint that transcribed the audio.
    public var source: String
    /// Cues in the soft subtitle track and the sidecars.
    public var cues: Int
    /// Timed words in the transcript (0 when only segments are known).
    public var words: Int
    /// The speakers named in the transcript, in the order they are first heard.
    public var speakers: [String]
    /// The subtitle track's language, when known.
    public var language: String?
    /// What the transcript cost, US dollars (0 for a file or a cached transcript).
    public var cost: Double
    /// Whether the transcript came from the cache.
    public var cached: Bool
    /// The sidecar files written beside the MP4.
    public var sidecars: [String]
}

extension RunInputs {
    /// The transcript known before planning: the captions file's, or a cached one of `.auto`
    /// captions (a transcript still to be made re-plans the run once it exists).
    static func transcriptBeforePlanning(_ o: PipelineOptions, captions: RunCaptions?, audio: String) async throws -> Transcript?
    {
        if let captions { return captions.transcript }
        guard o.captions == .auto, o.useCache else { return nil }
        return try await TranscriptStage(options: o).cached(audio: audio)
    }

    /// These inputs with the plan made again knowing `transcript`, so that its cuts prefer the
    /// ends of sentences (one speaker; a multi-speaker plan is kept). The paid frames are the
    /// same: the layout and sizes follow from the length alone.
    func replanned(with transcript: Transcript, options o: PipelineOptions) throws -> RunInputs {
        guard speakers == nil, plan.cutsAtSentenceEnds == nil else { return self }
        var planning = PlanningOptions(
            maxFrames: o.maxFrames, resolution: o.resolution, pricePerSecond: o.pricePerSecond, provider: o.provider,
            concurrency: o.concurrency)
        planning.transcript = transcript
        var inputs = self
        inputs.plan = try SegmentPlanner.plan(analysis, options: planning)
        return inputs
    }
}
