// TEMP: replaced by the real adapter when the fal client lands.
struct FalBackend: ClipBackend {
    static func checkConfiguration(options: PipelineOptions) throws {
        throw PipelineError.badInput("the fal backend is not available in this build")
    }
    init(options: PipelineOptions) throws { try Self.checkConfiguration(options: options) }
    var identity: String { "fal" }
    func stageImage(png: [UInt8], fileName: String) async throws -> String { throw CancellationError() }
    func stageAudio(file: URL) async throws -> String { throw CancellationError() }
    func submit(_ request: ClipRequest) async throws -> SubmittedRequest { throw CancellationError() }
    func waitForResult(_ submitted: SubmittedRequest, request: ClipRequest, progress: @escaping @Sendable (BackendProgress) -> Void) async throws -> String { throw CancellationError() }
    func download(_ url: String, to destination: URL) async throws { throw CancellationError() }
    func cancel(_ submitted: SubmittedRequest) async {}
}
import Foundation
