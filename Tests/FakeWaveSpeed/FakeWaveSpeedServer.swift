// A loopback WaveSpeed server for tests: upload tickets and storage, predictions, videos,
// scripted faults, and a record of every request and every billed second.

import FakeFal
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// A WaveSpeed look-alike on 127.0.0.1: `POST /api/v3/media/uploads` (a ticket naming a PUT to
/// the server's own storage, with headers the PUT must carry exactly), the storage itself,
/// `POST /api/v3/{owner}/{model}` (submit), `GET /api/v3/predictions/{id}/result`, and the result
/// videos. Every JSON answer is WaveSpeed's envelope `{code, message, data}`.
///
/// Tasks go `created` → `processing` → `completed` (``Options/createdPolls`` polls created, then
/// processing until ``Options/processingTime``, plus ``Options/secondsPerVideoSecond`` per second
/// of its audio, after the submit). A completed task's clip has as many frames as its audio lasts
/// at 25 fps (plus ``TaskScript/frameOffset``), rendered with ``FakeClip`` (each frame carries its
/// index); or a fixed clip (``Options/fixedClip``).
///
/// It records every request, and bills each completed task `max(minimum, ceil(video seconds))`
/// (``billedSeconds``), so tests can count duplicate submits and paid seconds.
public final class FakeWaveSpeedServer: Sendable {
    /// What the server does when nothing is scripted.
    public struct Options: Sendable {
        /// Clip width in pixels (even).
        public var clipWidth: Int
        /// Clip height in pixels (even).
        public var clipHeight: Int
        /// Polls that answer `created` before a task answers `processing`.
        public var createdPolls: Int
        /// Polls that answer `processing` (at least) before a task may complete.
        public var processingPolls: Int
        /// Time from the submit until a task may complete (simulated model latency).
        public var processingTime: Duration
        /// More time before a task may complete, per second of its audio (the clip's length):
        /// WaveSpeed takes 10–30 s of wall time per second of video. 0 (the default) adds none.
        public var secondsPerVideoSecond: Double
        /// When set, API routes answer 401 unless they carry `Authorization: Bearer <expectedKey>`.
        public var expectedKey: String?
        /// Serve these bytes as every task's video instead of rendering a clip (no rendering,
        /// so tests that only need an MP4 stay fast).
        public var fixedClip: [UInt8]?
        /// Give rendered clips an AAC track of the received audio.
        public var clipAudio: Bool
        /// The least a completed task is billed, in seconds.
        public var minimumBilledSeconds: Int

        /// Creates options: 64x64 clips with audio, one `created` poll, no latency, any key,
        /// rendered clips, 5 s minimum charge.
        public init(
            clipWidth: Int = 64, clipHeight: Int = 64, createdPolls: Int = 1, processingPolls: Int = 0,
            processingTime: Duration = .zero, secondsPerVideoSecond: Double = 0,
            expectedKey: String? = nil, fixedClip: [UInt8]? = nil, clipAudio: Bool = true,
            minimumBilledSeconds: Int = 5
        ) {
            self.clipWidth = clipWidth
            self.clipHeight = clipHeight
            self.createdPolls = createdPolls
            self.processingPolls = processingPolls
            self.processingTime = processingTime
            self.secondsPerVideoSecond = secondsPerVideoSecond
            self.expectedKey = expectedKey
            self.fixedClip = fixedClip
            self.clipAudio = clipAudio
            self.minimumBilledSeconds = minimumBilledSeconds
        }
    }

    /// The routes the server tells apart.
    public enum Route: String, Sendable, Hashable, CaseIterable {
        /// `POST /api/v3/media/uploads`
        case uploadTicket
        /// `PUT /fake-ws-storage/upload/{token}` (the ticket's url)
        case upload
        /// `GET /fake-ws-storage/files/{token}/{name}` (the download_url)
        case storedFile
        /// `POST /api/v3/{owner}/{model}`
        case submit
        /// `GET /api/v3/predictions/{id}/result`
        case result
        /// `GET /fake-ws-videos/{id}.mp4`
        case video
        /// Anything else (answered 404).
        case unknown
    }

    /// A misbehaviour for one request to a route.
    public enum Fault: Sendable {
        /// 429 with the envelope `{code: 429}` and `Retry-After: <retryAfter>` seconds.
        case rateLimited(retryAfter: Int = 0)
        /// 503 with the envelope `{code: 503}`: the API refused the call.
        case unavailable
        /// A gateway's HTML error page (502/503/504), without the envelope.
        case gatewayError(Int)
        /// HTTP 200 with the envelope's `code` and `message` (not 200).
        case envelopeError(code: Int, message: String)
        /// Read the whole request, then close the connection without an answer (on a submit:
        /// before any task is created).
        case dropConnection
        /// On ``Route/submit`` only: create the task (it runs and is billed), then close the
        /// connection without an answer, as a reset after the server accepted it.
        case acceptThenDrop
        /// An error whose message quotes the request's Authorization header (tests redaction).
        case echoAuthorization(Int)
        /// Wait, then answer normally.
        case delay(Duration)
        /// On ``Route/uploadTicket`` only: answer normally but with this upload URL.
        case ticketURL(String)
        /// On ``Route/video`` only: send the head (full `Content-Length`) and `afterBytes` bytes
        /// of the body, then reset the connection.
        case resetMidBody(afterBytes: Int)
        /// On ``Route/video`` only: as `resetMidBody`, but a clean close.
        case truncatedBody(afterBytes: Int)
    }

    /// How one submitted task plays out.
    public struct TaskScript: Sendable {
        /// When set, the task ends `failed` with this `error`.
        public var failure: String?
        /// When set, the task ends with this status instead (`cancelled`, `timeout`, `deleted`).
        public var finalStatus: String?
        /// Frames more (or fewer, when negative) than the audio's length in the clip.
        public var frameOffset: Int
        /// The video's URL in `outputs[0]` (default: the server's own).
        public var videoURL: String?

        /// Creates a script; the defaults make a normal task.
        public init(failure: String? = nil, finalStatus: String? = nil, frameOffset: Int = 0, videoURL: String? = nil) {
            self.failure = failure
            self.finalStatus = finalStatus
            self.frameOffset = frameOffset
            self.videoURL = videoURL
        }

        /// A normal task.
        public static let normal = TaskScript()
        /// Fails as WaveSpeed reports an upstream outage (a transient failure).
        public static let upstreamFailure = TaskScript(failure: "upstream model server returned HTTP 503: Service Unavailable")
        /// Fails for good (a refused input).
        public static let contentRejected = TaskScript(failure: "input image rejected by the content policy")
    }

    /// One request as the server received it.
    public struct RecordedRequest: Sendable {
        /// Which route it hit.
        public var route: Route
        /// `GET`, `POST`, …
        public var method: String
        /// The path, without the query.
        public var path: String
        /// The headers, names lower-cased, in order.
        public var headers: [(name: String, value: String)]
        /// The body.
        public var body: [UInt8]

        /// The first value of a header (case-insensitive).
        public func header(_ name: String) -> String? {
            headers.first { $0.name == name.lowercased() }?.value
        }
    }

    /// A file uploaded through a ticket.
    public struct StoredFile: Sendable {
        /// The ticket's `filename`.
        public var fileName: String
        /// The ticket's `size`.
        public var size: Int
        /// The ticket's `content_type`, when given.
        public var contentType: String?
        /// The headers the PUT had to carry.
        public var requiredHeaders: [String: String]
        /// The bytes PUT (nil until a PUT with the right headers arrives).
        public var bytes: [UInt8]?
    }

    /// A task as the server keeps it.
    public struct TaskRecord: Sendable {
        /// The task id.
        public var id: String
        /// The submit's JSON body.
        public var input: [String: String]
        /// The status it last reported.
        public var status: String
        /// The clip's frame count, once rendered.
        public var frames: Int?
        /// Seconds billed (once completed).
        public var billedSeconds: Int?
    }

    let options: Options
    let state = NIOLockedValueBox(WaveSpeedState())
    private let server = LoopbackServer(name: "the fake WaveSpeed server")
    let workDirectory: URL

    /// Creates a server (not yet listening).
    public init(options: Options = Options()) {
        self.options = options
        workDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("fakews-\(UUID().uuidString)")
    }

    deinit {
        try? FileManager.default.removeItem(at: workDirectory)
    }

    /// Starts listening on 127.0.0.1 on `port` (0, the default: a free port).
    /// - Returns: the base URL, e.g. `http://127.0.0.1:41234`.
    /// - Throws: when the server cannot bind or is already running.
    public func start(port: Int = 0) async throws -> URL {
        try FileManager.default.createDirectory(at: workDirectory, withIntermediateDirectories: true)
        let handler = FakeWaveSpeedHandler(server: self)
        let base = try await server.start(port: port) { request in try await handler.respond(to: request) }
        state.withLockedValue { $0.baseURL = base.absoluteString }
        return base
    }

    /// Stops listening and closes all connections; waits until the server is down.
    public func stop() async {
        await server.stop()
    }

    // MARK: - Scripting

    /// Queues faults for the next requests to `route`, one per request, in order.
    public func inject(_ faults: [Fault], on route: Route) {
        state.withLockedValue { $0.faults[route, default: []].append(contentsOf: faults) }
    }

    /// Queues scripts for the next tasks, one per created task, in order.
    public func script(_ scripts: [TaskScript]) {
        state.withLockedValue { $0.scripts.append(contentsOf: scripts) }
    }

    // MARK: - What happened

    /// Every request received, in order of arrival.
    public var requests: [RecordedRequest] { state.withLockedValue { $0.requests } }

    /// The requests received on one route.
    public func requests(to route: Route) -> [RecordedRequest] {
        state.withLockedValue { $0.requests.filter { $0.route == route } }
    }

    /// Every task created (each one billed once it completes), in order.
    public var tasks: [TaskRecord] {
        state.withLockedValue { s in s.taskOrder.compactMap { s.tasks[$0]?.record } }
    }

    /// Seconds billed per completed task, in order of creation.
    public var billedSeconds: [Int] { tasks.compactMap(\.billedSeconds) }

    /// Files uploaded through tickets, in order of the tickets.
    public var storedFiles: [StoredFile] {
        state.withLockedValue { s in s.uploadOrder.compactMap { s.uploads[$0] } }
    }
}

/// The mutable state, behind one lock.
struct WaveSpeedState {
    var baseURL = ""
    var requests: [FakeWaveSpeedServer.RecordedRequest] = []
    var faults: [FakeWaveSpeedServer.Route: [FakeWaveSpeedServer.Fault]] = [:]
    var scripts: [FakeWaveSpeedServer.TaskScript] = []
    var uploads: [String: FakeWaveSpeedServer.StoredFile] = [:]
    var uploadOrder: [String] = []
    var tasks: [String: TaskState] = [:]
    var taskOrder: [String] = []

    struct TaskState {
        var record: FakeWaveSpeedServer.TaskRecord
        let index: Int
        let script: FakeWaveSpeedServer.TaskScript
        let readyAt: ContinuousClock.Instant
        var createdPollsLeft: Int
        var processingPollsLeft: Int
        var clip: [UInt8]?
    }

    mutating func nextFault(_ route: FakeWaveSpeedServer.Route) -> FakeWaveSpeedServer.Fault? {
        guard var list = faults[route], !list.isEmpty else { return nil }
        let fault = list.removeFirst()
        faults[route] = list
        return fault
    }
}
