import Foundation

/// A fitted portrait as the model gets it: PNG bytes and their SHA-256.
struct Portrait: Sendable {
    /// The speaker it shows in a multi-speaker run; `nil` for the one portrait of a single-speaker run.
    let speaker: String?
    /// The image file it was fitted from.
    let path: String
    let png: [UInt8]
    let sha: String
    /// The face the crop was anchored on, as fractions of the fitted frame, when one was found.
    var face: ColorRegion? = nil
}

/// A run's inputs, checked and read whole before anything is reported or sent: bad input of any
/// kind (an audio file the output cannot carry, a corrupt image, cut-off audio, a bad option)
/// ends the run with one error and nothing else.
struct RunInputs: Sendable {
    let audioPath: String
    let imagePath: String
    let output: String
    let outputDirectory: String
    /// How the output carries the audio, proven with a scratch MP4 in the output's directory,
    /// so that no run pays for clips and then fails to write its output.
    let outputAudio: OutputAudio
    let bucket: (width: Int, height: Int)
    /// The fitted portraits: one, or one per speaker in the order given, all in one bucket.
    let portraits: [Portrait]
    /// Identifies the pictures (and, with several speakers, who is on screen when) for the run key.
    let imageSHA: String
    let analysis: AudioAnalysis
    var plan: Plan
    /// Who speaks when, in a multi-speaker run (the source with absolute paths, and what it said).
    let speakers: (source: SpeakerSource, timeline: SpeakerTimeline)?
    /// What fitting the portraits noticed (no face found: the crop is centred), one line each.
    let imageWarnings: [String]
    /// The run's captions, when it has them (a transcript file read and checked against the
    /// audio, or the diarized transcript's with `.auto` captions).
    var captions: RunCaptions? = nil
    /// The diarized transcript of the automatic speaker source, made (or cached) before planning.
    var diarization: RunDiarization? = nil
    /// What the run's transcript costs this run: the diarized one's (which the captions share),
    /// or the captions'.
    var transcriptCost: Double { diarization?.outcome.cost ?? captions?.cost ?? 0 }
    /// Warnings about the inputs (the portraits', the audio's, the speaker source's), one line each.
    var warnings: [String] { imageWarnings + analysis.warnings + (speakers?.timeline.warnings ?? []) }

    /// Checks the options and paths, then reads the inputs.
    /// - Parameters:
    ///   - diarize: how the automatic speaker source's transcript may be had (from the cache
    ///     only, by default: nothing is sent).
    ///   - checkBackend: checks, without any network traffic, that the backend can start.
    static func read(
        _ o: PipelineOptions, diarize: RunDiarization.Access = .cacheOnly, checkBackend: () throws -> Void
    ) async throws -> RunInputs {
        // A sample is written beside the output, which it leaves alone.
        let audioPath = o.absolute(o.audio), output = o.sample == nil ? o.resolvedOutput : o.resolvedSampleOutput
        let images: [(speaker: String?, path: String)] =
            o.speakers.isEmpty ? [(nil, o.absolute(o.image))] : o.speakers.map { ($0.name, o.absolute($0.image)) }
        let imagePath = images[0].path
        let source = o.resolvedSpeakerSource
        var sourceFiles: [(path: String, role: String)] = []
        switch source {
        case .diarization(let path)?: sourceFiles = [(path, "diarization")]
        case .tracks(let files)?: sourceFiles = files.keys.sorted().map { (files[$0]!, "speaker track") }
        default: break
        }
        try checkInputFile(audioPath, role: "audio")
        for image in images { try checkInputFile(image.path, role: "image") }
        for file in sourceFiles { try checkInputFile(file.path, role: file.role) }
        var captionsFile: String? = nil
        if case .file(let path)? = o.captions {
            captionsFile = o.absolute(path)
            try checkInputFile(o.absolute(path), role: "captions")
        }
        let outputDirectory = URL(fileURLWithPath: output).deletingLastPathComponent().path
        try checkOutput(
            output, directory: outputDirectory,
            inputs: [(audioPath, "audio")] + images.map { ($0.path, "image") } + sourceFiles)
        let sidecars =
            o.captions == nil
            ? []
            : try RunCaptions.checkSidecars(
                output: output, directory: outputDirectory, captionsFile: captionsFile,
                inputs: [(audioPath, "audio")] + images.map { ($0.path, "image") } + sourceFiles)
        try o.validate()
        try checkBackend()

        let bitRate = o.stitch.audioBitRate
        let outputAudio = try await runBlocking {
            try OutputAudio.decide(audio: audioPath, scratchDirectory: outputDirectory, bitRate: bitRate)
        }
        // The first portrait chooses the bucket (or `aspect` does); the others are fitted to it,
        // each cropped around its own anchor.
        var portraits: [Portrait] = []
        var imageWarnings: [String] = []
        var bucket: AspectBuckets.Bucket? = nil
        for image in images {
            let aspect = bucket.map { ImageFitter.Aspect(width: Double($0.width), height: Double($0.height)) } ?? o.aspect
            let fitter = ImageFitter(resolution: o.resolution, aspect: aspect, cropAnchor: o.cropAnchor, background: o.background)
            let fitted: FittedImage
            do {
                fitted = try await runBlocking { try fitter.fit(path: image.path) }
            } catch let error as ImageFitError where error.option == nil && error.file == nil {
                throw error.naming(file: image.path)
            }
            bucket = bucket ?? fitted.bucket
            imageWarnings += fitted.warnings
            let png = Array(try fitted.pngData())
            portraits.append(
                Portrait(speaker: image.speaker, path: image.path, png: png, sha: Hashing.sha256(png), face: fitted.faceRegion))
        }
        let analysis = try await runBlocking { try AudioAnalysis.analyze(path: audioPath) }
        var captions: RunCaptions? = nil
        if let captionsFile {
            captions = try await RunCaptions.read(
                file: captionsFile, duration: analysis.duration, language: o.language, sidecars: sidecars)
        }
        // Who speaks when, from the diarized transcript: made before the plan, which follows it.
        var diarization: RunDiarization? = nil
        if source == .automatic {
            // The video pays at least its frames (a sample's cap is the sample's, checked later).
            let frames = try SegmentPlanner.totalFrames(samples: analysis.samples, sampleRate: analysis.format.sampleRate)
            let price = o.pricePerSecond ?? o.provider.billing.pricePerSecond(o.resolution)
            diarization = try await RunDiarization.make(
                o, audio: audioPath, seconds: analysis.duration,
                videoAtLeast: o.sample == nil ? Plan.cost(paidFrames: frames, pricePerSecond: price) : 0, access: diarize)
            if o.captions == .auto { captions = diarization?.captions(o, sidecars: sidecars) }
        }
        var planningOptions = PlanningOptions(
            maxFrames: o.maxFrames, resolution: o.resolution, pricePerSecond: o.pricePerSecond, provider: o.provider,
            concurrency: o.concurrency)
        if let diarization {
            planningOptions.transcript = diarization.outcome.transcript
        } else {
            planningOptions.transcript = try await transcriptBeforePlanning(o, captions: captions, audio: audioPath)
        }
        let planning = planningOptions
        let plan: Plan
        var speakers: (source: SpeakerSource, timeline: SpeakerTimeline)? = nil
        var sourceKey: [String] = []
        if let source {
            let (list, minShot) = (o.speakers, o.minShot ?? SpeakerTimeline.defaultMinShot(for: o.provider))
            let (made, timeline) = try await runBlocking {
                try SegmentPlanner.plan(analysis, speakers: list, source: source, minShot: minShot, options: planning)
            }
            plan = made
            speakers = (source, timeline)
            // Who is on screen when, and what each request hears, follow from these.
            sourceKey = ["speakers-v1", String(minShot)]
            switch source {
            case .diarization(let path): sourceKey += ["rttm", try await Hashing.sha256(fileAt: path)]
            case .tracks(let files):
                for name in files.keys.sorted() { sourceKey += ["track", name, try await Hashing.sha256(fileAt: files[name]!)] }
            case .channels(let channels):
                for name in channels.keys.sorted() { sourceKey += ["channel", name, String(channels[name]!)] }
            case .automatic:
                // The turns read from the transcript (each speaker's, in order).
                sourceKey +=
                    ["transcript"]
                    + timeline.voiced.map { $0.map { "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ",") }
            }
        } else {
            plan = try SegmentPlanner.plan(analysis, options: planning)
        }
        var inputs = RunInputs(
            audioPath: audioPath, imagePath: imagePath, output: output, outputDirectory: outputDirectory,
            outputAudio: outputAudio, bucket: (bucket!.width, bucket!.height), portraits: portraits,
            imageSHA: speakers == nil
                ? portraits[0].sha : Hashing.key(portraits.flatMap { [$0.speaker ?? "", $0.sha] } + sourceKey),
            analysis: analysis, plan: plan, speakers: speakers, imageWarnings: imageWarnings)
        captions?.videoDuration = min(ModelLimits.seconds(forFrames: plan.totalFrames), analysis.duration)
        inputs.captions = captions
        inputs.diarization = diarization
        return inputs
    }

    /// What the same job costs on each billed provider, the run's own first (a multi-speaker
    /// job with its shots on each).
    func prices(_ o: PipelineOptions) throws -> [ProviderPrice] {
        let planning = PlanningOptions(
            maxFrames: o.maxFrames, resolution: o.resolution, pricePerSecond: o.pricePerSecond, provider: o.provider,
            concurrency: o.concurrency)
        if let speakers {
            return try SegmentPlanner.prices(
                analysis, plan: plan, timeline: speakers.timeline, minShot: o.minShot, options: planning)
        }
        return try SegmentPlanner.prices(analysis, plan: plan, options: planning)
    }

    static func checkInputFile(_ path: String, role: String) throws {
        do {
            try FileChecks.requireInputFile(path, role: role)
        } catch let error as MediaError {
            throw PipelineError(.invalidInput, error.description, file: path, underlying: error)
        }
    }

    static func checkOutput(_ output: String, directory: String, inputs: [(path: String, role: String)]) throws {
        func invalid(_ text: String) -> PipelineError { PipelineError(.invalidOutput, "\(output): \(text)", file: output) }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw invalid("the directory \(directory) does not exist")
        }
        guard FileManager.default.isWritableFile(atPath: directory) else {
            throw invalid("the directory \(directory) is not writable")
        }
        do {
            try FileChecks.requireNotAnInput(output, inputs: inputs)
            try FileChecks.requireReplaceableFile(output)
        } catch let error as MediaError {
            throw PipelineError(.invalidOutput, error.description, file: output, underlying: error)
        }
    }
}
