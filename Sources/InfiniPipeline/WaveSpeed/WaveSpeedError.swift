// The one error type of the WaveSpeed client.

/// What went wrong talking to WaveSpeed, to which URL, and what the server said.
///
/// An ``InfiniPipelineError``, compared through ``kind`` (an ``ErrorKind``). ``description`` is
/// one line naming the method and URL (redacted: no user info, no query values, never the API
/// key) and the reason, for example
/// `"GET https://api.wavespeed.ai/api/v3/predictions/3f2a…/result: task 3f2a… failed: upstream returned HTTP 503 (transient: it may be submitted again)"`.
public struct WaveSpeedError: InfiniPipelineError {
    /// The kind of a ``WaveSpeedError``: compare with `==` or match with `~=`
    /// (`case WaveSpeedError.Kind.taskFailed = error`).
    public typealias Kind = ErrorKind<WaveSpeedError>

    /// The kind of failure.
    public let kind: Kind
    /// The HTTP method of the failed call, when one was made or about to be.
    public let method: String?
    /// The URL concerned, redacted for display.
    public let url: String?
    /// The reason, in words (already redacted).
    public let reason: String
    /// The HTTP status of the last response, when there was one.
    public let statusCode: Int?
    /// The envelope's `code` when the answer carried one that is not 200.
    public let apiCode: Int?
    /// The envelope's `message`, or a failed task's `error` (redacted), when given.
    public let detail: String?
    /// The prediction (task) id concerned, when known.
    public let taskID: String?
    /// The task's final status (`failed`, `cancelled`, `timeout`, `deleted`) for
    /// ``Kind/taskFailed``.
    public let taskStatus: String?
    /// True when a submit may have been accepted (and billed) despite the error: it was not sent
    /// again, and must not be sent again without the user's consent.
    public let mayHaveBeenAccepted: Bool
    /// True for a task that ended `failed` with a transient upstream error (its error text names
    /// an upstream HTTP 5xx or 429, the official client's rule): submitting it again may work.
    /// Every other failure is final.
    public let isTransient: Bool

    init(
        _ kind: Kind, method: String? = nil, url: String? = nil, reason: String, statusCode: Int? = nil,
        apiCode: Int? = nil, detail: String? = nil, taskID: String? = nil, taskStatus: String? = nil,
        mayHaveBeenAccepted: Bool = false, isTransient: Bool = false
    ) {
        self.kind = kind
        self.method = method
        self.url = url
        self.reason = reason
        self.statusCode = statusCode
        self.apiCode = apiCode
        self.detail = detail
        self.taskID = taskID
        self.taskStatus = taskStatus
        self.mayHaveBeenAccepted = mayHaveBeenAccepted
        self.isTransient = isTransient
    }

    /// The same failure of the HTTP layer the client shares with the fal client (transport,
    /// URL rules, retries, download), as a WaveSpeed error of the kind of the same name.
    init(_ error: FalError, taskID: String? = nil) {
        self.init(
            Kind(error.kind.name), method: error.method, url: error.url, reason: error.reason,
            statusCode: error.statusCode, detail: error.detail, taskID: taskID,
            mayHaveBeenAccepted: error.mayHaveBeenAccepted)
    }

    /// `"<METHOD> <url>: <reason>"`, one line; the parts that are unknown are left out.
    public var description: String {
        switch (method, url) {
        case (let method?, let url?): return "\(method) \(url): \(reason)"
        case (nil, let url?): return "\(url): \(reason)"
        default: return reason
        }
    }

    public var kindName: String { kind.name }

    /// The file (path or URL) the error is about.
    public var file: String? { url }

    /// The option that lets the run start: `credentials` for a missing or refused key.
    public var option: String? {
        fault == .credentials ? "credentials" : nil
    }

    /// ``ErrorFault/credentials`` for a missing, malformed or refused key (401, 403) and an
    /// unusable URL or setting; ``ErrorFault/input`` for an input refused before sending or too
    /// large to upload; ``ErrorFault/system`` for a local file; ``ErrorFault/generation`` for
    /// everything WaveSpeed or the network did.
    public var fault: ErrorFault {
        switch kind {
        case .missingCredentials, .invalidURL, .insecureURL, .invalidConfiguration: return .credentials
        case .httpStatus where statusCode == 401 || statusCode == 403: return .credentials
        case .invalidRequest, .uploadTooLarge: return .input
        case .fileError: return .system
        default: return .generation
        }
    }
}

extension ErrorKind where Owner == WaveSpeedError {
    /// No usable API key (`WAVESPEED_API_KEY` empty or malformed).
    public static var missingCredentials: Self { Self("missingCredentials") }
    /// A URL that is not an absolute http(s) URL, or a malformed model or task id.
    public static var invalidURL: Self { Self("invalidURL") }
    /// Plain http to a host that is not loopback: refused before anything was sent.
    public static var insecureURL: Self { Self("insecureURL") }
    /// A configuration value (such as an environment variable) is not usable.
    public static var invalidConfiguration: Self { Self("invalidConfiguration") }
    /// The input breaks a rule checked before sending (an empty image or audio URL).
    public static var invalidRequest: Self { Self("invalidRequest") }
    /// A file over WaveSpeed's upload limit (200 MB): refused before anything was sent.
    public static var uploadTooLarge: Self { Self("uploadTooLarge") }
    /// An unexpected HTTP status, after any retries; see ``WaveSpeedError/statusCode``.
    public static var httpStatus: Self { Self("httpStatus") }
    /// An answer whose envelope `code` is not 200 (even under HTTP 200); see
    /// ``WaveSpeedError/apiCode`` and ``WaveSpeedError/detail``.
    public static var apiError: Self { Self("apiError") }
    /// The network failed (connection refused, reset, timed out) after any retries.
    public static var transport: Self { Self("transport") }
    /// A submit whose answer never arrived (or could not be read) after its body was sent: the
    /// task may exist and be billed, so it was not sent again. ``WaveSpeedError/mayHaveBeenAccepted``
    /// is true.
    public static var submitOutcomeUnknown: Self { Self("submitOutcomeUnknown") }
    /// The task ended `failed`, `cancelled`, `timeout` or `deleted`; see
    /// ``WaveSpeedError/taskStatus``, ``WaveSpeedError/detail`` and ``WaveSpeedError/isTransient``.
    public static var taskFailed: Self { Self("taskFailed") }
    /// A response we could not understand (not JSON, missing fields, unknown status).
    public static var unexpectedResponse: Self { Self("unexpectedResponse") }
    /// Waiting for a task took longer than the configured limit; the task may still run.
    public static var timedOut: Self { Self("timedOut") }
    /// The download is larger than the configured cap.
    public static var downloadTooLarge: Self { Self("downloadTooLarge") }
    /// The video's download kept failing until the download budget ran out.
    public static var downloadIncomplete: Self { Self("downloadIncomplete") }
    /// The downloaded file is not an MP4 with a video stream.
    public static var invalidVideo: Self { Self("invalidVideo") }
    /// A local file could not be read or written.
    public static var fileError: Self { Self("fileError") }
}
