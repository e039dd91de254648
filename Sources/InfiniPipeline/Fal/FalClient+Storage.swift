// Getting input files to the model: fal storage uploads and inline `data:` URIs.

import Foundation

extension FalClient {
    /// Makes a file available to the model: uploads it to fal storage, or in inline mode
    /// encodes it as a `data:` URI.
    /// - Parameters:
    ///   - data: the bytes.
    ///   - contentType: the MIME type, e.g. `audio/wav`.
    ///   - fileName: the name fal stores it under.
    ///   - onEvent: receives retries and the upload (``FalEvent/uploaded(fileName:bytes:url:)``).
    /// - Returns: the URL to put in the request.
    /// - Throws: ``FalError``: `.inlineTooLarge`, the HTTP and transport kinds.
    public func upload(
        _ data: [UInt8], contentType: String, fileName: String,
        onEvent: @escaping @Sendable (FalEvent) -> Void = { _ in }
    ) async throws -> String {
        switch configuration.uploadMode {
        case .inline:
            let uri = try FalClient.dataURI(data, contentType: contentType, fileName: fileName)
            onEvent(.uploaded(fileName: fileName, bytes: data.count, url: String(uri.prefix(40)) + "…"))
            return uri
        case .storage:
            let url = try await uploadToStorage(data, contentType: contentType, fileName: fileName, onEvent: onEvent)
            onEvent(.uploaded(fileName: fileName, bytes: data.count, url: url))
            return url
        }
    }

    /// Uploads a file from disk (see ``upload(_:contentType:fileName:onEvent:)``); the MIME type
    /// is guessed from the extension when not given.
    /// - Parameters:
    ///   - path: the file; fal stores it under its name.
    ///   - contentType: the MIME type; nil guesses it with ``mimeType(forFileName:)``.
    ///   - onEvent: receives retries and the upload.
    /// - Returns: the URL to put in the request.
    /// - Throws: ``FalError``: `.fileError` when the file cannot be read, and as
    ///   ``upload(_:contentType:fileName:onEvent:)``.
    public func upload(
        file path: String, contentType: String? = nil,
        onEvent: @escaping @Sendable (FalEvent) -> Void = { _ in }
    ) async throws -> String {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw FalError(
                .fileError, url: path,
                reason: "cannot read the file to upload: \(Redactor(credentials: nil).text(error.localizedDescription))")
        }
        let name = (path as NSString).lastPathComponent
        return try await upload(
            [UInt8](data), contentType: contentType ?? FalClient.mimeType(forFileName: name),
            fileName: name, onEvent: onEvent)
    }

    /// `data:<mime>;base64,…` for `data`.
    /// - Parameters:
    ///   - data: the bytes.
    ///   - contentType: the MIME type.
    ///   - fileName: names the file in an error.
    /// - Throws: ``FalError`` (`.inlineTooLarge`) when the URI would exceed fal's 10 MiB limit.
    public static func dataURI(_ data: [UInt8], contentType: String, fileName: String = "data") throws -> String {
        let prefix = "data:\(contentType);base64,"
        let length = prefix.utf8.count + (data.count + 2) / 3 * 4
        guard length <= maxInlineURILength else {
            throw FalError(
                .inlineTooLarge, url: fileName,
                reason: String(
                    format: "%.1f MiB as a data: URI is over fal's 10 MiB inline limit; upload it to fal storage instead",
                    Double(length) / 1_048_576))
        }
        return prefix + Data(data).base64EncodedString()
    }

    /// A MIME type for a file name's extension (`application/octet-stream` when unknown).
    /// - Parameter name: a file name, e.g. `speech.wav`.
    public static func mimeType(forFileName name: String) -> String {
        switch (name as NSString).pathExtension.lowercased() {
        case "png": return "image/png"
        case "jpg", "jpeg": return "image/jpeg"
        case "webp": return "image/webp"
        case "wav": return "audio/wav"
        case "mp3": return "audio/mpeg"
        case "m4a", "aac": return "audio/mp4"
        case "flac": return "audio/flac"
        case "ogg", "oga": return "audio/ogg"
        case "mp4": return "video/mp4"
        default: return "application/octet-stream"
        }
    }

    private struct InitiateBody: Encodable {
        let content_type: String
        let file_name: String
    }

    private struct InitiateReply: Decodable {
        let upload_url: String
        let file_url: String
    }

    /// `storage/upload/initiate`, then the PUT of the bytes (without the key) to the URL it names.
    private func uploadToStorage(
        _ data: [UInt8], contentType: String, fileName: String,
        onEvent: @escaping @Sendable (FalEvent) -> Void
    ) async throws -> String {
        let initiateURL = restBase + "/storage/upload/initiate?storage_type=fal-cdn-v3"
        let body = try FalClient.json.encode(InitiateBody(content_type: contentType, file_name: fileName))
        let call = HTTPCall(
            method: .POST, url: initiateURL, role: "storage initiate URL", operation: "upload initiate",
            authorized: true, body: [UInt8](body), contentType: "application/json",
            timeout: configuration.requestTimeout)
        let reply = try await send(call, kind: .idempotent, onEvent: onEvent)
        guard reply.isSuccess else {
            throw FalError.httpStatus(call, reply, what: "storage upload initiate failed", redactor: redactor)
        }
        guard let target = try? JSONDecoder().decode(InitiateReply.self, from: Data(reply.body)) else {
            throw FalError.unexpected(
                call, reply, "the upload initiate response has no upload_url and file_url",
                redactor: redactor)
        }
        // The storage host is not fal's API: it must not see the key, and gets the bytes only
        // over https (or loopback http).
        try URLRules.check(target.file_url, role: "file_url", redactor: redactor)
        let put = HTTPCall(
            method: .PUT, url: target.upload_url, role: "upload_url", operation: "upload",
            authorized: false, body: data, contentType: contentType, accept: nil,
            timeout: configuration.transferTimeout)
        let putReply = try await send(put, kind: .idempotent, onEvent: onEvent)
        guard putReply.isSuccess else {
            throw FalError.httpStatus(put, putReply, what: "uploading \(fileName) failed", redactor: redactor)
        }
        logger.debug(
            "uploaded",
            metadata: [
                "file": "\(fileName)", "bytes": "\(data.count)",
                "url": "\(redactor.url(target.file_url))",
            ])
        return target.file_url
    }
}
