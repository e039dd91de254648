import Foundation

/// The offline preview backend: clips rendered locally from the fitted portrait. Needs no key and
/// no network; costs nothing.
///
/// Each clip starts from the portrait and drifts away from it (a slow zoom and pan), as the
/// model's clips do, so seams and their transitions show in a free preview; the request's
/// ``ClipRequest/speaker``, when set, is written into every frame.
public struct PreviewBackend: ClipBackend {
    /// The directory where staged files and rendered clips go.
    public let directory: URL

    /// A backend writing into `directory`.
    public init(directory: URL) { self.directory = directory }

    public var identity: String { "preview" }

    public func stageImage(png: [UInt8], fileName: String) async throws -> String {
        let url = directory.appendingPathComponent(fileName)
        try Data(png).write(to: url, options: .atomic)
        return url.path
    }

    public func stageAudio(file: URL) async throws -> String { file.path }

    public func submit(_ request: ClipRequest) async throws -> SubmittedRequest {
        SubmittedRequest(requestId: "preview-\(request.segment.index)-\(UUID().uuidString.prefix(8))")
    }

    public func waitForResult(
        _ submitted: SubmittedRequest, request: ClipRequest,
        progress: @escaping @Sendable (BackendProgress) -> Void
    ) async throws -> String {
        progress(.running)
        try Task.checkCancellation()
        let output = directory.appendingPathComponent("\(submitted.requestId).mp4").path
        let imagePath = request.input.imageURL
        try await runBlocking {
            let image = try ImageCodec.decode(path: imagePath)
            let rgb = image.format == .rgb8 ? image : image.flattenedToRGB()
            try PreviewRenderer(image: rgb).render(
                segment: request.segment, segmentCount: request.segmentCount,
                speaker: request.speaker ?? request.segment.speaker,
                audioFile: request.input.audioURL, output: output)
        }
        return URL(fileURLWithPath: output).absoluteString
    }

    public func download(_ url: String, to destination: URL) async throws {
        guard let source = URL(string: url), source.isFileURL else {
            throw GenerationFailure("the preview backend produced a non-file URL \(url)")
        }
        if FileManager.default.fileExists(atPath: destination.path) { try FileManager.default.removeItem(at: destination) }
        try FileManager.default.moveItem(at: source, to: destination)
    }

    public func cancel(_ submitted: SubmittedRequest) async {}
}
