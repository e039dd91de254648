import Foundation

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
    /// The fitted portrait as PNG, and its SHA-256.
    let png: [UInt8]
    let imageSHA: String
    let analysis: AudioAnalysis
    let plan: Plan

    /// Checks the options and paths, then reads the inputs.
    /// - Parameter checkBackend: checks, without any network traffic, that the backend can start.
    static func read(_ o: PipelineOptions, checkBackend: () throws -> Void) async throws -> RunInputs {
        let audioPath = o.absolute(o.audio), imagePath = o.absolute(o.image), output = o.resolvedOutput
        try checkInputFile(audioPath, role: "audio")
        try checkInputFile(imagePath, role: "image")
        let outputDirectory = URL(fileURLWithPath: output).deletingLastPathComponent().path
        try checkOutput(output, directory: outputDirectory, inputs: [audioPath, imagePath])
        try o.validate()
        try checkBackend()

        let bitRate = o.stitch.audioBitRate
        let outputAudio = try await runBlocking {
            try OutputAudio.decide(audio: audioPath, scratchDirectory: outputDirectory, bitRate: bitRate)
        }
        let fitter = ImageFitter(resolution: o.resolution, aspect: o.aspect, cropAnchor: o.cropAnchor, background: o.background)
        let fitted: FittedImage
        do {
            fitted = try await runBlocking { try fitter.fit(path: imagePath) }
        } catch let error as ImageFitError {
            throw PipelineError.from(error, options: o)
        }
        let png = Array(try fitted.pngData())
        let analysis = try await runBlocking { try AudioAnalysis.analyze(path: audioPath) }
        let planning = PlanningOptions(maxFrames: o.maxFrames, resolution: o.resolution, pricePerSecond: o.pricePerSecond)
        let plan = try SegmentPlanner.plan(analysis, options: planning)
        return RunInputs(
            audioPath: audioPath, imagePath: imagePath, output: output, outputDirectory: outputDirectory,
            outputAudio: outputAudio, bucket: (fitted.bucket.width, fitted.bucket.height), png: png,
            imageSHA: Hashing.sha256(png), analysis: analysis, plan: plan)
    }

    static func checkInputFile(_ path: String, role: String) throws {
        func invalid(_ text: String) -> PipelineError { PipelineError(.invalidInput, "\(path): \(text)", file: path) }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw invalid("no such \(role) file")
        }
        guard !isDirectory.boolValue else { throw invalid("is a directory, not an \(role) file") }
        do {
            try FileChecks.requireRegularFile(path)
        } catch let error as MediaError {
            throw PipelineError(.invalidInput, error.description, file: path, underlying: error)
        }
        guard FileManager.default.isReadableFile(atPath: path) else { throw invalid("the \(role) file is not readable") }
    }

    static func checkOutput(_ output: String, directory: String, inputs: [String]) throws {
        func invalid(_ text: String) -> PipelineError { PipelineError(.invalidOutput, "\(output): \(text)", file: output) }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw invalid("the directory \(directory) does not exist")
        }
        guard FileManager.default.isWritableFile(atPath: directory) else {
            throw invalid("the directory \(directory) is not writable")
        }
        guard !inputs.contains(output) else { throw invalid("the output would overwrite an input") }
        do {
            try FileChecks.requireReplaceableFile(output)
        } catch let error as MediaError {
            throw PipelineError(.invalidOutput, error.description, file: output, underlying: error)
        }
    }
}
