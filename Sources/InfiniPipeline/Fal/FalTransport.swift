// One HTTP exchange with fal: the URL rules, the headers, the time limit and the size limit,
// and network failures turned into FalErrors. No retries (RetryEngine decides those).

import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One HTTP call as the client describes it.
struct HTTPCall {
    var method: HTTPMethod
    var url: String
    /// What the URL is, for messages ("status_url").
    var role: String
    /// What the call does, for events and logs ("submit").
    var operation: String
    /// Whether the key is sent.
    var authorized: Bool
    var body: [UInt8]? = nil
    var contentType: String? = nil
    var accept: String? = "application/json"
    var timeout: Duration
    var requestID: String? = nil
    /// More request headers (Range, If-Range, …).
    var headers: [(String, String)] = []

    var methodName: String { method.rawValue }
}

/// A complete response.
struct HTTPReply: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: [UInt8]
    /// Why retrying stopped, when it did ("gave up after 6 attempts").
    var note: String? = nil
    var isSuccess: Bool { (200..<300).contains(status) }
    /// ` (note)`, or nothing.
    var noteSuffix: String { note.map { " (\($0))" } ?? "" }
}

/// A transport failure, with whether the request certainly never left this machine.
struct TransportFailure: Error {
    var error: FalError
    var notSent: Bool
    /// The failure in a few words, for progress lines ("connection reset").
    var brief: String = "the connection failed"
}

/// Sends one call over an `HTTPClient`: checks the URL against ``URLRules`` first, adds the
/// `User-Agent`, `Accept` and (for authorized calls only) `Authorization` headers, bounds the
/// call by its timeout and the response by `maxResponseBytes`, and turns network errors into
/// ``TransportFailure``s that say whether anything was sent.
struct FalTransport: Sendable {
    let http: HTTPClient
    let credentials: any APIKey
    let userAgent: String
    /// The largest JSON response read whole.
    let maxResponseBytes: Int
    let redactor: Redactor
    let logger: Logger

    /// One HTTP exchange up to the response head (the body is left to the caller to stream).
    /// - Throws: ``FalError`` (`.invalidURL`/`.insecureURL`) before anything is sent,
    ///   ``TransportFailure``, `CancellationError`.
    func execute(_ call: HTTPCall) async throws -> HTTPClientResponse {
        try URLRules.check(call.url, role: call.role, redactor: redactor)
        var request = HTTPClientRequest(url: call.url)
        request.method = call.method
        request.headers.add(name: "User-Agent", value: userAgent)
        if let accept = call.accept { request.headers.add(name: "Accept", value: accept) }
        for (name, value) in call.headers { request.headers.add(name: name, value: value) }
        if call.authorized { request.headers.add(name: "Authorization", value: credentials.headerValue) }
        if let body = call.body {
            // AsyncHTTPClient sets Content-Length (0 for a bodiless PUT or POST) itself.
            // A Content-Type among the call's headers (an upload ticket's, sent exactly) wins.
            if !call.headers.contains(where: { $0.0.lowercased() == "content-type" }) {
                request.headers.add(name: "Content-Type", value: call.contentType ?? "application/octet-stream")
            }
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        do {
            // No logger: AsyncHTTPClient's trace logs would include our headers.
            return try await http.execute(request, timeout: .init(call.timeout), logger: nil)
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw FalTransport.transportFailure(error, call: call, redactor: redactor)
        }
    }

    /// One HTTP exchange with its whole body (at most `maxResponseBytes`).
    /// - Throws: as ``execute(_:)``; ``FalError`` (`.unexpectedResponse`) for a body over the limit.
    func exchange(_ call: HTTPCall) async throws -> HTTPReply {
        let response = try await execute(call)
        let body: ByteBuffer
        do {
            body = try await response.body.collect(upTo: maxResponseBytes)
        } catch is NIOTooManyBytesError {
            throw FalError(
                .unexpectedResponse, method: call.methodName, url: redactor.url(call.url),
                reason: "the response is larger than \(maxResponseBytes) bytes")
        } catch {
            throw FalTransport.transportFailure(error, call: call, redactor: redactor)
        }
        let reply = HTTPReply(
            status: Int(response.status.code), headers: response.headers,
            body: Array(body.readableBytesView))
        logger.debug(
            "http",
            metadata: [
                "method": "\(call.methodName)", "url": "\(redactor.url(call.url))",
                "status": "\(reply.status)",
            ])
        return reply
    }

    /// Wraps a network error; FalErrors (our own checks) pass through unchanged.
    static func transportFailure(_ error: any Error, call: HTTPCall, redactor: Redactor) -> any Error {
        if error is FalError || error is CancellationError || error is TransportFailure { return error }
        let notSent = isConnectFailure(error)
        let what = notSent ? "could not connect" : "the connection failed"
        return TransportFailure(
            error: FalError(
                .transport, method: call.methodName, url: redactor.url(call.url),
                reason: "\(what): \(redactor.text(describe(error), limit: 200))", requestID: call.requestID),
            notSent: notSent, brief: brief(error, redactor: redactor))
    }

    /// A network failure in a few words, for progress lines.
    static func brief(_ error: any Error, redactor: Redactor) -> String {
        if isConnectFailure(error) { return "could not connect" }
        if let error = error as? IOError {
            switch error.errnoCode {
            case ECONNRESET: return "connection reset"
            case EPIPE: return "connection broken"
            case ETIMEDOUT: return "connection timed out"
            default: return "connection failed (\(String(cString: strerror(error.errnoCode))))"
            }
        }
        if let error = error as? HTTPClientError {
            switch error {
            case .remoteConnectionClosed: return "the server closed the connection"
            case .readTimeout: return "no data within the read timeout"
            case .deadlineExceeded: return "the attempt took longer than its time limit"
            default: break
            }
        }
        if let error = error as? HTTPParserError {
            return error == .invalidEOFState ? "the body ended early" : "the response could not be read (\(error))"
        }
        return redactor.text(describe(error), limit: 120)
    }

    /// True for failures that happen before any byte of the request is sent.
    static func isConnectFailure(_ error: any Error) -> Bool {
        if error is NIOConnectionError { return true }
        if let error = error as? HTTPClientError {
            return [
                .connectTimeout, .getConnectionFromPoolTimeout, .tlsHandshakeTimeout, .socksHandshakeTimeout,
                .httpProxyHandshakeTimeout,
            ].contains(error)
        }
        if let error = error as? ChannelError, case .connectTimeout(_) = error { return true }
        if let error = error as? IOError {
            return [ECONNREFUSED, ENETUNREACH, EHOSTUNREACH, EADDRNOTAVAIL].contains(error.errnoCode)
        }
        return false
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .remoteConnectionClosed: return "the server closed the connection without a response"
            case .readTimeout: return "no data from the server within the read timeout"
            case .deadlineExceeded: return "the request took longer than its deadline"
            case .connectTimeout: return "connecting timed out"
            default: return String(describing: error)
            }
        }
        if let error = error as? NIOConnectionError {
            if let dns = error.dnsAError ?? error.dnsAAAAError { return "cannot resolve \(error.host): \(dns)" }
            let reasons = error.connectionErrors.map { "\($0.error)" }
            return "connection to \(error.host):\(error.port) refused or unreachable"
                + (reasons.isEmpty ? "" : " (\(reasons.joined(separator: "; ")))")
        }
        return String(describing: error)
    }
}
