// Where and how the WaveSpeed client talks: base URL, model, retries, polling, limits.

import Foundation

/// Everything the WaveSpeed client needs besides the key.
///
/// The retry, download and poll policies are the fal client's types (``RetryPolicy``,
/// ``DownloadRetryPolicy``, ``PollPolicy``) with WaveSpeed's defaults.
public struct WaveSpeedConfiguration: Sendable {
    /// The API, default `https://api.wavespeed.ai`. The key is sent to this host only.
    public var baseURL: String
    /// The model, default `wavespeed-ai/infinitetalk`: submits go to `{baseURL}/api/v3/{modelID}`.
    public var modelID: String
    /// Retries of failed API calls (upload ticket and PUT, result polls, and submits refused
    /// before acceptance). Default: 6 attempts, 1 s doubling to 30 s, within 3 minutes.
    public var retry: RetryPolicy
    /// Retries of the result video's download: for a time budget, resuming with `Range`.
    public var download: DownloadRetryPolicy
    /// Result polling. Default: every 1 s at first, growing by 1.1× to every 10 s (a task takes
    /// 10–30 s of wall time per second of video, so a 10-minute request runs for hours), for at
    /// most 12 hours.
    public var poll: PollPolicy
    /// The largest file uploaded, default 200 MB (WaveSpeed's limit).
    public var maxUploadBytes: Int
    /// The largest result video we download, default 2 GiB.
    public var maxDownloadBytes: Int64
    /// The largest JSON response we read, default 8 MiB.
    public var maxResponseBytes: Int
    /// Time to establish a connection (for the client's own `HTTPClient`).
    public var connectTimeout: Duration
    /// The longest silence while reading a response (for the client's own `HTTPClient`).
    public var readTimeout: Duration
    /// The longest one API call may take (a submit's wait for its answer included: past it,
    /// the submit's outcome is unknown).
    public var requestTimeout: Duration
    /// The longest one upload PUT or one video download may take.
    public var transferTimeout: Duration
    /// Sent as `User-Agent`.
    public var userAgent: String
    /// How the client waits (retry back-off, poll intervals). Tests replace it.
    public var sleep: @Sendable (Duration) async throws -> Void

    /// The default API.
    public static let defaultBaseURL = "https://api.wavespeed.ai"
    /// The default model.
    public static let defaultModelID = Provider.wavespeed.model
    /// WaveSpeed's upload limit: 200 MB.
    public static let uploadLimit = 200 * 1024 * 1024
    /// Environment variable that overrides ``baseURL``.
    public static let baseURLVariable = "INFINISTITCH_WAVESPEED_URL"

    /// Creates a configuration; every value has WaveSpeed's default.
    public init(
        baseURL: String = WaveSpeedConfiguration.defaultBaseURL,
        modelID: String = WaveSpeedConfiguration.defaultModelID,
        retry: RetryPolicy = RetryPolicy(initialDelay: .seconds(1)),
        download: DownloadRetryPolicy = .default,
        poll: PollPolicy = PollPolicy(
            initialInterval: .seconds(1), multiplier: 1.1, maxInterval: .seconds(10), maxWait: .seconds(12 * 3600)),
        maxUploadBytes: Int = WaveSpeedConfiguration.uploadLimit,
        maxDownloadBytes: Int64 = 2 << 30,
        maxResponseBytes: Int = 8 << 20,
        connectTimeout: Duration = .seconds(10),
        readTimeout: Duration = .seconds(60),
        requestTimeout: Duration = .seconds(120),
        transferTimeout: Duration = .seconds(1800),
        userAgent: String = "infinipipeline/\(InfiniPipelineVersion.string)",
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.baseURL = baseURL
        self.modelID = modelID
        self.retry = retry
        self.download = download
        self.poll = poll
        self.maxUploadBytes = maxUploadBytes
        self.maxDownloadBytes = maxDownloadBytes
        self.maxResponseBytes = maxResponseBytes
        self.connectTimeout = connectTimeout
        self.readTimeout = readTimeout
        self.requestTimeout = requestTimeout
        self.transferTimeout = transferTimeout
        self.userAgent = userAgent
        self.sleep = sleep
    }

    /// The defaults, with the base URL taken from `INFINISTITCH_WAVESPEED_URL` when it is set
    /// (a command line's `--provider-url` overrides it in turn).
    /// - Throws: ``WaveSpeedError`` (`.invalidURL`/`.insecureURL`) when the variable is not an
    ///   https URL or an http URL to loopback, naming the variable.
    public static func fromEnvironment(_ env: [String: String]) throws -> WaveSpeedConfiguration {
        var configuration = WaveSpeedConfiguration()
        if let base = env[baseURLVariable], !base.isEmpty {
            configuration.baseURL = try checkedBase(base, role: baseURLVariable)
        }
        return configuration
    }

    /// Checks the base URL and the model id (the client does this once at creation).
    /// - Throws: ``WaveSpeedError`` naming the bad value.
    public func validate() throws {
        _ = try WaveSpeedConfiguration.checkedBase(baseURL, role: "WaveSpeed base URL")
        guard WaveSpeedConfiguration.isValidModelID(modelID) else {
            throw WaveSpeedError(
                .invalidURL, reason: "\"\(modelID.prefix(80))\" is not a WaveSpeed model id like \"wavespeed-ai/infinitetalk\"")
        }
    }

    /// `owner/name[/variant]`: letters, digits, `-`, `_`, `.`, no empty or dot segments.
    static func isValidModelID(_ id: String) -> Bool {
        let parts = id.split(separator: "/", omittingEmptySubsequences: false)
        return parts.count >= 2 && id.count <= 200
            && parts.allSatisfy { part in
                !part.isEmpty && part != "." && part != ".."
                    && part.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
            }
    }

    /// The base without trailing slashes, after the URL rules (https, or http to loopback).
    static func checkedBase(_ raw: String, role: String) throws -> String {
        let redactor = Redactor(credentials: nil)
        do {
            try URLRules.check(raw, role: role, redactor: redactor)
        } catch let error as FalError {
            throw WaveSpeedError(error)
        }
        guard !raw.contains("?"), !raw.contains("#") else {
            throw WaveSpeedError(.invalidURL, url: redactor.url(raw), reason: "the \(role) must not have a query or fragment")
        }
        var base = raw
        while base.hasSuffix("/") { base.removeLast() }
        return base
    }
}
