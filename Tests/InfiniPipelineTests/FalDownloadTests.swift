import AsyncHTTPClient
import FakeFal
import Foundation
import Logging
import NIOHTTP1
import Testing

@testable import InfiniPipeline

// MARK: - Downloads

func fileBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// Generates one clip on the fake and returns its file (with `file_size`) and its bytes.
func finishedClip(_ h: Harness, numFrames: Int = 161) async throws -> (file: FalFile, bytes: [UInt8]) {
    let generation = try await h.client.generate(h.plainRequest(numFrames: numFrames))
    let bytes = try #require(h.server.clip(forRequestID: generation.handle.requestID))
    return (generation.response.video, bytes)
}

func downloadRetries(_ events: [FalEvent]) -> [DownloadRetry] {
    events.compactMap { if case .downloadRetrying(let retry) = $0 { retry } else { nil } }
}

@Suite("fal client: downloads that fail and resume", .timeLimit(.minutes(3)), .ownThreads)
struct FalDownloadTests {
    @Test func truncatedBodyResumesWithRange() async throws {
        try await withFal { h in
            let (file, clip) = try await finishedClip(h)
            #expect(clip.count > 6000)
            h.server.inject([.truncatedBody(afterBytes: 3000), .truncatedBody(afterBytes: 2000)], on: .video)
            let destination = h.dir.path("clip.mp4")
            let downloaded = try await h.client.download(file, to: destination, onEvent: h.events.callback)
            #expect(try fileBytes(destination) == clip)
            #expect(downloaded.bytes == Int64(clip.count))

            // Three requests: the whole file, then the rest from byte 3000, then from byte 5000,
            // each with the file's ETag as If-Range.
            let requests = h.server.requests(to: .video)
            #expect(requests.map { $0.header("range") } == [nil, "bytes=3000-", "bytes=5000-"])
            let etag = "\"\(file.url.split(separator: "/").last!.dropLast(4))-\(clip.count)\""
            #expect(requests.map { $0.header("if-range") } == [nil, etag, etag])
            #expect(requests.allSatisfy { $0.header("authorization") == nil })

            let retries = downloadRetries(h.events.events)
            #expect(retries.map(\.attempt) == [2, 3])
            #expect(retries.map(\.bytesReceived) == [3000, 5000])
            #expect(retries.allSatisfy { $0.totalBytes == Int64(clip.count) && $0.url.hasSuffix(".mp4") })
            #expect(retries.allSatisfy { !$0.reason.isEmpty && !$0.reason.contains("\n") }, "\(retries)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: h.dir.url.path) == ["clip.mp4"])
        }
    }

    @Test func connectionResetMidBodyResumes() async throws {
        try await withFal { h in
            let (file, clip) = try await finishedClip(h)
            h.server.inject([.resetMidBody(afterBytes: 4000)], on: .video)
            let destination = h.dir.path("clip.mp4")
            try await h.client.download(file, to: destination, onEvent: h.events.callback)
            #expect(try fileBytes(destination) == clip)
            let requests = h.server.requests(to: .video)
            #expect(requests.count == 2)
            let retry = try #require(downloadRetries(h.events.events).first)
            // A reset may lose bytes in flight; whatever arrived is kept and asked for no more.
            #expect(retry.bytesReceived > 0 && retry.bytesReceived <= 4000, "\(retry)")
            #expect(requests[1].header("range") == "bytes=\(retry.bytesReceived)-")
            #expect(retry.reason == "connection reset" || retry.reason.contains("closed"), "\(retry.reason)")
        }
    }

    @Test func serverWithoutRangeSupportStartsOver() async throws {
        try await withFal(FakeFalServer.Options(expectedKey: testKey, videoRanges: false)) { h in
            let (file, clip) = try await finishedClip(h)
            h.server.inject([.truncatedBody(afterBytes: 3000), .resetMidBody(afterBytes: 1500)], on: .video)
            let destination = h.dir.path("clip.mp4")
            let downloaded = try await h.client.download(file, to: destination, onEvent: h.events.callback)
            #expect(try fileBytes(destination) == clip)
            #expect(downloaded.bytes == Int64(clip.count))
            // The client asked for the rest; the server sent all of it with 200 each time.
            let requests = h.server.requests(to: .video)
            #expect(requests.count == 3)
            #expect(requests[1].header("range") == "bytes=3000-")
            #expect(requests[1].header("if-range") == nil)  // no ETag from this server
            #expect(downloadRetries(h.events.events).count == 2)
        }
    }

    @Test func mismatchedPartStartsOver() async throws {
        try await withFal { h in
            let (file, clip) = try await finishedClip(h)
            // After a cut at 3000, a 206 for bytes 0-9: not what was asked; the client keeps
            // nothing of it and fetches the whole file again.
            h.server.inject(
                [
                    .truncatedBody(afterBytes: 3000),
                    .status(206, body: "0123456789", headers: ["Content-Range": "bytes 0-9/\(clip.count)"]),
                ],
                on: .video)
            let destination = h.dir.path("clip.mp4")
            try await h.client.download(file, to: destination, onEvent: h.events.callback)
            #expect(try fileBytes(destination) == clip)
            #expect(h.server.requests(to: .video).map { $0.header("range") } == [nil, "bytes=3000-", nil])
            #expect(downloadRetries(h.events.events).map(\.bytesReceived) == [3000, 0])
        }
    }

    @Test func unavailableAndDroppedAreRetried() async throws {
        try await withFal { h in
            let (file, clip) = try await finishedClip(h)
            h.server.inject([.ingressError(503), .dropConnection, .rateLimited(retryAfter: "0"), .status(500)], on: .video)
            try await h.client.download(file, to: h.dir.path("c.mp4"), onEvent: h.events.callback)
            #expect(try fileBytes(h.dir.path("c.mp4")) == clip)
            let retries = downloadRetries(h.events.events)
            #expect(retries.map(\.attempt) == [2, 3, 4, 5])
            #expect(retries[0].reason == "HTTP 503")
            #expect(retries.allSatisfy { $0.bytesReceived == 0 })
            // The generic retry event is not sent for downloads.
            #expect(!h.events.events.contains { if case .retrying("download", _, _, _) = $0 { true } else { false } })
        }
    }

    @Test(arguments: [404, 410, 401, 403, 400])
    func answersThatWillNotChangeAreNotRetried(status: Int) async throws {
        try await withFal { h in
            let (file, _) = try await finishedClip(h)
            h.server.inject([.status(status, body: #"{"detail":"nope"}"#)], on: .video)
            let destination = h.dir.path("c.mp4")
            let sleeps = h.sleeper.sleeps.count
            let error = await falError { try await h.client.download(file, to: destination) }
            #expect(error?.kind == .httpStatus)
            #expect(error?.statusCode == status)
            #expect(error?.description.contains("/fake-videos/") == true, "\(String(describing: error))")
            #expect(h.server.requests(to: .video).count == 1)
            #expect(h.sleeper.sleeps.count == sleeps)
            #expect(try FileManager.default.contentsOfDirectory(atPath: h.dir.url.path).isEmpty)
        }
    }

    @Test func budgetEndsTheRetriesWithAClearError() async throws {
        try await withFal(configure: {
            $0.download = DownloadRetryPolicy(
                budget: .seconds(4), initialDelay: .milliseconds(10), multiplier: 2,
                maxDelay: .milliseconds(50), jitter: 0)
        }) { h in
            let (file, _) = try await finishedClip(h)
            // The file stays unavailable for longer than the budget.
            h.server.inject(Array(repeating: .ingressError(503), count: 1000), on: .video)
            let destination = h.dir.path("c.mp4")
            let started = ContinuousClock.now
            let error = await falError { try await h.client.download(file, to: destination, onEvent: h.events.callback) }
            #expect(ContinuousClock.now - started < .seconds(30))
            #expect(error?.kind == .downloadIncomplete)
            #expect(error?.statusCode == 503)
            let text = error?.description ?? ""
            #expect(text.hasPrefix("GET \(h.base)/fake-videos/"), "\(text)")
            #expect(text.contains("gave up downloading after"), "\(text)")
            #expect(text.contains("the download budget is 4 s"), "\(text)")
            #expect(text.contains("HTTP 503"), "\(text)")
            let attempts = h.server.requests(to: .video).count
            // Retried for the budget (at least once, even when a loaded machine makes each
            // attempt slow), not for ever.
            #expect(attempts >= 2 && attempts < 1000, "\(attempts): \(text)")
            #expect(downloadRetries(h.events.events).count == attempts - 1)
            #expect(try FileManager.default.contentsOfDirectory(atPath: h.dir.url.path).isEmpty)
        }
    }

    @Test func progressResetsTheBackoff() async throws {
        try await withFal(configure: {
            $0.download = DownloadRetryPolicy(
                budget: .seconds(20), initialDelay: .milliseconds(1), multiplier: 2,
                maxDelay: .seconds(1), jitter: 0)
        }) { h in
            let (file, clip) = try await finishedClip(h)
            h.server.inject(
                [
                    .ingressError(503), .ingressError(503), .ingressError(503),
                    .truncatedBody(afterBytes: 1000), .ingressError(503),
                ], on: .video)
            try await h.client.download(file, to: h.dir.path("c.mp4"), onEvent: h.events.callback)
            #expect(try fileBytes(h.dir.path("c.mp4")) == clip)
            // 1, 2, 4 ms while nothing arrives; after bytes arrived, 1 ms again, then 2.
            #expect(
                downloadRetries(h.events.events).map(\.delay) == [
                    .milliseconds(1), .milliseconds(2), .milliseconds(4), .milliseconds(1), .milliseconds(2),
                ])
        }
    }

    @Test(arguments: [UInt64(1), 2, 3, 4])
    func seededFaultsAtAHighRate(seed: UInt64) async throws {
        let faults = FakeFalServer.VideoFaults(rate: 0.6, seed: seed)
        try await withFal(FakeFalServer.Options(expectedKey: testKey, videoFaults: faults)) { h in
            let (file, clip) = try await finishedClip(h)
            try await h.client.download(file, to: h.dir.path("c.mp4"), onEvent: h.events.callback)
            #expect(try fileBytes(h.dir.path("c.mp4")) == clip)
            // Each played fault cost exactly one retry, and every retry after bytes had arrived
            // asked for the rest only.
            let played = h.server.videoFaultLog
            let retries = downloadRetries(h.events.events)
            #expect(retries.count == played.count, "\(played)")
            let requests = h.server.requests(to: .video)
            #expect(requests.count == played.count + 1)
            for (retry, request) in zip(retries, requests.dropFirst()) {
                #expect(request.header("range") == (retry.bytesReceived > 0 ? "bytes=\(retry.bytesReceived)-" : nil))
            }
        }
    }
}
