// A loopback fal server for tests and benchmarks: storage + queue, real clips, faults on demand.

import Foundation
import HTTPTypes
import Hummingbird
import InfiniPipeline
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// A fal look-alike on 127.0.0.1: fal storage (`/storage/upload/initiate` plus the PUT target and
/// the stored files) and the queue (submit, status, result, cancel) of any endpoint, serving
/// real H.264/AAC clips made with ``MP4Writer``.
///
/// Every URL it hands out (upload_url, file_url, status_url, response_url, cancel_url, the video
/// url) points back to itself, so a client configured with ``start()``'s URL as both queue and
/// REST base never leaves the machine. It records every request it receives, and can be told to
/// misbehave: a script of ``Fault``s per ``Route`` for the next requests to that route, and a
/// script of ``GenerationScript``s for the next submits.
///
/// Clips: `num_frames` frames (fewer when scripted) at 25 fps, ``Options/clipWidth`` ×
/// ``Options/clipHeight``, each frame carrying its index as a barcode (see ``FakeClip``), the
/// rest a flat colour that identifies the clip; AAC audio of the received audio when it decodes
/// (unless ``Options/clipAudio`` is off).
public final class FakeFalServer: Sendable {
    /// What the server does when nothing is scripted.
    public struct Options: Sendable {
        /// Clip width in pixels (even).
        public var clipWidth: Int
        /// Clip height in pixels (even).
        public var clipHeight: Int
        /// Status polls that answer `IN_QUEUE` before a request runs.
        public var queuePolls: Int
        /// Status polls that answer `IN_PROGRESS` (with a new log line each) before it completes.
        public var progressPolls: Int
        /// Time from submit until a request may complete (simulated model latency).
        public var processingTime: Duration
        /// When set, API routes (initiate, submit, status, result, cancel) answer 401 unless
        /// they carry `Authorization: Key <expectedKey>`.
        public var expectedKey: String?
        /// Render each clip in the background from its submit, as a real model does while the
        /// request runs, instead of on the first result fetch. Benchmarks set it so that the
        /// fake's own encoding (mostly AAC, about 0.5 s per clip) overlaps ``processingTime``
        /// instead of adding to it.
        public var renderOnSubmit: Bool
        /// Give clips an AAC track of the received audio (as the model does). Benchmarks turn it
        /// off: the stitcher never reads it, and encoding it is most of the fake's CPU per clip,
        /// taken from the same cores as the client being measured.
        public var clipAudio: Bool
        /// Answer `Range` requests on videos with 206 and `Content-Range`, and advertise
        /// `Accept-Ranges: bytes` and an `ETag` (honouring `If-Range`). Off, the server ignores
        /// `Range` and always sends the whole clip with 200, like a server without range support.
        public var videoRanges: Bool
        /// Random faults on video downloads, decided by a seeded generator (nil: none).
        public var videoFaults: VideoFaults?
        /// What `fal-ai/whisper` and `fal-ai/wizper` hear (the fixture speech by default).
        public var transcript: FakeTranscript = .speech

        /// Creates options: 64x64 clips with audio, no queue, one progress poll, no latency, any
        /// key, clips rendered on the first result fetch, videos with range support and no
        /// random faults.
        public init(
            clipWidth: Int = 64, clipHeight: Int = 64, queuePolls: Int = 0, progressPolls: Int = 1,
            processingTime: Duration = .zero, expectedKey: String? = nil, renderOnSubmit: Bool = false,
            clipAudio: Bool = true, videoRanges: Bool = true, videoFaults: VideoFaults? = nil
        ) {
            self.clipWidth = clipWidth
            self.clipHeight = clipHeight
            self.queuePolls = queuePolls
            self.progressPolls = progressPolls
            self.processingTime = processingTime
            self.expectedKey = expectedKey
            self.renderOnSubmit = renderOnSubmit
            self.clipAudio = clipAudio
            self.videoRanges = videoRanges
            self.videoFaults = videoFaults
        }
    }

    /// Faults on video downloads at a rate, as a flaky CDN produces them.
    ///
    /// Deterministic: whether the n-th video request for the clip of the k-th submit fails, how,
    /// and where its body is cut depend only on `seed`, k and n, never on timing or on the order
    /// in which concurrent downloads arrive. Bodies are cut only when they have a
    /// `Content-Length` (not in ``GenerationScript/chunkedVideo``).
    public struct VideoFaults: Sendable {
        /// What a faulty answer does.
        public enum Kind: String, Sendable, CaseIterable {
            /// 503 with a short text body, before any byte of the video.
            case unavailable
            /// The head (with the full `Content-Length`) and part of the body, then a TCP reset.
            case reset
            /// The head (with the full `Content-Length`) and part of the body, then a clean close.
            case truncated
        }

        /// The share of video requests that fail, 0…1.
        public var rate: Double
        /// The generator's seed.
        public var seed: UInt64
        /// The kinds to choose from, with equal chances.
        public var kinds: [Kind]

        /// Faults at `rate` (0…1) of the given kinds (all by default).
        public init(rate: Double, seed: UInt64, kinds: [Kind] = Kind.allCases) {
            self.rate = min(max(rate, 0), 1)
            self.seed = seed
            self.kinds = kinds.isEmpty ? Kind.allCases : kinds
        }
    }

    /// A fault the server played on a video request (see ``videoFaultLog``).
    public struct PlayedVideoFault: Sendable, Equatable {
        /// The request id whose clip was asked for.
        public var requestID: String
        /// Which video request for that clip it was, from 1.
        public var attempt: Int
        /// What the server did.
        public var kind: VideoFaults.Kind
        /// For `reset` and `truncated`: the body bytes sent before the cut.
        public var bytesSent: Int?
    }

    /// The routes the server tells apart.
    public enum Route: String, Sendable, Hashable, CaseIterable {
        /// `POST /storage/upload/initiate`
        case initiate
        /// `PUT /fake-storage/upload/{token}` (the upload_url)
        case upload
        /// `GET /fake-storage/files/{token}/{name}` (the file_url)
        case storedFile
        /// `POST /{owner}/{alias}[/path]`
        case submit
        /// `GET /{owner}/{alias}/requests/{id}/status`
        case status
        /// `GET /{owner}/{alias}/requests/{id}`
        case result
        /// `PUT /{owner}/{alias}/requests/{id}/cancel`
        case cancel
        /// `GET /fake-videos/{id}.mp4`
        case video
        /// Anything else (answered 404).
        case unknown
    }

    /// A 422 entry: `{"loc": loc, "msg": msg, "type": "value_error"}`.
    public struct FieldProblem: Sendable {
        /// Where, e.g. `["body", "num_frames"]`.
        public var loc: [String]
        /// What.
        public var msg: String
        /// Creates an entry.
        public init(loc: [String], msg: String) {
            self.loc = loc
            self.msg = msg
        }
    }

    /// A misbehaviour for one request to a route.
    public enum Fault: Sendable {
        /// Answer with this status, body and headers.
        case status(Int, body: String = "", headers: [String: String] = [:])
        /// 429 with `Retry-After: <retryAfter>` (seconds or an HTTP date).
        case rateLimited(retryAfter: String)
        /// An nginx error page (502/503/504) without `x-fal-request-id`: the request never reached fal.
        case ingressError(Int)
        /// A 5xx from fal itself, with `x-fal-request-id`, `{"detail", "error_type"}` and `X-Fal-Error-Type`.
        case serverError(Int, detail: String, errorType: String)
        /// Read the whole request, then close the connection without a response.
        case dropConnection
        /// 422 with these field problems.
        case validationError([FieldProblem])
        /// An error whose detail quotes the request's Authorization header (tests redaction).
        case echoAuthorization(Int)
        /// Wait, then answer normally.
        case delay(Duration)
        /// On ``Route/video`` only: answer normally (head with the full `Content-Length`), but
        /// send only the first `afterBytes` bytes of the body, then reset the connection (TCP RST).
        case resetMidBody(afterBytes: Int)
        /// On ``Route/video`` only: answer normally (head with the full `Content-Length`), but
        /// send only the first `afterBytes` bytes of the body, then close the connection cleanly.
        case truncatedBody(afterBytes: Int)
    }

    /// How one submitted request plays out.
    public struct GenerationScript: Sendable {
        /// What the result video is.
        public enum Video: Sendable {
            /// A real MP4 clip.
            case mp4
            /// These bytes instead (e.g. not an MP4 at all).
            case bytes([UInt8])
        }

        /// `IN_QUEUE` polls (positions count down to 0); nil uses the server's option.
        public var queuePolls: Int?
        /// `IN_PROGRESS` polls; nil uses the server's option.
        public var progressPolls: Int?
        /// Simulated latency from submit; nil uses the server's option.
        public var processingTime: Duration?
        /// When set, the request completes with this `error`/`error_type`, and its result is a 500.
        public var failure: (error: String, errorType: String)?
        /// Frames fewer than requested in the clip.
        public var missingFrames: Int
        /// The result video.
        public var video: Video
        /// Serve the video without `Content-Length` (chunked).
        public var chunkedVideo: Bool

        /// Creates a script; the defaults make a normal request.
        public init(
            queuePolls: Int? = nil, progressPolls: Int? = nil, processingTime: Duration? = nil,
            failure: (error: String, errorType: String)? = nil, missingFrames: Int = 0,
            video: Video = .mp4, chunkedVideo: Bool = false
        ) {
            self.queuePolls = queuePolls
            self.progressPolls = progressPolls
            self.processingTime = processingTime
            self.failure = failure
            self.missingFrames = missingFrames
            self.video = video
            self.chunkedVideo = chunkedVideo
        }

        /// A normal request.
        public static let normal = GenerationScript()
        /// Waits `polls` polls in the queue, positions `polls-1` … 0.
        public static func slowQueue(polls: Int) -> GenerationScript { GenerationScript(queuePolls: polls) }
        /// Fails like a runner that went away.
        public static func failing(error: String = "Runner disconnected", errorType: String = "runner_disconnected")
            -> GenerationScript
        {
            GenerationScript(failure: (error, errorType))
        }
        /// A clip `count` frames short.
        public static func missingFrames(_ count: Int) -> GenerationScript { GenerationScript(missingFrames: count) }
        /// A "video" that is a text file.
        public static let notMP4 = GenerationScript(video: .bytes(Array("this is not a video\n".utf8)))
    }

    /// One request as the server received it.
    public struct RecordedRequest: Sendable {
        /// Which route it hit.
        public var route: Route
        /// `GET`, `POST`, …
        public var method: String
        /// The path, without the query.
        public var path: String
        /// The query, when there was one.
        public var query: String?
        /// The headers, names lower-cased, in order.
        public var headers: [(name: String, value: String)]
        /// Body bytes received.
        public var bodySize: Int

        /// The first value of a header (case-insensitive).
        public func header(_ name: String) -> String? {
            headers.first { $0.name == name.lowercased() }?.value
        }
    }

    /// A file uploaded through the storage routes.
    public struct StoredFile: Sendable {
        /// The name given at initiate.
        public var fileName: String
        /// The content type given at initiate.
        public var contentType: String
        /// The bytes PUT (nil until the PUT arrives).
        public var bytes: [UInt8]?
    }

    let options: Options
    let state = NIOLockedValueBox(ServerState())
    private let server = LoopbackServer(name: "the fake fal server")
    let workDirectory: URL

    /// Creates a server (not yet listening).
    public init(options: Options = Options()) {
        self.options = options
        workDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("fakefal-\(UUID().uuidString)")
    }

    deinit {
        try? FileManager.default.removeItem(at: workDirectory)
    }

    /// Starts listening on 127.0.0.1, on `port` (0, the default, picks a free port).
    /// - Returns: the base URL, e.g. `http://127.0.0.1:41234`: use it as queue and REST base.
    /// - Throws: when the server cannot bind or is already running.
    public func start(port: Int = 0) async throws -> URL {
        try FileManager.default.createDirectory(at: workDirectory, withIntermediateDirectories: true)
        let handler = FakeFalHandler(server: self)
        let base = try await server.start(port: port) { request in try await handler.respond(to: request) }
        state.withLockedValue { $0.baseURL = base.absoluteString }
        return base
    }

    /// Stops listening and closes all connections; waits until the server is down.
    public func stop() async {
        await server.stop()
    }

    /// The base URL while running.
    public var baseURL: String { state.withLockedValue { $0.baseURL } }

    // MARK: - Scripting

    /// Queues faults for the next requests to `route`, one per request, in order.
    public func inject(_ faults: [Fault], on route: Route) {
        state.withLockedValue { $0.faults[route, default: []].append(contentsOf: faults) }
    }

    /// Queues scripts for the next submits, one per accepted submit, in order.
    public func script(_ scripts: [GenerationScript]) {
        state.withLockedValue { $0.scripts.append(contentsOf: scripts) }
    }

    // MARK: - What happened

    /// Every request received, in order of arrival.
    public var requests: [RecordedRequest] { state.withLockedValue { $0.requests } }

    /// The requests received on one route.
    public func requests(to route: Route) -> [RecordedRequest] {
        state.withLockedValue { $0.requests.filter { $0.route == route } }
    }

    /// The inputs of accepted submits, in order.
    public var submittedInputs: [InfiniTalkRequest] { state.withLockedValue { $0.jobOrder.compactMap { $0.input } } }

    /// The request ids of accepted submits, in order.
    public var requestIDs: [String] { state.withLockedValue { $0.jobOrder.map(\.id) } }

    /// The ids of requests cancelled before they completed.
    public var cancelledRequestIDs: [String] {
        state.withLockedValue { s in s.jobOrder.map(\.id).filter { s.jobs[$0]?.cancelled == true } }
    }

    /// Files uploaded through the storage routes, in order of initiation.
    public var storedFiles: [StoredFile] {
        state.withLockedValue { s in s.uploadOrder.compactMap { s.uploads[$0] } }
    }

    /// The most requests that were submitted and not yet completed at the same time.
    public var peakConcurrentRequests: Int { state.withLockedValue { $0.peakRunning } }

    /// The faults played on video requests by ``Options/videoFaults`` and by scripted
    /// `resetMidBody`/`truncatedBody` faults on ``Route/video``, in order.
    public var videoFaultLog: [PlayedVideoFault] { state.withLockedValue { $0.videoFaultLog } }

    /// The clip bytes served for a request id (rendered on the first result fetch).
    public func clip(forRequestID id: String) -> [UInt8]? { state.withLockedValue { $0.jobs[id]?.clip } }
}

/// The mutable state, behind one lock.
struct ServerState {
    var baseURL = ""
    var requests: [FakeFalServer.RecordedRequest] = []
    var faults: [FakeFalServer.Route: [FakeFalServer.Fault]] = [:]
    var scripts: [FakeFalServer.GenerationScript] = []
    var uploads: [String: FakeFalServer.StoredFile] = [:]
    var uploadOrder: [String] = []
    var jobs: [String: Job] = [:]
    var jobOrder: [(id: String, input: InfiniTalkRequest?)] = []
    var running = 0
    var peakRunning = 0
    /// Video requests per request id, for the seeded faults.
    var videoRequests: [String: Int] = [:]
    var videoFaultLog: [FakeFalServer.PlayedVideoFault] = []
    /// Speech-to-text requests by id: the endpoint and the input's bytes.
    var transcriptions: [String: (endpoint: String, body: [UInt8])] = [:]
    var transcriptionOrder: [String] = []

    /// One submitted request.
    struct Job {
        let id: String
        let appID: String
        let input: InfiniTalkRequest
        let index: Int
        let script: FakeFalServer.GenerationScript
        let readyAt: ContinuousClock.Instant
        var queuePollsLeft: Int
        var progressPollsLeft: Int
        var logs: [String] = []
        var cancelled = false
        var completed = false
        var clip: [UInt8]?
    }

    mutating func nextFault(_ route: FakeFalServer.Route) -> FakeFalServer.Fault? {
        guard var list = faults[route], !list.isEmpty else { return nil }
        let fault = list.removeFirst()
        faults[route] = list
        return fault
    }

    mutating func markCompleted(_ id: String) {
        guard var job = jobs[id], !job.completed else { return }
        job.completed = true
        jobs[id] = job
        running -= 1
    }
}
