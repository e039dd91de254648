// From the pipeline's options to a fal backend: the key, the endpoints and the limits.

extension PipelineOptions {
    /// Checks, without any network traffic, that a fal run can start: a key in the
    /// environment and valid (https, or http to loopback) endpoints.
    /// - Throws: ``PipelineError`` (bad input) naming what is missing or wrong.
    func checkFalConfiguration() throws {
        _ = try falCredentials()
        _ = try falConfiguration()
    }

    /// The key from ``environment`` (`FAL_KEY`, or `FAL_KEY_ID` and `FAL_KEY_SECRET`).
    /// - Throws: ``PipelineError`` (bad input) when there is none, or it is malformed.
    func falCredentials() throws -> FalCredentials {
        do {
            guard let credentials = try FalCredentials.fromEnvironment(environment) else {
                throw PipelineError.badInput("FAL_KEY is not set: export FAL_KEY (or FAL_KEY_ID and FAL_KEY_SECRET), or use --backend preview or --dry-run")
            }
            return credentials
        } catch let error as FalError {
            throw PipelineError.badInput(error.description)
        }
    }

    /// The client's configuration: the environment's (`INFINISTITCH_*`), then these options'
    /// queue and REST URLs, endpoint, upload mode and concurrency.
    /// - Throws: ``PipelineError`` (bad input) naming a bad URL, endpoint or variable.
    func falConfiguration() throws -> FalConfiguration {
        do {
            var configuration = try FalConfiguration.fromEnvironment(environment)
            if let queue = queueURL { configuration.queueBaseURL = queue }
            if let rest = restURL { configuration.restBaseURL = rest }
            configuration.modelID = endpoint
            configuration.uploadMode = inline ? .inline : .storage
            configuration.maxRequestsInFlight = concurrency
            try configuration.validate()
            return configuration
        } catch let error as FalError {
            throw PipelineError.badInput(error.description)
        }
    }

    /// A fal backend that owns its client (shut down when the run closes the backend).
    /// - Throws: as ``falCredentials()`` and ``falConfiguration()``; ``FalError`` from the client.
    func makeFalBackend() throws -> FalBackend {
        FalBackend(client: try FalClient(credentials: falCredentials(), configuration: falConfiguration()),
                   ownsClient: true)
    }
}
