// FalErrors made from fal's answers: what the server said, to which call, redacted.

extension FalError {
    /// An answer that is not what the call expected: the status, fal's `detail` and
    /// `error_type`, and why retrying stopped when it did.
    static func httpStatus(_ call: HTTPCall, _ reply: HTTPReply, what: String, redactor: Redactor) -> FalError {
        let body = FalErrorBody(
            bytes: reply.body, headerErrorType: reply.headers.first(name: "x-fal-error-type"),
            redactor: redactor)
        let requestID = reply.headers.first(name: "x-fal-request-id") ?? call.requestID
        return FalError(
            .httpStatus, method: call.methodName, url: redactor.url(call.url),
            reason: "\(what): HTTP \(reply.status)" + (body.detail.map { ": \($0)" } ?? "")
                + (body.errorType.map { " (error_type \($0))" } ?? "") + reply.noteSuffix,
            statusCode: reply.status, requestID: requestID, errorType: body.errorType, detail: body.detail,
            fieldErrors: body.fieldErrors)
    }

    /// A 422: the server rejected the input, field by field.
    static func validationFailed(_ call: HTTPCall, _ reply: HTTPReply, redactor: Redactor) -> FalError {
        let body = FalErrorBody(
            bytes: reply.body, headerErrorType: reply.headers.first(name: "x-fal-error-type"),
            redactor: redactor)
        return FalError(
            .validationFailed, method: call.methodName, url: redactor.url(call.url),
            reason: "the server rejected the input (422): " + (body.detail ?? "no details"),
            statusCode: 422, requestID: reply.headers.first(name: "x-fal-request-id") ?? call.requestID,
            errorType: body.errorType, detail: body.detail, fieldErrors: body.fieldErrors)
    }

    /// A result fetch that was not 2xx: the generation failed (a 422 is a validation failure).
    static func resultFailed(_ call: HTTPCall, _ reply: HTTPReply, requestID: String, redactor: Redactor) -> FalError {
        if reply.status == 422 { return validationFailed(call, reply, redactor: redactor) }
        let body = FalErrorBody(
            bytes: reply.body, headerErrorType: reply.headers.first(name: "x-fal-error-type"),
            redactor: redactor)
        return FalError(
            .generationFailed, method: call.methodName, url: redactor.url(call.url),
            reason: "generation failed: HTTP \(reply.status)" + (body.detail.map { ": \($0)" } ?? "")
                + " (error_type \(body.errorType ?? "unknown"), request \(requestID))" + reply.noteSuffix,
            statusCode: reply.status, requestID: requestID, errorType: body.errorType,
            detail: body.detail, fieldErrors: body.fieldErrors)
    }

    /// A 2xx whose body we cannot use, with an excerpt of it.
    static func unexpected(_ call: HTTPCall, _ reply: HTTPReply, _ what: String, redactor: Redactor) -> FalError {
        let excerpt = redactor.text(String(decoding: reply.body.prefix(200), as: UTF8.self), limit: 120)
        return FalError(
            .unexpectedResponse, method: call.methodName, url: redactor.url(call.url),
            reason: "\(what) (HTTP \(reply.status): \(excerpt.isEmpty ? "empty body" : excerpt))",
            statusCode: reply.status, requestID: reply.headers.first(name: "x-fal-request-id") ?? call.requestID)
    }

    /// A submit answered with a 5xx that may have come from behind the queue's ingress: it may
    /// have been accepted (and billed).
    static func submitOutcomeUnknown(_ call: HTTPCall, _ reply: HTTPReply, redactor: Redactor) -> FalError {
        let headerID = reply.headers.first(name: "x-fal-request-id")
        let body = FalErrorBody(
            bytes: reply.body, headerErrorType: reply.headers.first(name: "x-fal-error-type"),
            redactor: redactor)
        return FalError(
            .submitOutcomeUnknown, method: call.methodName, url: redactor.url(call.url),
            reason: "HTTP \(reply.status)\(headerID.map { " (x-fal-request-id \($0))" } ?? "")"
                + "\(body.detail.map { ": \($0)" } ?? ""); the request may have been accepted"
                + " (and billed), so it was not resubmitted",
            statusCode: reply.status, requestID: headerID, errorType: body.errorType,
            detail: body.detail, mayHaveBeenAccepted: true)
    }

    /// A submit whose connection failed after the request was sent: it may have been accepted.
    static func submitOutcomeUnknown(after failure: TransportFailure) -> FalError {
        FalError(
            .submitOutcomeUnknown, method: failure.error.method, url: failure.error.url,
            reason: "\(failure.error.reason) after the request was sent; it may have been"
                + " accepted (and billed), so it was not resubmitted",
            mayHaveBeenAccepted: true)
    }
}
