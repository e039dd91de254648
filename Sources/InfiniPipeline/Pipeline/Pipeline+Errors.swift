import Foundation

extension PipelineError {
    /// The pipeline's view of an error from a stage, the system or a backend: its kind, one
    /// line, and the error itself as ``underlying``.
    static func from(_ error: any Error, options: PipelineOptions) -> PipelineError {
        switch error {
        case let error as PipelineError:
            return error
        case is CancellationError:
            return .interrupted
        case let error as MediaError:
            return PipelineError(
                error.isInputProblem ? .invalidInput : .failed, error.description, file: error.file,
                underlying: error)
        case let error as PlanningError:
            return PipelineError(
                error.option == nil ? .invalidInput : .invalidOption, error.description, option: error.option,
                underlying: error)
        case let error as ImageFitError:
            if let option = error.option {
                return PipelineError(.invalidOption, error.description, option: option, underlying: error)
            }
            let image = options.absolute(options.image)
            return PipelineError(
                .invalidInput, error.file == nil ? "\(image): \(error.description)" : error.description,
                file: error.file ?? image, underlying: error)
        case let error as SpeakerError:
            return PipelineError(
                error.option == nil ? .invalidInput : .invalidOption, error.description, option: error.option,
                underlying: error)
        case let error as VisionError:
            return PipelineError(.failed, error.description, underlying: error)
        case let error as StitchError:
            return PipelineError(.invalidOption, error.description, option: error.option, underlying: error)
        case let error as FalError:
            return PipelineError(kind(of: error), error.description, underlying: error)
        case let error as ClipError:
            return PipelineError(.stitchFailed, error.description, segments: [error.segment], underlying: error)
        case let error as GenerationFailure:
            return PipelineError(.generationFailed, error.reason, underlying: error)
        default:
            if Task.isCancelled { return .interrupted }
            return PipelineError(.failed, Pipeline.describe(error), underlying: error)
        }
    }

    /// A fal error's kind of stop: a missing or unusable key or endpoint, an input the model
    /// refuses, or a failure of the generation.
    static func kind(of error: FalError) -> Kind {
        switch error.kind {
        case .missingCredentials, .invalidURL, .insecureURL, .invalidConfiguration: return .missingCredentials
        case .invalidRequest, .validationFailed, .inlineTooLarge: return .invalidInput
        default: return .generationFailed
        }
    }

    /// The run was interrupted; running it again resumes.
    static var interrupted: PipelineError {
        PipelineError(.interrupted, "interrupted; run the same command again to resume")
    }
}

extension Pipeline {
    /// An error in one line: our own errors say what they are; Foundation's are cut down to
    /// the system's reason (never an NSError dump).
    static func describe(_ error: any Error) -> String {
        switch error {
        case let e as MediaError: return e.description
        case let e as PipelineError: return e.description
        case let e as FalError: return e.description
        case let e as GenerationFailure: return e.reason
        case let e as ClipError: return e.description
        default:
            let ns = error as NSError
            if ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain {
                let file = (ns.userInfo[NSFilePathErrorKey] as? String).map { "\($0): " } ?? ""
                return file + reason(error)
            }
            return String(describing: error)
        }
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
