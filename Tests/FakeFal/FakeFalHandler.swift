// The fake fal server's request handling: routing, faults, storage, queue, videos.

import Foundation
import HTTPTypes
import Hummingbird
import InfiniPipeline
import NIOCore

/// Answers every request of a ``FakeFalServer``.
struct FakeFalHandler: Sendable {
    let server: FakeFalServer

    /// The header that tells ``DropConnectionHandler`` to close the connection instead of answering.
    static let dropHeader = HTTPField.Name("x-fakefal-drop")!
    /// The header that tells ``DropConnectionHandler`` to send only this many body bytes, then close.
    static let cutHeader = HTTPField.Name("x-fakefal-cut")!
    /// With ``cutHeader``: close with a TCP reset instead of a clean close.
    static let resetHeader = HTTPField.Name("x-fakefal-reset")!

    /// A fault decided for one video request.
    struct PlannedCut {
        var requestID: String
        var attempt: Int
        var kind: FakeFalServer.VideoFaults.Kind
        /// Body bytes to send before the cut, when scripted exactly.
        var bytes: Int? = nil
        /// Otherwise: where to cut, as a share of the body.
        var fraction: Double = 0.5
    }

    /// The request id in a video path (`/fake-videos/{id}.mp4`).
    static func videoID(_ path: String) -> String? {
        guard let name = path.split(separator: "/").last.map(String.init) else { return nil }
        return name.hasSuffix(".mp4") ? String(name.dropLast(4)) : name
    }

    /// Whether the `attempt`-th video request for clip `clip` fails, and how: a function of the
    /// seed, the clip and the attempt only.
    static func plan(_ faults: FakeFalServer.VideoFaults, clip: Int, attempt: Int, requestID: String) -> PlannedCut? {
        var random = SplitMix64(seed: faults.seed, clip: UInt64(clip), attempt: UInt64(attempt))
        guard Double.random(in: 0..<1, using: &random) < faults.rate else { return nil }
        let kind = faults.kinds[Int.random(in: 0..<faults.kinds.count, using: &random)]
        return PlannedCut(
            requestID: requestID, attempt: attempt, kind: kind,
            fraction: Double.random(in: 0.05..<0.95, using: &random))
    }

    func respond(to request: Request) async throws -> Response {
        var request = request
        let path = request.uri.path
        let route = FakeFalHandler.route(method: request.method, path: path)
        let body = try await request.collectBody(upTo: 256 << 20)
        let recorded = FakeFalServer.RecordedRequest(
            route: route, method: request.method.rawValue, path: path, query: request.uri.query,
            headers: request.headers.map { ($0.name.canonicalName, $0.value) }, bodySize: body.readableBytes)
        let videoFaults = server.options.videoFaults
        let (fault, planned) = server.state.withLockedValue { state -> (FakeFalServer.Fault?, PlannedCut?) in
            state.requests.append(recorded)
            let scripted = state.nextFault(route)
            guard route == .video, let id = FakeFalHandler.videoID(path), let job = state.jobs[id] else {
                return (scripted, nil)
            }
            let attempt = (state.videoRequests[id] ?? 0) + 1
            state.videoRequests[id] = attempt
            switch scripted {
            case .resetMidBody(let bytes)?:
                return (nil, PlannedCut(requestID: id, attempt: attempt, kind: .reset, bytes: bytes))
            case .truncatedBody(let bytes)?:
                return (nil, PlannedCut(requestID: id, attempt: attempt, kind: .truncated, bytes: bytes))
            case let other?:
                return (other, nil)
            case nil:
                guard let videoFaults else { return (nil, nil) }
                return (nil, FakeFalHandler.plan(videoFaults, clip: job.index, attempt: attempt, requestID: id))
            }
        }
        if let fault {
            if case .delay(let duration) = fault {
                try await Task.sleep(for: duration)
            } else {
                return respond(fault: fault, request: request)
            }
        }
        if let planned, planned.kind == .unavailable {
            server.state.withLockedValue {
                $0.videoFaultLog.append(.init(requestID: planned.requestID, attempt: planned.attempt, kind: .unavailable))
            }
            return Response(
                status: .serviceUnavailable, headers: [.contentType: "text/plain"],
                body: .init(byteBuffer: ByteBuffer(string: "503 Service Unavailable: upstream busy\n")))
        }
        var response = await answer(route: route, path: path, body: Array(body.readableBytesView), headers: request.headers)
        if let planned, let length = response.body.contentLength, length > 1, (200..<300).contains(response.status.code) {
            // Cut the body: send the head (with the full Content-Length) and `sent` bytes of it.
            let sent = planned.bytes ?? max(1, min(length - 1, Int(planned.fraction * Double(length))))
            response.headers[FakeFalHandler.cutHeader] = String(sent)
            if planned.kind == .reset { response.headers[FakeFalHandler.resetHeader] = "1" }
            server.state.withLockedValue {
                $0.videoFaultLog.append(
                    .init(
                        requestID: planned.requestID, attempt: planned.attempt, kind: planned.kind,
                        bytesSent: min(sent, length)))
            }
        }
        return response
    }

    /// The normal answer to a request (after any fault).
    private func answer(route: FakeFalServer.Route, path: String, body bytes: [UInt8], headers: HTTPFields) async -> Response {
        if [.initiate, .submit, .status, .result, .cancel].contains(route), let key = server.options.expectedKey,
            headers[.authorization] != "Key \(key)"
        {
            return json(401, ["detail": "Invalid or missing credentials"])
        }
        switch route {
        case .initiate: return initiate(bytes)
        case .upload: return upload(path: path, bytes: bytes)
        case .storedFile: return storedFile(path: path)
        case .submit: return submit(path: path, bytes: bytes)
        case .status: return status(path: path)
        case .result: return await result(path: path)
        case .cancel: return cancel(path: path)
        case .video: return video(path: path, headers: headers)
        case .unknown: return json(404, ["detail": "Not found"])
        }
    }

    static func route(method: HTTPRequest.Method, path: String) -> FakeFalServer.Route {
        let parts = path.split(separator: "/").map(String.init)
        if method == .post && parts == ["storage", "upload", "initiate"] { return .initiate }
        if parts.first == "fake-storage" {
            if method == .put && parts.count == 3 && parts[1] == "upload" { return .upload }
            if method == .get && parts.count == 4 && parts[1] == "files" { return .storedFile }
            return .unknown
        }
        if parts.first == "fake-videos" { return method == .get && parts.count == 2 ? .video : .unknown }
        if let r = parts.firstIndex(of: "requests"), r >= 2, parts.count > r + 1 {
            let rest = parts.count - r - 2
            if rest == 0 && method == .get { return .result }
            if rest == 1 && parts.last == "status" && method == .get { return .status }
            if rest == 1 && parts.last == "cancel" && method == .put { return .cancel }
            return .unknown
        }
        if method == .post && parts.count >= 2 { return .submit }
        return .unknown
    }

    // MARK: - Faults

    private func respond(fault: FakeFalServer.Fault, request: Request) -> Response {
        switch fault {
        case .status(let code, let body, let headers):
            var fields = HTTPFields()
            for (name, value) in headers { fields[HTTPField.Name(name)!] = value }
            return Response(status: .init(code: code), headers: fields, body: .init(byteBuffer: ByteBuffer(string: body)))
        case .rateLimited(let retryAfter):
            return json(429, ["detail": "Rate limit exceeded"], headers: ["Retry-After": retryAfter])
        case .ingressError(let code):
            let page =
                "<html>\r\n<head><title>\(code) Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
                + "<center><h1>\(code) Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
            return Response(
                status: .init(code: code), headers: [.contentType: "text/html"],
                body: .init(byteBuffer: ByteBuffer(string: page)))
        case .serverError(let code, let detail, let errorType):
            return json(
                code, ["detail": detail, "error_type": errorType],
                headers: ["x-fal-request-id": UUID().uuidString.lowercased(), "X-Fal-Error-Type": errorType])
        case .dropConnection:
            return Response(status: .ok, headers: [FakeFalHandler.dropHeader: "1"])
        case .validationError(let problems):
            let detail = problems.map { ["loc": $0.loc, "msg": $0.msg, "type": "value_error"] as [String: Any] }
            return json(422, ["detail": detail])
        case .echoAuthorization(let code):
            let auth = request.headers[.authorization] ?? "none"
            return json(code, ["detail": "Invalid credentials: \(auth)"], headers: ["Www-Authenticate": auth])
        case .delay, .resetMidBody, .truncatedBody:
            return json(500, ["detail": "unreachable"])
        }
    }

    // MARK: - Storage

    private func initiate(_ bytes: [UInt8]) -> Response {
        guard let body = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
            let contentType = body["content_type"] as? String, let fileName = body["file_name"] as? String
        else {
            return json(
                422, ["detail": [["loc": ["body"], "msg": "content_type and file_name are required", "type": "missing"]]])
        }
        let token = UUID().uuidString.lowercased()
        let safeName =
            fileName.isEmpty
            ? "upload.bin"
            : String(fileName.map { $0.isLetter || $0.isNumber || "._-".contains($0) ? $0 : "_" })
        let base = server.state.withLockedValue { state -> String in
            state.uploads[token] = FakeFalServer.StoredFile(fileName: fileName, contentType: contentType, bytes: nil)
            state.uploadOrder.append(token)
            return state.baseURL
        }
        return json(
            200,
            [
                "upload_url": "\(base)/fake-storage/upload/\(token)",
                "file_url": "\(base)/fake-storage/files/\(token)/\(safeName)",
            ])
    }

    private func upload(path: String, bytes: [UInt8]) -> Response {
        let token = String(path.split(separator: "/")[2])
        let known = server.state.withLockedValue { state -> Bool in
            guard state.uploads[token] != nil else { return false }
            state.uploads[token]!.bytes = bytes
            return true
        }
        return known ? Response(status: .ok) : json(404, ["detail": "Unknown upload"])
    }

    private func storedFile(path: String) -> Response {
        let token = String(path.split(separator: "/")[2])
        guard let file = server.state.withLockedValue({ $0.uploads[token] }), let bytes = file.bytes else {
            return json(404, ["detail": "Not found"])
        }
        return Response(
            status: .ok, headers: [.contentType: file.contentType],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// The stored bytes behind a URL this server handed out, or the payload of a data: URI.
    func resolveInput(_ url: String) -> [UInt8]? {
        if url.hasPrefix("data:"), let comma = url.firstIndex(of: ",") {
            let header = url[..<comma]
            let payload = String(url[url.index(after: comma)...])
            if header.hasSuffix(";base64") { return Data(base64Encoded: payload).map { [UInt8]($0) } }
            return Array((payload.removingPercentEncoding ?? payload).utf8)
        }
        return server.state.withLockedValue { state -> [UInt8]? in
            let prefix = state.baseURL + "/fake-storage/files/"
            guard url.hasPrefix(prefix) else { return nil }
            let token = url.dropFirst(prefix.count).split(separator: "/").first.map(String.init) ?? ""
            return state.uploads[token]?.bytes
        }
    }

    // MARK: - Queue

    private func submit(path: String, bytes: [UInt8]) -> Response {
        let endpoint = path.split(separator: "/").joined(separator: "/")
        if FakeTranscript.endpoints.contains(endpoint) { return submitTranscription(endpoint: endpoint, bytes: bytes) }
        let input: InfiniTalkRequest
        do {
            input = try JSONDecoder().decode(InfiniTalkRequest.self, from: Data(bytes))
        } catch {
            return json(422, ["detail": [["loc": ["body"], "msg": "invalid input: \(error)", "type": "value_error"]]])
        }
        let problems = input.problems
        if !problems.isEmpty {
            let detail = problems.map { ["loc": ["body", $0.field], "msg": $0.reason, "type": "value_error"] as [String: Any] }
            return json(422, ["detail": detail])
        }
        let appID = (try? FalEndpointID(endpoint).appID) ?? endpoint
        let id = UUID().uuidString.lowercased()
        let options = server.options
        let (job, base) = server.state.withLockedValue { state -> (ServerState.Job, String) in
            let script = state.scripts.isEmpty ? FakeFalServer.GenerationScript.normal : state.scripts.removeFirst()
            let job = ServerState.Job(
                id: id, appID: appID, input: input, index: state.jobOrder.count, script: script,
                readyAt: ContinuousClock.now + (script.processingTime ?? options.processingTime),
                queuePollsLeft: script.queuePolls ?? options.queuePolls,
                progressPollsLeft: script.progressPolls ?? options.progressPolls)
            state.jobs[id] = job
            state.jobOrder.append((id, input))
            state.running += 1
            state.peakRunning = max(state.peakRunning, state.running)
            return (job, state.baseURL)
        }
        if options.renderOnSubmit {
            // On a thread of its own: a render blocks for most of a second, and on the cooperative
            // pool or Dispatch's (one thread per core) it would wait behind, or stall, other work.
            // A failed render is left for the result fetch to retry and report.
            TestThreads.start { _ = try? self.clipBytes(for: job) }
        }
        var body = urls(base: base, job: job)
        body["status"] = "IN_QUEUE"
        body["queue_position"] = job.queuePollsLeft
        return json(200, body, headers: ["x-fal-request-id": id])
    }

    /// A speech-to-text request: its audio must be one the server stored; it completes at once.
    private func submitTranscription(endpoint: String, bytes: [UInt8]) -> Response {
        guard let input = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
            let audio = input["audio_url"] as? String, resolveInput(audio) != nil
        else {
            return json(422, ["detail": [["loc": ["body", "audio_url"], "msg": "no such audio", "type": "value_error"]]])
        }
        let id = UUID().uuidString.lowercased()
        let base = server.state.withLockedValue { state -> String in
            state.transcriptions[id] = (endpoint, bytes)
            state.transcriptionOrder.append(id)
            return state.baseURL
        }
        var body = transcriptionURLs(base: base, endpoint: endpoint, id: id)
        body["status"] = "IN_QUEUE"
        body["queue_position"] = 0
        return json(200, body, headers: ["x-fal-request-id": id])
    }

    private func transcriptionURLs(base: String, endpoint: String, id: String) -> [String: Any] {
        let request = "\(base)/\(endpoint)/requests/\(id)"
        return [
            "request_id": id, "response_url": request, "status_url": request + "/status", "cancel_url": request + "/cancel",
        ]
    }

    private func urls(base: String, job: ServerState.Job) -> [String: Any] {
        let request = "\(base)/\(job.appID)/requests/\(job.id)"
        return [
            "request_id": job.id, "response_url": request, "status_url": request + "/status",
            "cancel_url": request + "/cancel",
        ]
    }

    private func jobID(_ path: String) -> String? {
        let parts = path.split(separator: "/").map(String.init)
        guard let r = parts.firstIndex(of: "requests"), parts.count > r + 1 else { return nil }
        return parts[r + 1]
    }

    private enum Phase {
        case queued(position: Int)
        case running
        case completed
    }

    private func status(path: String) -> Response {
        guard let id = jobID(path) else { return json(404, ["detail": "Request not found"]) }
        if let (endpoint, base) = server.state.withLockedValue({ s in s.transcriptions[id].map { ($0.endpoint, s.baseURL) } }) {
            var body = transcriptionURLs(base: base, endpoint: endpoint, id: id)
            body["status"] = "COMPLETED"
            body["logs"] = [] as [Any]
            body["metrics"] = ["inference_time": 0.01]
            return json(200, body, headers: ["x-fal-request-id": id])
        }
        let now = ContinuousClock.now
        let answer = server.state.withLockedValue { state -> (ServerState.Job, Phase, String)? in
            guard var job = state.jobs[id] else { return nil }
            let phase: Phase
            if job.completed {
                phase = .completed
            } else if job.queuePollsLeft > 0 {
                job.queuePollsLeft -= 1
                phase = .queued(position: job.queuePollsLeft)
            } else if job.progressPollsLeft > 0 || now < job.readyAt {
                job.progressPollsLeft = max(0, job.progressPollsLeft - 1)
                job.logs.append("Generating frames: step \(job.logs.count + 1)")
                phase = .running
            } else {
                job.logs.append("Done: \(max(1, job.input.numFrames - job.script.missingFrames)) frames")
                phase = .completed
            }
            state.jobs[id] = job
            if case .completed = phase { state.markCompleted(id) }
            return (state.jobs[id]!, phase, state.baseURL)
        }
        guard let (job, phase, base) = answer else { return json(404, ["detail": "Request not found"]) }
        var body = urls(base: base, job: job)
        let logs = job.logs.enumerated().map { i, message in
            [
                "message": message, "level": "INFO", "source": "USER",
                "timestamp": "2026-01-01T00:\(String(format: "%02d", i / 60 % 60)):\(String(format: "%02d", i % 60)).000000Z",
            ]
        }
        switch phase {
        case .queued(let position):
            body["status"] = "IN_QUEUE"
            body["queue_position"] = position
            return json(202, body, headers: ["x-fal-request-id": id])
        case .running:
            body["status"] = "IN_PROGRESS"
            body["logs"] = logs
            return json(202, body, headers: ["x-fal-request-id": id])
        case .completed:
            body["status"] = "COMPLETED"
            body["logs"] = logs
            body["metrics"] = ["inference_time": 0.01]
            if job.cancelled {
                body["error"] = "Request was cancelled"
                body["error_type"] = "client_cancelled"
            } else if let failure = job.script.failure {
                body["error"] = failure.error
                body["error_type"] = failure.errorType
            }
            return json(200, body, headers: ["x-fal-request-id": id])
        }
    }

    private func result(path: String) async -> Response {
        if let id = jobID(path), let asked = server.state.withLockedValue({ $0.transcriptions[id] }) {
            let input = (try? JSONSerialization.jsonObject(with: Data(asked.body)) as? [String: Any]) ?? [:]
            return json(
                200, server.options.transcript.answer(endpoint: asked.endpoint, input: input), headers: ["x-fal-request-id": id])
        }
        guard let id = jobID(path), let job = server.state.withLockedValue({ $0.jobs[id] }) else {
            return json(404, ["detail": "Request not found"])
        }
        if job.cancelled {
            return json(
                400, ["detail": "Request was cancelled", "error_type": "client_cancelled"],
                headers: ["x-fal-request-id": id, "X-Fal-Error-Type": "client_cancelled"])
        }
        guard job.completed else {
            return json(400, ["detail": "Request is still in progress"], headers: ["x-fal-request-id": id])
        }
        if let failure = job.script.failure {
            return json(
                500, ["detail": failure.error, "error_type": failure.errorType],
                headers: ["x-fal-request-id": id, "X-Fal-Error-Type": failure.errorType])
        }
        let clip: [UInt8]
        do {
            clip = try await renderedClip(for: job)
        } catch {
            return json(
                500, ["detail": "fake server could not render the clip: \(error)", "error_type": "internal_error"],
                headers: ["x-fal-request-id": id])
        }
        let base = server.state.withLockedValue { $0.baseURL }
        return json(
            200,
            [
                "video": [
                    "url": "\(base)/fake-videos/\(id).mp4", "content_type": "application/octet-stream",
                    "file_name": "\(id).mp4", "file_size": clip.count,
                ],
                "seed": job.input.seed,
            ], headers: ["x-fal-request-id": id])
    }

    /// ``clipBytes(for:)`` on a thread of its own (``TestThreads/run(_:)``): a render blocks for
    /// most of a second. On the cooperative pool it would stall every request the server (and
    /// everything else in the process) answers meanwhile; on Dispatch's global queues (one
    /// thread per core) it waited behind other tests' work past the client's read timeout.
    private func renderedClip(for job: ServerState.Job) async throws -> [UInt8] {
        try await TestThreads.run { try self.clipBytes(for: job) }
    }

    private func clipBytes(for job: ServerState.Job) throws -> [UInt8] {
        if let clip = server.state.withLockedValue({ $0.jobs[job.id]?.clip }) { return clip }
        let bytes: [UInt8]
        switch job.script.video {
        case .bytes(let b):
            bytes = b
        case .mp4:
            let audio = server.options.clipAudio ? resolveInput(job.input.audioURL) : nil
            bytes = try FakeClip.render(
                frames: max(1, job.input.numFrames - job.script.missingFrames),
                width: server.options.clipWidth, height: server.options.clipHeight,
                clipIndex: job.index, audio: audio, directory: server.workDirectory)
        }
        server.state.withLockedValue { $0.jobs[job.id]?.clip = bytes }
        return bytes
    }

    private func cancel(path: String) -> Response {
        guard let id = jobID(path) else { return json(404, ["status": "NOT_FOUND"]) }
        let outcome = server.state.withLockedValue { state -> Int in
            guard let job = state.jobs[id] else { return 404 }
            if job.completed { return 400 }
            state.jobs[id]!.cancelled = true
            state.markCompleted(id)
            return 202
        }
        switch outcome {
        case 404: return json(404, ["status": "NOT_FOUND"])
        case 400: return json(400, ["status": "ALREADY_COMPLETED"], headers: ["x-fal-request-id": id])
        default: return json(202, ["status": "CANCELLATION_REQUESTED"], headers: ["x-fal-request-id": id])
        }
    }

    // MARK: - Videos

    private func video(path: String, headers: HTTPFields) -> Response {
        let id = FakeFalHandler.videoID(path) ?? ""
        guard let job = server.state.withLockedValue({ $0.jobs[id] }), let clip = job.clip, !clip.isEmpty else {
            return json(404, ["detail": "Not found"])
        }
        var fields: HTTPFields = [.contentType: "video/mp4"]
        var status = HTTPResponse.Status.ok
        var range = 0..<clip.count
        if server.options.videoRanges {
            let etag = "\"\(id)-\(clip.count)\""
            fields[.acceptRanges] = "bytes"
            fields[.eTag] = etag
            // If-Range with another validator means "the file changed: send all of it".
            if let requested = headers[.range], headers[.ifRange].map({ $0 == etag }) ?? true {
                switch FakeFalHandler.byteRange(requested, size: clip.count) {
                case .whole:
                    break
                case .part(let part):
                    range = part
                    status = .partialContent
                    fields[.contentRange] = "bytes \(part.lowerBound)-\(part.upperBound - 1)/\(clip.count)"
                case .unsatisfiable:
                    return Response(
                        status: .rangeNotSatisfiable,
                        headers: [.contentRange: "bytes */\(clip.count)", .contentLength: "0"])
                }
            }
        }
        let bytes = clip[range]
        if job.script.chunkedVideo {
            // No Content-Length: the client learns the size only while streaming.
            let chunks = stride(from: bytes.startIndex, to: bytes.endIndex, by: 4096).map {
                ByteBuffer(bytes: bytes[$0..<min($0 + 4096, bytes.endIndex)])
            }
            return Response(
                status: status, headers: fields,
                body: ResponseBody { writer in
                    for chunk in chunks { try await writer.write(chunk) }
                    try await writer.finish(nil)
                })
        }
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    enum ByteRange: Equatable {
        /// No usable single range: answer with the whole file.
        case whole
        case part(Range<Int>)
        case unsatisfiable
    }

    /// A `Range: bytes=…` header for a file of `size` bytes (one range; `a-`, `a-b` and `-n`).
    static func byteRange(_ header: String, size: Int) -> ByteRange {
        let value = header.trimmingCharacters(in: .whitespaces)
        guard value.lowercased().hasPrefix("bytes="), !value.contains(",") else { return .whole }
        let spec = value.dropFirst("bytes=".count).trimmingCharacters(in: .whitespaces)
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 else { return .whole }
        if parts[0].isEmpty {
            guard let suffix = Int(parts[1]), suffix > 0 else { return .whole }
            return .part(max(0, size - suffix)..<size)
        }
        guard let first = Int(parts[0]), first >= 0 else { return .whole }
        let last = parts[1].isEmpty ? size - 1 : (Int(parts[1]) ?? -1)
        guard last >= first else { return parts[1].isEmpty ? .unsatisfiable : .whole }
        guard first < size else { return .unsatisfiable }
        return .part(first..<(min(last, size - 1) + 1))
    }

    // MARK: - JSON

    private func json(_ code: Int, _ object: [String: Any], headers: [String: String] = [:]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        var fields: HTTPFields = [.contentType: "application/json"]
        for (name, value) in headers { fields[HTTPField.Name(name)!] = value }
        return Response(status: .init(code: code), headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny deterministic generator, so every random case
/// (a fault, a test input) reproduces from its seed.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    /// A generator seeded with `seed`.
    public init(seed: UInt64) { state = seed }

    /// Seeded from the fault seed, the clip and the attempt.
    init(seed: UInt64, clip: UInt64, attempt: UInt64) {
        state = seed
        state = next() ^ clip &* 0x9E37_79B9_7F4A_7C15
        state = next() ^ attempt &* 0xC2B2_AE3D_27D4_EB4F
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
