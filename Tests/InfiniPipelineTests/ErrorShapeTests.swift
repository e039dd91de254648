import Foundation
import Testing

@testable import InfiniPipeline
@testable import InfiniStitchCLI

/// Every error of the library has one shape (``InfiniPipelineError``): the pipeline and the
/// command line report any of them, a caller's own too, through it alone.
@Suite("Error shape", .ownThreads)
struct ErrorShapeTests {
    /// An error from outside the library (an app's own backend), with a fault and an option.
    struct AppBackendError: InfiniPipelineError {
        var fault: ErrorFault
        var option: String? = nil
        var description: String
        var kindName: String { "appBackend" }
    }

    @Test func kindsMatchOnlyTheirOwnType() {
        let media = MediaError(.empty, file: "a.wav", "no samples")
        #expect(media.kind == .empty && media.kindName == "empty")
        guard case MediaError.Kind.empty = media as any Error else {
            Issue.record("MediaError.Kind.empty does not match its own error")
            return
        }
        // Two types may use the same kind name; a kind matches its own type's errors only.
        let generation = GenerationFailure("the model failed")
        #expect(!(FalError.Kind.generationFailed ~= generation))
        #expect(!(PipelineError.Kind.generationFailed ~= generation))
        #expect(!(MediaError.Kind.invalidData ~= media))
        #expect(media.localizedDescription == "a.wav: no samples")
    }

    @Test func anErrorIsReportedThroughTheProtocolAlone() {
        let key = AppBackendError(fault: .credentials, option: "credentials", description: "MY_KEY is not set")
        let stop = PipelineError.from(key)
        #expect(stop.kind == .missingCredentials && stop.option == "credentials")
        #expect(stop.description == "MY_KEY is not set" && stop.underlying is AppBackendError)
        #expect(ErrorReport.line(for: key) == "MY_KEY is not set, or use --backend preview or --dry-run")
        #expect(ErrorReport.exitCode(for: key) == 2)

        let value = AppBackendError(fault: .option, option: "maxFrames", description: "maxFrames 30 is too few")
        #expect(PipelineError.from(value).kind == .invalidOption)
        #expect(ErrorReport.line(for: value) == "--max-frames 30 is too few")

        let outage = AppBackendError(fault: .generation, description: "the provider is down")
        #expect(PipelineError.from(outage).kind == .generationFailed)
        #expect(ErrorReport.exitCode(for: outage) == 1)
        #expect(ErrorReport.exitCode(for: PipelineError.from(CancellationError())) == 130)
        #expect(ErrorReport.exitCode(for: AppBackendError(fault: .system, description: "disk")) == 1)
        #expect(PipelineError.from(AppBackendError(fault: .input, description: "bad file")).kind == .invalidInput)
    }

    @Test func theLibrarysErrorsSayWhoseFaultTheyAre() {
        #expect(MediaError(.invalidData, file: "x.mp3", "cut off").isInputProblem)
        #expect(!MediaError(.writeFailed, file: "out.mp4", "disk full").isInputProblem)
        #expect(FalError(.missingCredentials, reason: "no key").fault == .credentials)
        #expect(FalError(.transport, reason: "reset").fault == .generation)
        #expect(FalError(.validationFailed, reason: "422").fault == .input)
        #expect(ClipError(segment: 2, clip: "c.mp4", reason: "no frames").file == "c.mp4")
        #expect(PipelineError(.workDirInUse, "in use").fault == .output)
        #expect(PipelineError(.interrupted, "stopped").fault == .interrupted)
        #expect(PipelineError(.overBudget, "too dear", option: "maxCost").isInputProblem)
        // The cap reached during a run is no bad input: exit code 1, reason "budget".
        let capped = PipelineError(.budgetExceeded, "cap reached", option: "maxCost", requiredMaxCost: 12.5)
        #expect(capped.fault == .budget && !capped.isInputProblem && ErrorReport.exitCode(for: capped) == 1)
        #expect(ErrorReport.jsonLine(for: capped, resume: "infinistitch a.mp3").contains("\"reason\":\"budget\""))
    }

    /// Each error type in a file of its own named after it, conforming to the protocol, and no
    /// switch over error types anywhere in the sources.
    @Test func errorTypesLiveInTheirOwnFilesAndNothingSwitchesOverThem() throws {
        let root = Fixture.directory.deletingLastPathComponent().appendingPathComponent("Sources")
        let files =
            FileManager.default.enumerator(atPath: root.path)?.compactMap { $0 as? String }
            .filter { $0.hasSuffix(".swift") } ?? []
        let declaration = try Regex(#"public struct (\w+)\s*:\s*([^{]*)\{"#)
        let typeSwitch = try Regex(#"case\s+(let\s+\w+\s+as|is)\s+\w*(Error|Failure)\b"#)
        var errorTypes: [String] = []
        for file in files {
            let text = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
            for match in text.matches(of: declaration) {
                let (name, conformances) = (String(match.output[1].substring!), String(match.output[2].substring!))
                guard conformances.contains("Error") else { continue }
                errorTypes.append(name)
                #expect(conformances.contains("InfiniPipelineError"), "\(name) in \(file) is not an InfiniPipelineError")
                #expect((file as NSString).lastPathComponent == "\(name).swift", "\(name) is declared in \(file)")
            }
            for match in text.matches(of: typeSwitch) {
                Issue.record("\(file): `\(text[match.range])` switches over error types; use InfiniPipelineError")
            }
        }
        #expect(errorTypes.count >= 11, "\(errorTypes)")
    }
}
