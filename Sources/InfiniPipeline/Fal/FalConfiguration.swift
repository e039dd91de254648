// Where and how the fal client talks: endpoints, model, retries, polling, limits.

import Foundation

/// How long to wait between retries of a failed HTTP call, and when to give up.
///
/// Delay before retry *n* (1, 2, …) is `min(initialDelay × multiplier^(n-1), maxDelay)`,
/// multiplied by a random factor in `1 ± jitter`. A `Retry-After` header (seconds or an HTTP
/// date) replaces the computed delay when it is longer. Retrying stops after `maxAttempts`
/// attempts in all, or when the next wait would end later than `maxTotalTime` after the first
/// attempt started.
public struct RetryPolicy: Sendable, Equatable {
    /// Attempts in all, the first included (1 = never retry).
    public var maxAttempts: Int
    /// The delay before the first retry.
    public var initialDelay: Duration
    /// The factor between consecutive delays.
    public var multiplier: Double
    /// The longest computed delay.
    public var maxDelay: Duration
    /// Random spread of each delay, 0…1 (0.25 = ±25 %).
    public var jitter: Double
    /// The longest time from the first attempt to the start of the last retry.
    public var maxTotalTime: Duration
    /// The longest `Retry-After` we accept; a server asking for more ends the retries.
    public var maxRetryAfter: Duration

    /// Creates a policy. The defaults suit fal: 6 attempts, 0.5 s doubling to 30 s, within 3 minutes.
    public init(
        maxAttempts: Int = 6, initialDelay: Duration = .milliseconds(500), multiplier: Double = 2,
        maxDelay: Duration = .seconds(30), jitter: Double = 0.25, maxTotalTime: Duration = .seconds(180),
        maxRetryAfter: Duration = .seconds(120)
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialDelay = initialDelay
        self.multiplier = max(1, multiplier)
        self.maxDelay = maxDelay
        self.jitter = min(max(jitter, 0), 1)
        self.maxTotalTime = maxTotalTime
        self.maxRetryAfter = maxRetryAfter
    }

    /// fal's defaults.
    public static let `default` = RetryPolicy()
    /// Never retry.
    public static let none = RetryPolicy(maxAttempts: 1)

    /// The delay before retry number `retry` (1-based), before jitter and `Retry-After`.
    func baseDelay(retry: Int) -> Duration {
        Backoff.base(retry: retry, initialDelay: initialDelay, multiplier: multiplier, maxDelay: maxDelay)
    }

    /// The delay before retry number `retry`, jittered, and stretched to `retryAfter` when the
    /// server asked for longer.
    func delay(retry: Int, retryAfter: Duration?) -> Duration {
        Backoff.delay(
            retry: retry, initialDelay: initialDelay, multiplier: multiplier, maxDelay: maxDelay,
            jitter: jitter, retryAfter: retryAfter)
    }
}

/// How the download of a finished result is retried.
///
/// A finished result is paid for, so its download is not given up after a few attempts: it is
/// retried for a time budget. Delay before retry *n* (1, 2, …) is
/// `min(initialDelay × multiplier^(n-1), maxDelay)` times a random factor in `1 ± jitter`
/// (stretched to a longer `Retry-After`); *n* starts again at 1 after an attempt that received
/// bytes, so a download that keeps making progress keeps retrying quickly. Retrying stops when
/// the next wait would end later than `budget` after the first attempt started. Each attempt
/// resumes with an HTTP `Range` request from the bytes already received.
public struct DownloadRetryPolicy: Sendable, Equatable {
    /// The longest time from the first attempt to the start of the last retry (default 10 minutes).
    public var budget: Duration
    /// The delay before the first retry.
    public var initialDelay: Duration
    /// The factor between consecutive delays.
    public var multiplier: Double
    /// The longest computed delay.
    public var maxDelay: Duration
    /// Random spread of each delay, 0…1 (0.25 = ±25 %).
    public var jitter: Double

    /// Creates a policy: by default 0.5 s doubling to 30 s, ±25 %, for 10 minutes.
    public init(
        budget: Duration = .seconds(600), initialDelay: Duration = .milliseconds(500), multiplier: Double = 2,
        maxDelay: Duration = .seconds(30), jitter: Double = 0.25
    ) {
        self.budget = max(budget, .zero)
        self.initialDelay = max(initialDelay, .zero)
        self.multiplier = max(1, multiplier)
        self.maxDelay = max(maxDelay, .zero)
        self.jitter = min(max(jitter, 0), 1)
    }

    /// The defaults.
    public static let `default` = DownloadRetryPolicy()

    /// The delay before retry number `retry` (1-based since the last progress), jittered, and
    /// stretched to `retryAfter` when the server asked for longer.
    func delay(retry: Int, retryAfter: Duration?) -> Duration {
        Backoff.delay(
            retry: retry, initialDelay: initialDelay, multiplier: multiplier, maxDelay: maxDelay,
            jitter: jitter, retryAfter: retryAfter)
    }
}

/// Capped exponential backoff with jitter, shared by ``RetryPolicy`` and ``DownloadRetryPolicy``.
enum Backoff {
    /// `min(initialDelay × multiplier^(retry-1), maxDelay)`.
    static func base(retry: Int, initialDelay: Duration, multiplier: Double, maxDelay: Duration) -> Duration {
        .seconds(min(initialDelay.seconds * pow(multiplier, Double(max(0, retry - 1))), maxDelay.seconds))
    }

    /// The base delay times a random factor in `1 ± jitter`, at most `maxDelay`, stretched to
    /// `retryAfter` when the server asked for longer.
    static func delay(
        retry: Int, initialDelay: Duration, multiplier: Double, maxDelay: Duration, jitter: Double,
        retryAfter: Duration?
    ) -> Duration {
        let base = base(retry: retry, initialDelay: initialDelay, multiplier: multiplier, maxDelay: maxDelay).seconds
        var seconds = min(base * Double.random(in: (1 - jitter)...(1 + jitter)), maxDelay.seconds)
        if let retryAfter { seconds = max(seconds, retryAfter.seconds) }
        return .seconds(max(0, seconds))
    }
}

/// How often to ask for a request's status while it waits or runs.
///
/// The first poll comes `initialInterval` after the submit; each later interval is the previous
/// one times `multiplier`, up to `maxInterval`, whether the request waits in the queue or runs.
public struct PollPolicy: Sendable, Equatable {
    /// The first interval.
    public var initialInterval: Duration
    /// The growth factor between intervals.
    public var multiplier: Double
    /// The longest interval.
    public var maxInterval: Duration
    /// Give up waiting (with ``FalError/Kind/timedOut``) after this long; nil waits for ever.
    /// The request keeps running on fal; its handle can be resumed or cancelled.
    public var maxWait: Duration?

    /// Creates a policy: by default 0.5 s growing by 1.5× to 5 s, giving up after 3 hours.
    public init(
        initialInterval: Duration = .milliseconds(500), multiplier: Double = 1.5,
        maxInterval: Duration = .seconds(5), maxWait: Duration? = .seconds(3 * 3600)
    ) {
        self.initialInterval = initialInterval
        self.multiplier = max(1, multiplier)
        self.maxInterval = maxInterval
        self.maxWait = maxWait
    }

    /// The interval after `interval`.
    func next(after interval: Duration) -> Duration {
        .seconds(min(interval.seconds * multiplier, maxInterval.seconds))
    }
}

/// How input files reach the model.
public enum FalUploadMode: String, Sendable, Equatable, CaseIterable {
    /// Upload to fal's storage (`storage/upload/initiate`, then a PUT) and send the file URL.
    case storage
    /// Send the bytes in the request as a `data:<mime>;base64,…` URI (at most 10 MiB).
    case inline
}

/// Everything the fal client needs besides the key.
public struct FalConfiguration: Sendable {
    /// The queue API, default `https://queue.fal.run`.
    public var queueBaseURL: String
    /// The REST API (storage), default `https://rest.fal.ai`.
    public var restBaseURL: String
    /// The endpoint id, default `fal-ai/infinitalk`.
    public var modelID: String
    /// How input files are sent.
    public var uploadMode: FalUploadMode
    /// Retries of failed HTTP calls (all but the result download).
    public var retry: RetryPolicy
    /// Retries of the result video's download: for a time budget, resuming with `Range`.
    public var download: DownloadRetryPolicy
    /// Status polling.
    public var poll: PollPolicy
    /// The most generations submitted and not yet finished at once (see ``RequestLimiter``).
    public var maxRequestsInFlight: Int
    /// The largest result video we download, default 2 GiB.
    public var maxDownloadBytes: Int64
    /// The largest JSON response we read, default 8 MiB.
    public var maxResponseBytes: Int
    /// Time to establish a connection (for the client's own `HTTPClient`; an injected one
    /// uses its own settings).
    public var connectTimeout: Duration
    /// The longest silence while reading a response before the connection counts as dead (for
    /// the client's own `HTTPClient`; an injected one uses its own settings).
    public var readTimeout: Duration
    /// The longest one API call may take (upload PUTs and downloads use `transferTimeout`).
    public var requestTimeout: Duration
    /// The longest one upload PUT or one video download may take.
    public var transferTimeout: Duration
    /// Sent as `User-Agent`.
    public var userAgent: String
    /// How the client waits (retry back-off, poll intervals). Tests replace it to record the
    /// delays without waiting them out.
    public var sleep: @Sendable (Duration) async throws -> Void

    /// The default queue API.
    public static let defaultQueueBaseURL = "https://queue.fal.run"
    /// The default REST API.
    public static let defaultRestBaseURL = "https://rest.fal.ai"
    /// The default model.
    public static let defaultModelID = InfiniTalk.endpoint
    /// Environment variable that overrides ``queueBaseURL``.
    public static let queueURLVariable = "INFINISTITCH_QUEUE_URL"
    /// Environment variable that overrides ``restBaseURL``.
    public static let restURLVariable = "INFINISTITCH_REST_URL"
    /// Environment variable that overrides the download budget (``DownloadRetryPolicy/budget``),
    /// in seconds.
    public static let downloadBudgetVariable = "INFINISTITCH_DOWNLOAD_BUDGET"

    /// Creates a configuration; every value has fal's default.
    public init(
        queueBaseURL: String = FalConfiguration.defaultQueueBaseURL,
        restBaseURL: String = FalConfiguration.defaultRestBaseURL,
        modelID: String = FalConfiguration.defaultModelID,
        uploadMode: FalUploadMode = .storage,
        retry: RetryPolicy = .default,
        download: DownloadRetryPolicy = .default,
        poll: PollPolicy = PollPolicy(),
        maxRequestsInFlight: Int = 4,
        maxDownloadBytes: Int64 = 2 << 30,
        maxResponseBytes: Int = 8 << 20,
        connectTimeout: Duration = .seconds(10),
        readTimeout: Duration = .seconds(60),
        requestTimeout: Duration = .seconds(120),
        transferTimeout: Duration = .seconds(1800),
        userAgent: String = "infinipipeline/\(InfiniPipelineVersion.string)",
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.queueBaseURL = queueBaseURL
        self.restBaseURL = restBaseURL
        self.modelID = modelID
        self.uploadMode = uploadMode
        self.retry = retry
        self.download = download
        self.poll = poll
        self.maxRequestsInFlight = max(1, maxRequestsInFlight)
        self.maxDownloadBytes = maxDownloadBytes
        self.maxResponseBytes = maxResponseBytes
        self.connectTimeout = connectTimeout
        self.readTimeout = readTimeout
        self.requestTimeout = requestTimeout
        self.transferTimeout = transferTimeout
        self.userAgent = userAgent
        self.sleep = sleep
    }

    /// The defaults, with the queue and REST bases taken from `INFINISTITCH_QUEUE_URL` and
    /// `INFINISTITCH_REST_URL` when they are set (the CLI's `--queue-url`/`--rest-url` override
    /// these in turn), and the download budget from `INFINISTITCH_DOWNLOAD_BUDGET` (seconds).
    /// - Throws: ``FalError`` (`.invalidURL`/`.insecureURL`) when a URL variable is not an https
    ///   URL or an http URL to loopback, (`.invalidConfiguration`) when the budget is not a
    ///   number of seconds > 0; naming the variable.
    public static func fromEnvironment(_ env: [String: String]) throws -> FalConfiguration {
        var configuration = FalConfiguration()
        if let queue = env[queueURLVariable], !queue.isEmpty {
            configuration.queueBaseURL = try checkedBase(queue, variable: queueURLVariable)
        }
        if let rest = env[restURLVariable], !rest.isEmpty {
            configuration.restBaseURL = try checkedBase(rest, variable: restURLVariable)
        }
        if let budget = env[downloadBudgetVariable], !budget.isEmpty {
            guard let seconds = Double(budget.trimmingCharacters(in: .whitespaces)), seconds.isFinite, seconds > 0,
                seconds <= 7 * 24 * 3600
            else {
                throw FalError(
                    .invalidConfiguration,
                    reason: "\(downloadBudgetVariable)=\"\(budget.prefix(40))\""
                        + " is not a number of seconds greater than 0 (up to a week)")
            }
            configuration.download.budget = .seconds(seconds)
        }
        return configuration
    }

    /// Checks the two bases and the model id (the client does this once at creation).
    /// - Throws: ``FalError`` naming the bad value.
    public func validate() throws {
        _ = try FalConfiguration.checkedBase(queueBaseURL, variable: "queue URL")
        _ = try FalConfiguration.checkedBase(restBaseURL, variable: "REST URL")
        _ = try FalEndpointID(modelID)
    }

    private static func checkedBase(_ raw: String, variable: String) throws -> String {
        let redactor = Redactor(credentials: nil)
        try URLRules.check(raw, role: variable, redactor: redactor)
        guard !raw.contains("?"), !raw.contains("#") else {
            throw FalError(.invalidURL, url: redactor.url(raw), reason: "the \(variable) must not have a query or fragment")
        }
        var base = raw
        while base.hasSuffix("/") { base.removeLast() }
        return base
    }
}

extension Duration {
    /// The duration in seconds, as a Double.
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) / 1e18
    }
}
