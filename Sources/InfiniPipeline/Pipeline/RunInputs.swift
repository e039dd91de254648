import Foundation

/// A fitted portrait as the model gets it: PNG bytes and their SHA-256.
struct Portrait: Sendable {
    /// The speaker it shows in a multi-speaker run; `nil` for the one portrait of a single-speaker run.
    let speaker: String?
    /// The image file it was fitted from.
    let path: String
    let png: [UInt8]
    let sha: String
    /// The face its fit found, as fractions of the fitted frame (nil: none was found).
    var faceRegion: ColorRegion? = nil
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
    let plan: Plan
    /// Who speaks when, in a multi-speaker run (the source with absolute paths, and what it said).
    let speakers: (source: SpeakerSource, timeline: SpeakerTimeline)?
    /// What fitting the portraits noticed (no face found: the crop is centred), one line each.
    let imageWarnings: [String]
    /// Warnings about the inputs (the portraits', the audio's, the speaker source's), one line each.
    var warnings: [String] { imageWarnings + analysis.warnings + (speakers?.timeline.warnings ?? []) }

    /// Checks the options and paths, then reads the inputs.
    /// - Parameter checkBackend: checks, without any network traffic, that the backend can start.
    static func read(_ o: PipelineOptions, checkBackend: () throws -> Void) async throws -> RunInputs {
        let audioPath = o.absolute(o.audio), output = o.resolvedOutput
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
        let outputDirectory = URL(fileURLWithPath: output).deletingLastPathComponent().path
        try checkOutput(
            output, directory: outputDirectory,
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
                Portrait(
                    speaker: image.speaker, path: image.path, png: png, sha: Hashing.sha256(png), faceRegion: fitted.faceRegion))
        }
        let analysis = try await runBlocking { try AudioAnalysis.analyze(path: audioPath) }
        let planning = PlanningOptions(
            maxFrames: o.maxFrames, resolution: o.resolution, pricePerSecond: o.pricePerSecond, provider: o.provider,
            concurrency: o.concurrency)
        let plan: Plan
        var speakers: (source: SpeakerSource, timeline: SpeakerTimeline)? = nil
        var sourceKey: [String] = []
        if let source {
            let (list, minShot) = (o.speakers, o.minShot)
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
            }
        } else {
            plan = try SegmentPlanner.plan(analysis, options: planning)
        }
        return RunInputs(
            audioPath: audioPath, imagePath: imagePath, output: output, outputDirectory: outputDirectory,
            outputAudio: outputAudio, bucket: (bucket!.width, bucket!.height), portraits: portraits,
            imageSHA: speakers == nil
                ? portraits[0].sha : Hashing.key(portraits.flatMap { [$0.speaker ?? "", $0.sha] } + sourceKey),
            analysis: analysis, plan: plan, speakers: speakers, imageWarnings: imageWarnings)
    }

    /// What the same job costs on each billed provider, the run's own first (a multi-speaker
    /// plan is priced on its own provider only).
    func prices(_ o: PipelineOptions) throws -> [ProviderPrice] {
        guard speakers == nil else { return [plan.price] }
        let planning = PlanningOptions(
            maxFrames: o.maxFrames, resolution: o.resolution, pricePerSecond: o.pricePerSecond, provider: o.provider,
            concurrency: o.concurrency)
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
