// The values of fal's queue protocol: endpoint ids, request handles, statuses, events.

/// A fal endpoint id, `owner/alias[/path]` (or `workflows/owner/alias[/path]`, `comfy/…`).
///
/// Submits go to the whole id; status, result and cancel use only the app part
/// (`[namespace/]owner/alias`), as fal's clients and docs require.
public struct FalEndpointID: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The id as given (a legacy `123-foo` becomes `123/foo`).
    public let rawValue: String
    /// `[namespace/]owner/alias`: the part the request URLs use.
    public let appID: String

    private static let namespaces: Set<String> = ["workflows", "comfy"]

    /// Parses an endpoint id.
    /// - Throws: ``FalError`` (`.invalidURL`) when it has no `/` (and is not a legacy
    ///   `123-foo` id) or contains characters that do not belong in a URL path.
    public init(_ id: String) throws {
        var value = id
        while value.hasPrefix("/") { value.removeFirst() }
        while value.hasSuffix("/") { value.removeLast() }
        let allowed = value.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_./".contains($0)) }
        guard !value.isEmpty, allowed, !value.contains("//"),
            !value.split(separator: "/").contains(where: { $0 == "." || $0 == ".." })
        else {
            throw FalError(.invalidURL, reason: "\"\(id)\" is not a fal endpoint id like \"fal-ai/infinitalk\"")
        }
        if !value.contains("/") {
            // Legacy numeric app ids: "123-foo" means "123/foo".
            if let dash = value.firstIndex(of: "-"), !value[..<dash].isEmpty, value[..<dash].allSatisfy(\.isNumber),
                value.index(after: dash) < value.endIndex
            {
                value = value[..<dash] + "/" + value[value.index(after: dash)...]
            } else {
                throw FalError(.invalidURL, reason: "\"\(id)\" is not a fal endpoint id like \"fal-ai/infinitalk\" (owner/alias)")
            }
        }
        let parts = value.split(separator: "/").map(String.init)
        let appParts: Int = FalEndpointID.namespaces.contains(parts[0]) ? 3 : 2
        guard parts.count >= appParts else {
            throw FalError(.invalidURL, reason: "\"\(id)\" is not a fal endpoint id: \(parts[0])/ needs an owner and an alias")
        }
        rawValue = value
        appID = parts.prefix(appParts).joined(separator: "/")
    }

    /// The id as given.
    public var description: String { rawValue }

    /// Decodes an id from a JSON string.
    /// - Throws: ``FalError`` (`.invalidURL`) as ``init(_:)``; `DecodingError` when it is not a string.
    public init(from decoder: any Swift.Decoder) throws {
        try self.init(decoder.singleValueContainer().decode(String.self))
    }

    /// Encodes the id as a JSON string.
    public func encode(to encoder: any Swift.Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// What is needed to follow a submitted request: its id and the URLs of its status, result and
/// cancel. Codable, so a run can record it and a later run resume the request.
public struct FalRequestHandle: Sendable, Hashable, Codable {
    /// fal's request id.
    public var requestID: String
    /// The endpoint the request was submitted to.
    public var endpointID: FalEndpointID
    /// `GET` for the status (we add `logs=1`).
    public var statusURL: String
    /// `GET` for the result.
    public var responseURL: String
    /// `PUT` to cancel.
    public var cancelURL: String

    enum CodingKeys: String, CodingKey {
        case requestID = "request_id", endpointID = "endpoint_id"
        case statusURL = "status_url", responseURL = "response_url", cancelURL = "cancel_url"
    }

    /// A handle with explicit URLs (as a submit response returns them).
    public init(requestID: String, endpointID: FalEndpointID, statusURL: String, responseURL: String, cancelURL: String) {
        self.requestID = requestID
        self.endpointID = endpointID
        self.statusURL = statusURL
        self.responseURL = responseURL
        self.cancelURL = cancelURL
    }

    /// Rebuilds the URLs of a request recorded in an earlier run from its id, following fal's
    /// rule: `{queue}/{[namespace/]owner/alias}/requests/{id}[/status|/cancel]`.
    /// - Throws: ``FalError`` (`.invalidURL`) when the id is not a plain path segment.
    public init(
        requestID: String, endpointID: FalEndpointID,
        queueBaseURL: String = FalConfiguration.defaultQueueBaseURL
    ) throws {
        guard FalRequestHandle.isValidRequestID(requestID) else {
            throw FalError(.invalidURL, reason: "\"\(requestID)\" is not a fal request id (letters, digits, - and _ only)")
        }
        var base = queueBaseURL
        while base.hasSuffix("/") { base.removeLast() }
        let request = "\(base)/\(endpointID.appID)/requests/\(requestID)"
        self.init(
            requestID: requestID, endpointID: endpointID, statusURL: request + "/status",
            responseURL: request, cancelURL: request + "/cancel")
    }

    /// fal request ids are UUIDs; we accept any non-empty run of letters, digits, `-` and `_`.
    static func isValidRequestID(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 200 && id.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }
}

/// One log line of a running request.
public struct FalLogEntry: Sendable, Hashable, Codable {
    /// The text.
    public var message: String
    /// `INFO`, `STDOUT`, `STDERR`, `WARN`, `ERROR`, `DEBUG`, when given.
    public var level: String?
    /// `USER`, when given.
    public var source: String?
    /// ISO 8601, when given.
    public var timestamp: String?

    /// Creates a log entry.
    public init(message: String, level: String? = nil, source: String? = nil, timestamp: String? = nil) {
        self.message = message
        self.level = level
        self.source = source
        self.timestamp = timestamp
    }
}

/// Where a request stands, as the status URL reports it.
@nonexhaustive
public enum FalStatus: Sendable, Equatable {
    /// Waiting; `position` requests are ahead (0 = next), when the server says.
    case inQueue(position: Int?)
    /// Running, with the log lines so far.
    case inProgress(logs: [FalLogEntry])
    /// Finished: successfully when `error` is nil.
    case completed(FalCompletion)
}

/// The end of a request: its logs, timing and, for a failed request, the error.
public struct FalCompletion: Sendable, Equatable {
    /// The log lines.
    public var logs: [FalLogEntry]
    /// `metrics.inference_time` in seconds, when given.
    public var inferenceTime: Double?
    /// The failure, when the request failed.
    public var error: String?
    /// fal's classification of the failure, e.g. `runner_disconnected`.
    public var errorType: String?

    /// Creates a completion.
    public init(logs: [FalLogEntry] = [], inferenceTime: Double? = nil, error: String? = nil, errorType: String? = nil) {
        self.logs = logs
        self.inferenceTime = inferenceTime
        self.error = error
        self.errorType = errorType
    }
}

/// What a cancel request reported.
public enum FalCancelOutcome: String, Sendable, Equatable {
    /// Cancelled (a queued request was removed).
    case ok = "OK"
    /// A running request was asked to stop.
    case cancellationRequested = "CANCELLATION_REQUESTED"
    /// Too late: the request had already finished.
    case alreadyCompleted = "ALREADY_COMPLETED"
    /// fal does not know the request.
    case notFound = "NOT_FOUND"
}

/// Something that happened while the client worked on a request: passed to the `onEvent`
/// callback of the client's methods as it happens.
///
/// A callback rather than a stream so that a caller with many concurrent requests (the
/// pipeline) can forward every request's events into its own single `AsyncStream`, tagging
/// each with its segment, without one stream per request to drain.
@nonexhaustive
public enum FalEvent: Sendable, Equatable {
    /// An input file was uploaded to fal storage (or encoded inline); `url` is what the model gets
    /// (a `data:` URI is shown shortened).
    case uploaded(fileName: String, bytes: Int, url: String)
    /// The queue accepted the request.
    case submitted(FalRequestHandle)
    /// The request waits in the queue with `position` requests ahead (reported when it changes).
    case queued(requestID: String, position: Int?)
    /// The request started running.
    case started(requestID: String)
    /// A new log line of the running request.
    case log(requestID: String, FalLogEntry)
    /// The request finished (successfully or not; a failure is thrown after this event).
    case completed(requestID: String, inferenceTime: Double?)
    /// An HTTP call failed and will be retried after `delay` (the result download reports
    /// ``downloadRetrying(_:)`` instead).
    case retrying(operation: String, attempt: Int, delay: Duration, reason: String)
    /// The result download was interrupted and will resume after a wait.
    case downloadRetrying(DownloadRetry)
    /// The result video was saved.
    case downloaded(path: String, bytes: Int64)
}

/// An interrupted download that will be tried again: what happened, how far it got, and when
/// it goes on.
public struct DownloadRetry: Sendable, Equatable {
    /// The file's URL, redacted for display (no user info, no query values).
    public var url: String
    /// The number of the attempt about to be made (2 for the first retry).
    public var attempt: Int
    /// Bytes received and kept so far: the next attempt asks for the rest with `Range`.
    public var bytesReceived: Int64
    /// The file's size, when the server has said it.
    public var totalBytes: Int64?
    /// Time since the first attempt started.
    public var elapsed: Duration
    /// The wait before the next attempt.
    public var delay: Duration
    /// Why the attempt failed, in a few words ("connection reset", "HTTP 503").
    public var reason: String

    /// Creates a record.
    public init(
        url: String, attempt: Int, bytesReceived: Int64, totalBytes: Int64?, elapsed: Duration,
        delay: Duration, reason: String
    ) {
        self.url = url
        self.attempt = attempt
        self.bytesReceived = bytesReceived
        self.totalBytes = totalBytes
        self.elapsed = elapsed
        self.delay = delay
        self.reason = reason
    }
}
