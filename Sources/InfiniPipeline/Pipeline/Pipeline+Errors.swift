import Foundation

extension PipelineError {
    /// The pipeline's view of an error from a stage, the system or a backend: the kind of stop
    /// its fault stands for, its line, and the error itself as ``underlying``.
    static func from(_ error: any Error) -> PipelineError {
        if let error = error as? PipelineError { return error }
        if error is CancellationError { return .interrupted }
        if let error = error as? any InfiniPipelineError {
            return PipelineError(
                Kind(for: error.fault, option: error.option), error.description, option: error.option,
                file: error.file, underlying: error)
        }
        if Task.isCancelled { return .interrupted }
        return PipelineError(.failed, Pipeline.describe(error), underlying: error)
    }

    /// The run was interrupted; running it again resumes.
    static var interrupted: PipelineError {
        PipelineError(.interrupted, "interrupted; run the same command again to resume")
    }
}

extension ErrorKind where Owner == PipelineError {
    /// The kind of stop an error of a stage with this fault makes.
    init(for fault: ErrorFault, option: String?) {
        switch fault {
        case .input: self = option == nil ? .invalidInput : .invalidOption
        case .option: self = .invalidOption
        case .credentials: self = .missingCredentials
        case .output: self = .invalidOutput
        case .generation: self = .generationFailed
        case .interrupted: self = .interrupted
        default: self = .failed
        }
    }
}

extension Pipeline {
    /// An error in one line: the library's errors say what they are; Foundation's are cut down
    /// to the system's reason (never an NSError dump).
    static func describe(_ error: any Error) -> String {
        if let error = error as? any InfiniPipelineError { return error.description }
        let ns = error as NSError
        if ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain {
            let file = (ns.userInfo[NSFilePathErrorKey] as? String).map { "\($0): " } ?? ""
            return file + reason(error)
        }
        return String(describing: error)
    }

    /// A Foundation error in a few words: the system's reason when there is one.
    static func reason(_ error: any Error) -> String {
        if let media = error as? MediaError { return media.reason }
        let ns = error as NSError
        if let posix = ns.userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(posix.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        return ns.localizedDescription
    }
}
