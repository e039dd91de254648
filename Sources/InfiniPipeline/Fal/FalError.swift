// The one error type of the fal client.

/// What went wrong talking to fal, to which URL, and what the server said.
///
/// An ``InfiniPipelineError``, compared through ``kind`` (an ``ErrorKind``), so new kinds can be
/// added without breaking callers. ``description`` is one
/// line naming the method and URL (redacted: no user info, no query values, never the API key)
/// and the reason, for example
/// `"GET https://queue.fal.run/fal-ai/infinitalk/requests/…: generation failed: Runner disconnected (error_type runner_disconnected)"`.
public struct FalError: InfiniPipelineError {
    /// The kind of a ``FalError``: compare with `==` or match with `~=`
    /// (`case FalError.Kind.generationFailed = error`).
    public typealias Kind = ErrorKind<FalError>

    /// One entry of a 422 body: where (`loc`, e.g. `["body", "num_frames"]`) and what (`msg`).
    public struct FieldError: Sendable, Equatable, CustomStringConvertible {
        /// The path to the offending field, e.g. `["body", "num_frames"]`.
        public var location: [String]
        /// The server's message.
        public var message: String
        /// The error type, e.g. `value_error`, when given.
        public var type: String?

        /// Creates a field error.
        public init(location: [String], message: String, type: String? = nil) {
            self.location = location
            self.message = message
            self.type = type
        }

        /// `body.num_frames: must be 4n+1`.
        public var description: String {
            location.isEmpty ? message : "\(location.joined(separator: ".")): \(message)"
        }
    }

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
    /// fal's request id: from the submit response, the `x-fal-request-id` header, or the handle.
    public let requestID: String?
    /// fal's `error_type` (from the body or the `X-Fal-Error-Type` header), when given.
    public let errorType: String?
    /// fal's `detail` or `error` text (redacted), when given.
    public let detail: String?
    /// The fields a 422 response named, in order.
    public let fieldErrors: [FieldError]
    /// True when a submit may have been accepted by the queue despite the error (and so billed).
    public let mayHaveBeenAccepted: Bool

    init(
        _ kind: Kind, method: String? = nil, url: String? = nil, reason: String, statusCode: Int? = nil,
        requestID: String? = nil, errorType: String? = nil, detail: String? = nil,
        fieldErrors: [FieldError] = [], mayHaveBeenAccepted: Bool = false
    ) {
        self.kind = kind
        self.method = method
        self.url = url
        self.reason = reason
        self.statusCode = statusCode
        self.requestID = requestID
        self.errorType = errorType
        self.detail = detail
        self.fieldErrors = fieldErrors
        self.mayHaveBeenAccepted = mayHaveBeenAccepted
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

    /// ``ErrorFault/credentials`` for a missing or unusable key, URL or setting;
    /// ``ErrorFault/input`` for an input the model refuses; ``ErrorFault/system`` for a local
    /// file; ``ErrorFault/generation`` for everything the queue or the network did.
    public var fault: ErrorFault {
        switch kind {
        case .missingCredentials, .invalidURL, .insecureURL, .invalidConfiguration: return .credentials
        case .invalidRequest, .validationFailed, .inlineTooLarge: return .input
        case .fileError: return .system
        default: return .generation
        }
    }

    /// The same error with another reason (used to add context such as the attempt count).
    func with(reason: String) -> FalError {
        FalError(
            kind, method: method, url: url, reason: reason, statusCode: statusCode, requestID: requestID,
            errorType: errorType, detail: detail, fieldErrors: fieldErrors,
            mayHaveBeenAccepted: mayHaveBeenAccepted)
    }
}

extension ErrorKind where Owner == FalError {
    /// No usable API key (empty, malformed, or only half of an id/secret pair).
    public static var missingCredentials: Self { Self("missingCredentials") }
    /// A URL that is not an absolute http(s) URL, or an endpoint id or request id that is malformed.
    public static var invalidURL: Self { Self("invalidURL") }
    /// Plain http to a host that is not loopback: refused before anything was sent.
    public static var insecureURL: Self { Self("insecureURL") }
    /// The model input breaks a rule the server would reject with 422 (checked before sending).
    public static var invalidRequest: Self { Self("invalidRequest") }
    /// A file too large for an inline `data:` URI (fal's 10 MiB limit).
    public static var inlineTooLarge: Self { Self("inlineTooLarge") }
    /// The server rejected the input with 422; see ``FalError/fieldErrors``.
    public static var validationFailed: Self { Self("validationFailed") }
    /// An unexpected HTTP status, after any retries; see ``FalError/statusCode``.
    public static var httpStatus: Self { Self("httpStatus") }
    /// The network failed (connection refused, reset, timed out) after any retries.
    public static var transport: Self { Self("transport") }
    /// A submit failed after it may have reached the queue: it may have been accepted (and
    /// billed), so it was not resubmitted. ``FalError/requestID`` is set when the server sent one.
    public static var submitOutcomeUnknown: Self { Self("submitOutcomeUnknown") }
    /// The request ran and failed: it ended `COMPLETED` with an `error`, or its result fetch
    /// was not 2xx. See ``FalError/detail`` and ``FalError/errorType``; the caller decides
    /// whether to submit again.
    public static var generationFailed: Self { Self("generationFailed") }
    /// A response we could not understand (not JSON, missing fields, unknown status).
    public static var unexpectedResponse: Self { Self("unexpectedResponse") }
    /// Waiting for a request took longer than the configured limit.
    public static var timedOut: Self { Self("timedOut") }
    /// The download is larger than the configured cap.
    public static var downloadTooLarge: Self { Self("downloadTooLarge") }
    /// The downloaded file is not an MP4 with a video stream.
    public static var invalidVideo: Self { Self("invalidVideo") }
    /// A local file could not be read or written.
    public static var fileError: Self { Self("fileError") }
    /// A result's download kept failing until the download budget
    /// (``DownloadRetryPolicy/budget``) ran out. The file may still be there: nothing about
    /// the request is lost, and the download can be tried again later.
    public static var downloadIncomplete: Self { Self("downloadIncomplete") }
    /// A configuration value (such as an environment variable) is not usable.
    public static var invalidConfiguration: Self { Self("invalidConfiguration") }
}
