// A result video's download without the client around it: attempts with `Range` that resume
// where the last one stopped, retried for a time budget, the file checked to be an MP4.

import AsyncHTTPClient
import Foundation
import Logging
import NIOCore

/// The machinery of a result video's download, without the client around it: what
/// ``FalClient/download(_:to:onEvent:)`` does, for any provider's client (the WaveSpeed client
/// uses it too). Requests carry no key.
struct ResumableDownload: Sendable {
    let transport: FalTransport
    /// Decides which answers are retried (as an idempotent call's).
    let engine: RetryEngine
    let policy: DownloadRetryPolicy
    /// The largest video accepted.
    let maxBytes: Int64
    /// The longest one attempt may take.
    let transferTimeout: Duration
    let sleep: @Sendable (Duration) async throws -> Void
    let redactor: Redactor
    let logger: Logger

    init(
        transport: FalTransport, engine: RetryEngine, policy: DownloadRetryPolicy, maxBytes: Int64,
        transferTimeout: Duration, sleep: @escaping @Sendable (Duration) async throws -> Void, redactor: Redactor,
        logger: Logger
    ) {
        self.transport = transport
        self.engine = engine
        self.policy = policy
        self.maxBytes = maxBytes
        self.transferTimeout = transferTimeout
        self.sleep = sleep
        self.redactor = redactor
        self.logger = logger
    }

    /// The download of a fal client, with its configuration.
    init(client: FalClient) {
        self.init(
            transport: client.transport, engine: client.engine, policy: client.configuration.download,
            maxBytes: client.configuration.maxDownloadBytes, transferTimeout: client.configuration.transferTimeout,
            sleep: client.configuration.sleep, redactor: client.redactor, logger: client.logger)
    }

    /// Downloads `url` to `destination` (see ``FalClient/download(_:to:onEvent:)`` for the rules).
    /// - Parameters:
    ///   - url: the video's URL (sent without the key).
    ///   - expectedSize: the size the provider announced, checked when given.
    ///   - destination: the path to save it at; its folder must exist.
    ///   - onRetry: receives each retry before its wait.
    /// - Throws: as ``FalClient/download(_:to:onEvent:)``.
    func run(
        _ url: String, expectedSize: Int64?, to destination: String,
        onRetry: @escaping @Sendable (DownloadRetry) -> Void
    ) async throws -> FalClient.DownloadedVideo {
        let shown = redactor.url(url)
        try URLRules.check(url, role: "video url", redactor: redactor)
        let target = URL(fileURLWithPath: destination)
        let directory = target.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw FalError(.fileError, url: destination, reason: "the folder for the download does not exist")
        }
        let downloaded: (bytes: Int64, video: StreamInfo)
        do {
            // Streamed into a hidden file beside the destination, renamed into place only when
            // the video checks out; removed on any failure.
            downloaded = try await AtomicFile.produce(destination) { temp in
                let sink = try FalClient.DownloadFile(path: temp)
                let bytes: Int64
                do {
                    bytes = try await fetch(url, into: sink, onRetry: onRetry)
                    try sink.finish()
                } catch {
                    sink.close()
                    throw error
                }
                if let expected = expectedSize, expected > 0, bytes < expected {
                    throw FalError(
                        .invalidVideo, method: "GET", url: shown,
                        reason: "got \(bytes) bytes but the result says file_size \(expected): the download is incomplete")
                }
                return (bytes, try await ResumableDownload.inspectVideo(temp, shown: shown))
            }
        } catch let error as MediaError {
            // Only the final rename throws a MediaError: the inspection maps its own.
            throw FalError(.fileError, url: destination, reason: "cannot move the download into place: \(error.reason)")
        }
        let (bytes, video) = downloaded
        logger.debug("downloaded", metadata: ["path": "\(destination)", "bytes": "\(bytes)"])
        return FalClient.DownloadedVideo(path: destination, bytes: bytes, video: video)
    }

    /// The video stream of a downloaded file, read off the cooperative pool.
    /// - Throws: ``FalError`` (`.invalidVideo`) when the file is not an MP4 with a video stream.
    private static func inspectVideo(_ path: String, shown: String) async throws -> StreamInfo {
        try await runBlocking {
            do {
                let demuxer = try Demuxer(path: path)
                guard demuxer.formatName.split(separator: ",").contains("mp4") else {
                    throw FalError(
                        .invalidVideo, method: "GET", url: shown,
                        reason: "the download is not an MP4 (FFmpeg reads it as \(demuxer.formatName))")
                }
                return try demuxer.bestStream(.video)
            } catch let error as MediaError {
                throw FalError(
                    .invalidVideo, method: "GET", url: shown,
                    reason: "the download is not an MP4 with a video stream: \(error.reason)")
            }
        }
    }

    /// How far a download got, carried from one attempt to the next.
    struct DownloadState {
        /// Bytes on disk, all of them the file's first bytes.
        var received: Int64 = 0
        /// The file's size, once a server said it.
        var total: Int64?
        /// The file's strong `ETag`, sent as `If-Range` so that a changed file is sent whole.
        var etag: String?
        /// The server said `Accept-Ranges: none`: do not ask for ranges.
        var rangesRefused = false
    }

    /// A download attempt that failed in a way worth retrying.
    struct DownloadInterruption: Error {
        /// A few words: "connection reset", "HTTP 503".
        var reason: String
        var statusCode: Int? = nil
        var retryAfter: Duration? = nil
    }

    /// Downloads `url` into `file`, attempt after attempt, until it is complete or the budget
    /// is spent. Returns the size.
    private func fetch(
        _ url: String, into file: FalClient.DownloadFile,
        onRetry: @escaping @Sendable (DownloadRetry) -> Void
    ) async throws -> Int64 {
        let clock = ContinuousClock()
        let start = clock.now
        var state = DownloadState()
        var attempt = 1
        var step = 1  // retries since the last attempt that received bytes
        while true {
            try Task.checkCancellation()
            let before = state.received
            let interruption: DownloadInterruption
            do {
                if try await downloadAttempt(url, into: file, state: &state) { return state.received }
                // The server sent only part of the rest (a shorter 206): ask for more at once.
                interruption = DownloadInterruption(reason: "the server sent part of the file")
                if clock.now - start <= policy.budget {
                    attempt += 1
                    step = 1
                    continue
                }
            } catch let failure as DownloadInterruption {
                interruption = failure
            } catch {
                if Task.isCancelled { throw CancellationError() }
                throw error
            }
            if state.received > before { step = 1 }
            let delay = policy.delay(retry: step, retryAfter: interruption.retryAfter)
            step += 1
            let elapsed = clock.now - start
            if elapsed + delay > policy.budget {
                let got = "\(state.received)\(state.total.map { " of \($0)" } ?? "") bytes received"
                let reason =
                    "gave up downloading after \(attempt) attempt\(attempt == 1 ? "" : "s") in "
                    + String(format: "%.1f s", elapsed.seconds)
                    + " (the download budget is \(FalClient.seconds(policy.budget))): last \(interruption.reason); \(got)"
                logger.warning("download gave up", metadata: ["url": "\(redactor.url(url))", "why": "\(reason)"])
                throw FalError(
                    .downloadIncomplete, method: "GET", url: redactor.url(url), reason: reason,
                    statusCode: interruption.statusCode)
            }
            let retry = DownloadRetry(
                url: redactor.url(url), attempt: attempt + 1, bytesReceived: state.received,
                totalBytes: state.total, elapsed: elapsed, delay: delay, reason: interruption.reason)
            logger.notice(
                "download interrupted",
                metadata: [
                    "url": "\(retry.url)", "attempt": "\(retry.attempt)", "bytes": "\(retry.bytesReceived)",
                    "delay_s": "\(String(format: "%.3f", delay.seconds))", "reason": "\(retry.reason)",
                ])
            onRetry(retry)
            try await sleep(delay)
            attempt += 1
        }
    }

    /// One attempt: GET (following redirects), asking for the bytes from `state.received` on,
    /// and streaming the body into `file`.
    /// - Returns: true when the file is complete, false when the server sent only part of the rest.
    /// - Throws: ``DownloadInterruption`` for what is worth retrying; ``FalError`` and
    ///   `CancellationError` for what is not.
    private func downloadAttempt(_ url: String, into file: FalClient.DownloadFile, state: inout DownloadState) async throws
        -> Bool
    {
        let cap = maxBytes
        var current = url
        for _ in 0...5 {
            let resumeFrom = state.received
            let ranged = resumeFrom > 0 && !state.rangesRefused
            // Ranges count bytes of the encoded body: ask for it unencoded.
            var headers = [("Accept-Encoding", "identity")]
            if ranged {
                headers.append(("Range", "bytes=\(resumeFrom)-"))
                if let etag = state.etag { headers.append(("If-Range", etag)) }
            }
            let call = HTTPCall(
                method: .GET, url: current, role: "video url", operation: "download",
                authorized: false, accept: "*/*", timeout: transferTimeout,
                headers: headers)
            let response: HTTPClientResponse
            do {
                response = try await transport.execute(call)
            } catch let failure as TransportFailure {
                throw DownloadInterruption(reason: failure.brief)
            }
            let status = Int(response.status.code)
            if [301, 302, 303, 307, 308].contains(status), let location = response.headers.first(name: "location") {
                guard let next = URL(string: location, relativeTo: URL(string: current))?.absoluteString else {
                    throw FalError(
                        .invalidURL, method: "GET", url: redactor.url(current),
                        reason: "the redirect Location is not a URL")
                }
                current = next
                continue
            }
            func startOver() throws {
                try file.truncate(to: 0)
                state.received = 0
                state.etag = nil
            }
            /// Where this response's body must end.
            let end: Int64?
            switch status {
            case 206:
                let header = response.headers.first(name: "content-range")
                guard ranged, let range = FalClient.ContentRange(header), range.first == resumeFrom,
                    range.total == nil || state.total == nil || range.total == state.total
                else {
                    // Not the part asked for: keep nothing of it and start over.
                    try startOver()
                    throw DownloadInterruption(
                        reason: "the server sent a part that was not asked for"
                            + " (Content-Range \(header.map { redactor.text($0, limit: 60) } ?? "missing")); starting over")
                }
                if let total = range.total {
                    guard total <= cap else {
                        throw FalError(
                            .downloadTooLarge, method: "GET", url: redactor.url(current),
                            reason: "the video is \(total) bytes, over the \(cap)-byte download limit")
                    }
                    state.total = total
                }
                end = range.last + 1
            case 200..<300:
                if resumeFrom > 0 {
                    // The whole file again: the server ignores ranges, or the file changed.
                    logger.info(
                        "download starts over",
                        metadata: [
                            "url": "\(redactor.url(current))", "status": "\(status)",
                            "discarded": "\(resumeFrom)",
                        ])
                    try startOver()
                }
                let length = response.headers.first(name: "content-length").flatMap { Int64($0) }
                if let length, length > cap {
                    throw FalError(
                        .downloadTooLarge, method: "GET", url: redactor.url(current),
                        reason: "the video is \(length) bytes, over the \(cap)-byte download limit")
                }
                state.total = length
                state.rangesRefused =
                    response.headers.first(name: "accept-ranges")?.lowercased()
                    .trimmingCharacters(in: .whitespaces) == "none"
                state.etag = response.headers.first(name: "etag").flatMap { tag in
                    // Only a strong validator may go in If-Range.
                    tag.hasPrefix("\"") && tag.hasSuffix("\"") && tag.count >= 2 && tag.count <= 200 ? tag : nil
                }
                end = length
            case 416 where ranged:
                // We asked from a byte past the end: either we already have it all, or the file changed.
                if let total = FalClient.ContentRange.unsatisfiedTotal(response.headers.first(name: "content-range")),
                    total == resumeFrom, state.total == nil || state.total == total
                {
                    state.total = total
                    return true
                }
                try startOver()
                throw DownloadInterruption(
                    reason: "HTTP 416 for the bytes from \(resumeFrom) on; starting over",
                    statusCode: 416)
            default:
                let body = try? await response.body.collect(upTo: 64 * 1024)
                let reply = HTTPReply(
                    status: status, headers: response.headers,
                    body: body.map { Array($0.readableBytesView) } ?? [])
                if let verdict = engine.verdict(reply, kind: .idempotent) {
                    throw DownloadInterruption(reason: verdict.reason, statusCode: status, retryAfter: verdict.retryAfter)
                }
                throw FalError.httpStatus(call, reply, what: "download failed (not retried)", redactor: redactor)
            }
            do {
                for try await chunk in response.body {
                    let size = Int64(chunk.readableBytes)
                    if state.received + size > cap {
                        throw FalError(
                            .downloadTooLarge, method: "GET", url: redactor.url(current),
                            reason: "the video exceeds the \(cap)-byte download limit")
                    }
                    if let end, state.received + size > end {
                        try startOver()
                        throw DownloadInterruption(reason: "the server sent more bytes than it announced; starting over")
                    }
                    try file.write(chunk, at: state.received)
                    state.received += size
                }
            } catch let error as FalError {
                throw error
            } catch let error as DownloadInterruption {
                throw error
            } catch {
                if Task.isCancelled { throw CancellationError() }
                throw DownloadInterruption(reason: FalTransport.brief(error, redactor: redactor))
            }
            if let end, state.received < end {
                throw DownloadInterruption(reason: "the body ended early, at byte \(state.received) of \(end)")
            }
            if let total = state.total, state.received < total { return false }
            return true
        }
        throw FalError(.httpStatus, method: "GET", url: redactor.url(url), reason: "more than 5 redirects")
    }
}
