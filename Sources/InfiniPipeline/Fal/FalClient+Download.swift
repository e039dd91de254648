// The result video's download: resumable with `Range`, retried for a time budget, checked
// to be an MP4 before it is moved into place.

import AsyncHTTPClient
import Foundation
import Logging
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension FalClient {
    /// A downloaded result video.
    public struct DownloadedVideo: Sendable, Equatable {
        /// Where it was saved.
        public var path: String
        /// Its size.
        public var bytes: Int64
        /// Its video stream, as the container declares it (the media toolkit's own type, so
        /// not part of the public API; the properties below say what it holds).
        var video: StreamInfo

        /// The video codec, as FFmpeg names it (`h264`).
        public var codecName: String { video.codecName }
        /// The picture width in pixels.
        public var width: Int { video.width }
        /// The picture height in pixels.
        public var height: Int { video.height }
        /// The frame count the container declares (0 when it does not).
        public var declaredFrameCount: Int { video.declaredFrameCount }
        /// The video stream's duration in seconds, when the container declares it.
        public var duration: Double? { video.duration }
    }

    /// Downloads a result video to `destination`, streaming it to a temporary file beside it and
    /// renaming at the end (the temporary file is removed on any failure). The request carries
    /// no key. Redirects are followed (up to 5), each checked like the first URL.
    ///
    /// The result is paid for, so the download does not give up after a few attempts: transport
    /// failures, bodies that end early and 408/409/429/5xx answers are retried with capped
    /// exponential backoff for ``FalConfiguration/download``'s time budget, each retry reported as
    /// ``FalEvent/downloadRetrying(_:)``. A retry asks only for the missing bytes (`Range:
    /// bytes=N-`, with `If-Range` when the server gave a strong `ETag`) and appends a `206` whose
    /// `Content-Range` starts at N; a `200` (the server ignores ranges, or the file changed)
    /// starts over. The size is checked against `Content-Length` or the `Content-Range` total.
    /// Other answers (401, 403, 404, 410, …) are not retried: fal's clients retry no other 4xx,
    /// and a missing or forbidden file stays so.
    /// - Parameters:
    ///   - file: the result's video (its `fileSize`, when given, is checked).
    ///   - destination: the path to save it at; its folder must exist.
    ///   - onEvent: receives ``FalEvent/downloadRetrying(_:)`` and ``FalEvent/downloaded(path:bytes:)``.
    /// - Returns: where the video was saved, its size and its video stream.
    /// - Throws: ``FalError``: `.insecureURL`/`.invalidURL` before anything is sent,
    ///   `.downloadTooLarge` (by `Content-Length`, `Content-Range`, or while streaming),
    ///   `.downloadIncomplete` when the budget ran out (naming the URL, the attempts and the
    ///   bytes received), `.httpStatus` for an answer that is not retried, `.invalidVideo` when the
    ///   file is not an MP4 with a video stream, `.fileError`; `CancellationError`.
    @discardableResult
    public func download(
        _ file: FalFile, to destination: String,
        onEvent: @escaping @Sendable (FalEvent) -> Void = { _ in }
    ) async throws -> DownloadedVideo {
        let video = try await ResumableDownload(client: self).run(
            file.url, expectedSize: file.fileSize, to: destination,
            onRetry: { onEvent(.downloadRetrying($0)) })
        onEvent(.downloaded(path: destination, bytes: video.bytes))
        return video
    }

    /// `Content-Range: bytes first-last/total` (total may be `*`).
    struct ContentRange: Equatable {
        var first: Int64
        var last: Int64
        var total: Int64?

        init(first: Int64, last: Int64, total: Int64?) {
            self.first = first
            self.last = last
            self.total = total
        }

        /// Parses a satisfied range; nil when absent or malformed (or `bytes */total`).
        init?(_ header: String?) {
            guard let value = ContentRange.spec(header) else { return nil }
            let parts = value.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { return nil }
            let bounds = parts[0].split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
            guard bounds.count == 2, let first = Int64(bounds[0]), let last = Int64(bounds[1]), first >= 0, last >= first else {
                return nil
            }
            if parts[1] == "*" {
                total = nil
            } else {
                guard let total = Int64(parts[1]), total > last else { return nil }
                self.total = total
            }
            self.first = first
            self.last = last
        }

        /// The total of an unsatisfied range (`bytes */total`), as a 416 carries it.
        static func unsatisfiedTotal(_ header: String?) -> Int64? {
            guard let value = spec(header), value.hasPrefix("*/") else { return nil }
            return Int64(value.dropFirst(2)).flatMap { $0 >= 0 ? $0 : nil }
        }

        private static func spec(_ header: String?) -> String? {
            guard let header = header?.trimmingCharacters(in: .whitespaces), header.lowercased().hasPrefix("bytes ") else {
                return nil
            }
            return header.dropFirst("bytes ".count).trimmingCharacters(in: .whitespaces)
        }
    }

    /// "10 s", "1.5 s", "10 min".
    static func seconds(_ duration: Duration) -> String {
        let s = duration.seconds
        if s >= 120, s.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(s / 60)) min" }
        return s == s.rounded() ? "\(Int(s)) s" : String(format: "%.1f s", s)
    }

    /// The temporary file a download streams into, written at explicit offsets so that an
    /// attempt can append to what earlier attempts received, or start over.
    final class DownloadFile {
        let path: String
        private var fd: Int32

        init(path: String) throws {
            self.path = path
            fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw FalError(
                    .fileError, url: path, reason: "cannot create the download file: \(String(cString: strerror(errno)))")
            }
        }

        deinit { close() }

        /// Writes all of `buffer` at `offset`.
        func write(_ buffer: ByteBuffer, at offset: Int64) throws {
            try buffer.withUnsafeReadableBytes { raw in
                var done = 0
                while done < raw.count {
                    let n = pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(offset) + off_t(done))
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw FalError(
                            .fileError, url: path, reason: "cannot write the download: \(String(cString: strerror(errno)))")
                    }
                    done += n
                }
            }
        }

        /// Cuts the file to `length` bytes.
        func truncate(to length: Int64) throws {
            guard ftruncate(fd, off_t(length)) == 0 else {
                throw FalError(.fileError, url: path, reason: "cannot truncate the download: \(String(cString: strerror(errno)))")
            }
        }

        /// Flushes the file to disk and closes it.
        func finish() throws {
            guard fsync(fd) == 0 else {
                throw FalError(.fileError, url: path, reason: "cannot flush the download: \(String(cString: strerror(errno)))")
            }
            close()
        }

        /// Closes the file (once).
        func close() {
            if fd >= 0 {
                closeDescriptor(fd)
                fd = -1
            }
        }
    }
}

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

/// libc's `close`, out of reach of methods that are themselves called `close`.
private func closeDescriptor(_ fd: Int32) {
    _ = close(fd)
}
