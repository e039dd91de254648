// The one error type of the fal client.

/// What went wrong talking to fal, to which URL, and what the server said.
///
/// Extensible like AsyncHTTPClient's `HTTPClientError`: a struct over a private code, compared
/// through ``kind``, so new kinds can be added without breaking callers. ``description`` is one
/// line naming the method and URL (redacted: no user info, no query values, never the API key)
/// and the reason, for example
/// `"GET https://queue.fal.run/fal-ai/infinitalk/requests/…: generation failed: Runner disconnected (error_type runner_disconnected)"`.
public struct FalError: Error, Sendable, CustomStringConvertible {
    fileprivate enum Code: String, Sendable {
        case missingCredentials, invalidURL, insecureURL, invalidRequest, inlineTooLarge
        case validationFailed, httpStatus, transport, submitOutcomeUnknown, generationFailed
        case unexpectedResponse, timedOut, downloadTooLarge, invalidVideo, fileError
        case downloadIncomplete, invalidConfiguration
    }

    /// The kind of a ``FalError``: compare with `==` or match with `~=`.
    /// New kinds may be added; switch with a `default`.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        fileprivate let code: Code
        fileprivate init(_ code: Code) { self.code = code }
        /// The kind's name, e.g. `generationFailed`.
        public var description: String { code.rawValue }

        /// Matches an error against a kind: `case FalError.Kind.generationFailed = error`.
        public static func ~= (kind: Kind, error: any Error) -> Bool {
            (error as? FalError)?.kind == kind
        }

        /// No usable API key (empty, malformed, or only half of an id/secret pair).
        public static let missingCredentials = Kind(.missingCredentials)
        /// A URL that is not an absolute http(s) URL, or an endpoint id or request id that is malformed.
        public static let invalidURL = Kind(.invalidURL)
        /// Plain http to a host that is not loopback: refused before anything was sent.
        public static let insecureURL = Kind(.insecureURL)
        /// The model input breaks a rule the server would reject with 422 (checked before sending).
        public static let invalidRequest = Kind(.invalidRequest)
        /// A file too large for an inline `data:` URI (fal's 10 MiB limit).
        public static let inlineTooLarge = Kind(.inlineTooLarge)
        /// The server rejected the input with 422; see ``FalError/fieldErrors``.
        public static let validationFailed = Kind(.validationFailed)
        /// An unexpected HTTP status, after any retries; see ``FalError/statusCode``.
        public static let httpStatus = Kind(.httpStatus)
        /// The network failed (connection refused, reset, timed out) after any retries.
        public static let transport = Kind(.transport)
        /// A submit failed after it may have reached the queue: it may have been accepted (and
        /// billed), so it was not resubmitted. ``FalError/requestID`` is set when the server sent one.
        public static let submitOutcomeUnknown = Kind(.submitOutcomeUnknown)
        /// The request ran and failed: it ended `COMPLETED` with an `error`, or its result fetch
        /// was not 2xx. See ``FalError/detail`` and ``FalError/errorType``; the caller decides
        /// whether to submit again.
        public static let generationFailed = Kind(.generationFailed)
        /// A response we could not understand (not JSON, missing fields, unknown status).
        public static let unexpectedResponse = Kind(.unexpectedResponse)
        /// Waiting for a request took longer than the configured limit.
        public static let timedOut = Kind(.timedOut)
        /// The download is larger than the configured cap.
        public static let downloadTooLarge = Kind(.downloadTooLarge)
        /// The downloaded file is not an MP4 with a video stream.
        public static let invalidVideo = Kind(.invalidVideo)
        /// A local file could not be read or written.
        public static let fileError = Kind(.fileError)
        /// A result's download kept failing until the download budget
        /// (``DownloadRetryPolicy/budget``) ran out. The file may still be there: nothing about
        /// the request is lost, and the download can be tried again later.
        public static let downloadIncomplete = Kind(.downloadIncomplete)
        /// A configuration value (such as an environment variable) is not usable.
        public static let invalidConfiguration = Kind(.invalidConfiguration)
    }

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

    private let code: Code
    /// The kind of failure.
    public var kind: Kind { Kind(code) }
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
        self.code = kind.code
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

    /// The same error with another reason (used to add context such as the attempt count).
    func with(reason: String) -> FalError {
        FalError(
            kind, method: method, url: url, reason: reason, statusCode: statusCode, requestID: requestID,
            errorType: errorType, detail: detail, fieldErrors: fieldErrors,
            mayHaveBeenAccepted: mayHaveBeenAccepted)
    }
}
