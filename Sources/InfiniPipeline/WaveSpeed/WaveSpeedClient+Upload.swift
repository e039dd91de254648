// Getting input files to the model: an upload ticket from the API, then a PUT of the bytes to
// the storage URL it names, with exactly the ticket's headers and without the key.

import Foundation
import NIOHTTP1

extension WaveSpeedClient {
    /// Uploads a file from disk; its name is the file's name, its MIME type guessed from the
    /// extension when not given.
    /// - Parameters:
    ///   - path: the file.
    ///   - contentType: the MIME type; nil guesses it (and sends none when the extension is
    ///     unknown, as WaveSpeed's client does).
    ///   - onEvent: receives retries and ``WaveSpeedEvent/uploaded(fileName:bytes:url:)``.
    /// - Returns: the file's `download_url`, to put in a ``WaveSpeedInput``.
    /// - Throws: ``WaveSpeedError``: `.fileError` when the file cannot be read, and as
    ///   ``upload(data:fileName:contentType:onEvent:)``.
    public func upload(
        file path: String, contentType: String? = nil,
        onEvent: @escaping @Sendable (WaveSpeedEvent) -> Void = { _ in }
    ) async throws -> String {
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue
        if let size, size > configuration.maxUploadBytes {
            throw WaveSpeedClient.tooLarge(path, bytes: size, limit: configuration.maxUploadBytes)
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw WaveSpeedError(
                .fileError, url: path, reason: "cannot read the file to upload: \(redactor.text(error.localizedDescription))")
        }
        return try await upload(
            data: [UInt8](data), fileName: (path as NSString).lastPathComponent, contentType: contentType,
            onEvent: onEvent)
    }

    /// Uploads bytes: asks the API for a ticket (`POST /api/v3/media/uploads` with `filename`,
    /// `size` and `content_type`), then PUTs the bytes to the ticket's URL with exactly the
    /// ticket's headers (never the key). Both steps are retried on transport failures, 429 and
    /// 5xx (nothing is billed).
    /// - Parameters:
    ///   - data: the bytes (at most ``WaveSpeedConfiguration/maxUploadBytes``).
    ///   - fileName: the name WaveSpeed stores it under.
    ///   - contentType: the MIME type; nil guesses it from `fileName`.
    ///   - onEvent: receives retries and ``WaveSpeedEvent/uploaded(fileName:bytes:url:)``.
    /// - Returns: the file's `download_url`.
    /// - Throws: ``WaveSpeedError``: `.uploadTooLarge` before anything is sent, `.insecureURL`
    ///   when the ticket names plain http to another host, `.apiError`, `.httpStatus`,
    ///   `.unexpectedResponse` for a ticket that is not a PUT with a URL, `.transport`.
    public func upload(
        data: [UInt8], fileName: String, contentType: String? = nil,
        onEvent: @escaping @Sendable (WaveSpeedEvent) -> Void = { _ in }
    ) async throws -> String {
        guard data.count <= configuration.maxUploadBytes else {
            throw WaveSpeedClient.tooLarge(fileName, bytes: data.count, limit: configuration.maxUploadBytes)
        }
        let type = contentType ?? WaveSpeedClient.guessedType(fileName)
        let request = try WaveSpeedClient.json.encode(TicketRequest(filename: fileName, size: data.count, content_type: type))
        let ticketCall = apiCall(.POST, "/api/v3/media/uploads", operation: "upload ticket", body: [UInt8](request))
        let ticketReply = try await send(ticketCall, kind: .idempotent, onEvent: onEvent)
        let ticket = try self.data(ticketCall, ticketReply, what: "the upload ticket was refused")
        guard let instruction = ticket["upload"], instruction["method"]?.string?.uppercased() == "PUT",
            let putURL = instruction["url"]?.string, !putURL.isEmpty
        else {
            throw unexpected(ticketCall, ticketReply, "the upload ticket is not a PUT with a url")
        }
        guard let downloadURL = ticket["download_url"]?.string, !downloadURL.isEmpty else {
            throw unexpected(ticketCall, ticketReply, "the upload ticket has no download_url")
        }
        var headers: [(String, String)] = []
        if case .object(let given)? = instruction["headers"] {
            for (name, value) in given.sorted(by: { $0.key < $1.key }) {
                // The HTTP client sets these itself from the body it sends.
                if ["host", "content-length", "transfer-encoding"].contains(name.lowercased()) { continue }
                headers.append((name, value.string ?? value.text))
            }
        }
        do {
            try URLRules.check(downloadURL, role: "download_url", redactor: redactor)
        } catch let error as FalError {
            throw WaveSpeedError(error)
        }
        // The storage host is not WaveSpeed's API: it gets the bytes and the ticket's headers,
        // never the key, and only over https (or loopback http; FalTransport checks).
        let put = HTTPCall(
            method: .PUT, url: putURL, role: "upload url", operation: "upload", authorized: false, body: data,
            contentType: nil, accept: nil, timeout: configuration.transferTimeout, headers: headers)
        let putReply = try await send(put, kind: .idempotent, onEvent: onEvent)
        guard putReply.isSuccess else {
            let detail = FalErrorBody(bytes: putReply.body, headerErrorType: nil, redactor: redactor).detail
            throw WaveSpeedError(
                .httpStatus, method: "PUT", url: redactor.url(putURL),
                reason: "uploading \(redactor.text(fileName, limit: 80)) failed: HTTP \(putReply.status)"
                    + (detail.map { ": \($0)" } ?? "") + putReply.noteSuffix,
                statusCode: putReply.status, detail: detail)
        }
        logger.debug(
            "uploaded", metadata: ["file": "\(fileName)", "bytes": "\(data.count)", "url": "\(redactor.url(downloadURL))"])
        onEvent(.uploaded(fileName: fileName, bytes: data.count, url: downloadURL))
        return downloadURL
    }

    /// The MIME type for a file name, nil when the extension says nothing.
    static func guessedType(_ fileName: String) -> String? {
        let type = FalClient.mimeType(forFileName: fileName)
        return type == "application/octet-stream" ? nil : type
    }

    static func tooLarge(_ name: String, bytes: Int, limit: Int) -> WaveSpeedError {
        WaveSpeedError(
            .uploadTooLarge, url: name,
            reason: String(
                format: "%.1f MB is over WaveSpeed's %.0f MB upload limit", Double(bytes) / 1_048_576,
                Double(limit) / 1_048_576))
    }

    /// The ticket request; `content_type` is left out when unknown.
    private struct TicketRequest: Encodable {
        let filename: String
        let size: Int
        let content_type: String?
    }
}
