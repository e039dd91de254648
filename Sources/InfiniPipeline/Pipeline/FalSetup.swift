import Foundation

extension PipelineOptions {
    /// The fal client's key and configuration for these options, checked without any network
    /// traffic: a key (``credentials``, or the environment's) and valid endpoints (https, or
    /// http to loopback).
    /// - Throws: ``PipelineError`` (``PipelineError/Kind/missingCredentials``) naming what is
    ///   missing or wrong.
    func falClientSettings() throws -> (credentials: FalCredentials, configuration: FalConfiguration) {
        do {
            let credentials = try self.credentials ?? FalCredentials.fromEnvironment(environment)
            guard let credentials else {
                throw PipelineError(
                    .missingCredentials,
                    "FAL_KEY is not set: export FAL_KEY (or FAL_KEY_ID and FAL_KEY_SECRET)", option: "credentials"
                )
            }
            var configuration = try FalConfiguration.fromEnvironment(environment)
            if let queueURL { configuration.queueBaseURL = queueURL }
            if let restURL { configuration.restBaseURL = restURL }
            configuration.modelID = endpoint
            configuration.uploadMode = inline ? .inline : .storage
            configuration.maxRequestsInFlight = concurrency
            try configuration.validate()
            return (credentials, configuration)
        } catch let error as FalError {
            throw PipelineError(.missingCredentials, error.description, underlying: error)
        }
    }
}
