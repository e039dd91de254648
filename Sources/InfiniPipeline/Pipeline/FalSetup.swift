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

    /// The WaveSpeed client's key and configuration for these options, checked without any
    /// network traffic: a key (``waveSpeedCredentials``, or `WAVESPEED_API_KEY`) and a valid base
    /// URL (https, or http to loopback).
    /// - Throws: ``PipelineError`` (``PipelineError/Kind/missingCredentials``) naming what is
    ///   missing or wrong.
    func waveSpeedClientSettings() throws -> (credentials: WaveSpeedCredentials, configuration: WaveSpeedConfiguration) {
        do {
            let credentials = try waveSpeedCredentials ?? WaveSpeedCredentials.fromEnvironment(environment)
            guard let credentials else {
                throw PipelineError(
                    .missingCredentials, "WAVESPEED_API_KEY is not set: export WAVESPEED_API_KEY", option: "credentials")
            }
            var configuration = try WaveSpeedConfiguration.fromEnvironment(environment)
            if let providerURL {
                configuration.baseURL = try WaveSpeedConfiguration.checkedBase(providerURL, role: "providerURL")
            }
            try configuration.validate()
            return (credentials, configuration)
        } catch let error as WaveSpeedError {
            throw PipelineError(.missingCredentials, error.description, option: "providerURL", underlying: error)
        }
    }
}
