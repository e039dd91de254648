// The fake WaveSpeed server's request handling: routing, faults, uploads, tasks, videos.

import FakeFal
import Foundation
import HTTPTypes
import Hummingbird
import InfiniPipeline
import NIOCore

/// Answers every request of a ``FakeWaveSpeedServer``.
struct FakeWaveSpeedHandler: Sendable {
    let server: FakeWaveSpeedServer

    func respond(to request: Request) async throws -> Response {
        var request = request
        let path = request.uri.path
        let route = FakeWaveSpeedHandler.route(method: request.method, path: path)
        let body = Array(try await request.collectBody(upTo: 256 << 20).readableBytesView)
        let recorded = FakeWaveSpeedServer.RecordedRequest(
            route: route, method: request.method.rawValue, path: path,
            headers: request.headers.map { ($0.name.canonicalName, $0.value) }, body: body)
        let fault = server.state.withLockedValue { state -> FakeWaveSpeedServer.Fault? in
            state.requests.append(recorded)
            return state.nextFault(route)
        }
        switch fault {
        case nil:
            break
        case .delay(let duration)?:
            try await Task.sleep(for: duration)
        case .rateLimited(let seconds)?:
            return envelope(429, code: 429, message: "Too many requests", headers: ["Retry-After": String(seconds)])
        case .unavailable?:
            return envelope(503, code: 503, message: "Service busy, please retry")
        case .gatewayError(let status)?:
            let page = "<html><head><title>\(status) Gateway Error</title></head><body><h1>\(status)</h1>nginx</body></html>"
            return Response(
                status: .init(code: status), headers: [.contentType: "text/html"],
                body: .init(byteBuffer: ByteBuffer(string: page)))
        case .envelopeError(let code, let message)?:
            return envelope(200, code: code, message: message)
        case .dropConnection?:
            return Response(status: .ok, headers: [DropConnectionHandler.dropHeader: "1"])
        case .echoAuthorization(let status)?:
            let auth = request.headers[.authorization] ?? "none"
            return envelope(status, code: status, message: "Invalid credentials: \(auth)")
        case .acceptThenDrop?, .ticketURL?, .resetMidBody?, .truncatedBody?:
            break
        }
        if [.uploadTicket, .submit, .result].contains(route), let key = server.options.expectedKey,
            request.headers[.authorization] != "Bearer \(key)"
        {
            return envelope(401, code: 401, message: "Invalid API key")
        }
        var response: Response
        switch route {
        case .uploadTicket:
            var ticketURL: String?
            if case .ticketURL(let url)? = fault { ticketURL = url }
            response = ticket(body, url: ticketURL)
        case .upload: response = upload(path: path, headers: request.headers, body: body)
        case .storedFile: response = storedFile(path: path)
        case .submit: response = submit(path: path, body: body)
        case .result: response = await result(path: path)
        case .video: response = video(path: path, headers: request.headers)
        case .unknown: response = envelope(404, code: 404, message: "Not found")
        }
        switch fault {
        case .acceptThenDrop? where route == .submit:
            // The task exists (and will be billed); the client never sees the answer.
            response = Response(status: .ok, headers: [DropConnectionHandler.dropHeader: "1"])
        case .resetMidBody(let bytes)?, .truncatedBody(let bytes)?:
            if route == .video, response.status == .ok || response.status == .partialContent {
                response.headers[DropConnectionHandler.cutHeader] = String(bytes)
                if case .resetMidBody? = fault { response.headers[DropConnectionHandler.resetHeader] = "1" }
            }
        default:
            break
        }
        return response
    }

    static func route(method: HTTPRequest.Method, path: String) -> FakeWaveSpeedServer.Route {
        let parts = path.split(separator: "/").map(String.init)
        if parts.first == "fake-ws-storage" {
            if method == .put && parts.count == 3 && parts[1] == "upload" { return .upload }
            if method == .get && parts.count == 4 && parts[1] == "files" { return .storedFile }
            return .unknown
        }
        if parts.first == "fake-ws-videos" { return method == .get && parts.count == 2 ? .video : .unknown }
        guard parts.count >= 3, parts[0] == "api", parts[1] == "v3" else { return .unknown }
        let rest = Array(parts.dropFirst(2))
        if method == .post && rest == ["media", "uploads"] { return .uploadTicket }
        if method == .get && rest.count == 3 && rest[0] == "predictions" && rest[2] == "result" { return .result }
        if method == .post && rest.count >= 2 && rest[0] != "predictions" && rest[0] != "media" { return .submit }
        return .unknown
    }

    // MARK: - Uploads

    private func ticket(_ body: [UInt8], url override: String?) -> Response {
        guard let json = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
            let fileName = json["filename"] as? String, let size = json["size"] as? Int
        else {
            return envelope(400, code: 400, message: "filename and size are required")
        }
        let contentType = json["content_type"] as? String
        let token = UUID().uuidString.lowercased()
        let headers = ["Content-Type": contentType ?? "application/octet-stream", "X-Fake-Ticket": "ticket-\(token)"]
        let safeName = String(fileName.map { $0.isLetter || $0.isNumber || "._-".contains($0) ? $0 : "_" })
        let base = server.state.withLockedValue { state -> String in
            state.uploads[token] = FakeWaveSpeedServer.StoredFile(
                fileName: fileName, size: size, contentType: contentType, requiredHeaders: headers, bytes: nil)
            state.uploadOrder.append(token)
            return state.baseURL
        }
        return envelope(
            200, code: 200, message: "success",
            data: [
                "upload": ["method": "PUT", "url": override ?? "\(base)/fake-ws-storage/upload/\(token)", "headers": headers],
                "download_url": "\(base)/fake-ws-storage/files/\(token)/\(safeName.isEmpty ? "upload.bin" : safeName)",
            ])
    }

    private func upload(path: String, headers: HTTPFields, body: [UInt8]) -> Response {
        let token = String(path.split(separator: "/")[2])
        let problem = server.state.withLockedValue { state -> String? in
            guard let file = state.uploads[token] else { return "unknown upload" }
            if headers[.authorization] != nil { return "an Authorization header reached the storage host" }
            for (name, value) in file.requiredHeaders {
                let sent = headers[values: HTTPField.Name(name)!]
                if sent != [value] { return "header \(name) is \(sent), the ticket says \(value)" }
            }
            if body.count != file.size { return "\(body.count) bytes, the ticket says \(file.size)" }
            state.uploads[token]!.bytes = body
            return nil
        }
        guard let problem else { return Response(status: .ok) }
        return Response(
            status: .forbidden, headers: [.contentType: "application/xml"],
            body: .init(
                byteBuffer: ByteBuffer(string: "<Error><Code>SignatureDoesNotMatch</Code><Message>\(problem)</Message></Error>")))
    }

    private func storedFile(path: String) -> Response {
        let token = String(path.split(separator: "/")[2])
        guard let file = server.state.withLockedValue({ $0.uploads[token] }), let bytes = file.bytes else {
            return Response(status: .notFound)
        }
        return Response(
            status: .ok, headers: [.contentType: file.contentType ?? "application/octet-stream"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// The stored bytes behind a download_url this server handed out.
    private func resolve(_ url: String) -> [UInt8]? {
        server.state.withLockedValue { state -> [UInt8]? in
            let prefix = state.baseURL + "/fake-ws-storage/files/"
            guard url.hasPrefix(prefix) else { return nil }
            let token = url.dropFirst(prefix.count).split(separator: "/").first.map(String.init) ?? ""
            return state.uploads[token]?.bytes
        }
    }

    // MARK: - Tasks

    private func submit(path: String, body: [UInt8]) -> Response {
        guard let json = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
            let image = json["image"] as? String, !image.isEmpty, let audio = json["audio"] as? String, !audio.isEmpty
        else {
            return envelope(400, code: 400, message: "image and audio are required")
        }
        if let resolution = json["resolution"] as? String, !["480p", "720p"].contains(resolution) {
            return envelope(400, code: 400, message: "resolution must be 480p or 720p")
        }
        let input = json.mapValues { "\($0)" }
        let id = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let options = server.options
        var latency = options.processingTime
        if options.secondsPerVideoSecond > 0 {
            // As long as the clip will be: its audio's length (decoded once more here, only when asked).
            let seconds = resolve(audio).flatMap(FakeWaveSpeedHandler.duration) ?? 1
            latency += .milliseconds(Int((options.secondsPerVideoSecond * seconds * 1000).rounded()))
        }
        let base = server.state.withLockedValue { state -> String in
            let script = state.scripts.isEmpty ? FakeWaveSpeedServer.TaskScript.normal : state.scripts.removeFirst()
            state.tasks[id] = WaveSpeedState.TaskState(
                record: .init(id: id, input: input, status: "created"), index: state.taskOrder.count, script: script,
                readyAt: ContinuousClock.now + latency, createdPollsLeft: options.createdPolls,
                processingPollsLeft: options.processingPolls)
            state.taskOrder.append(id)
            return state.baseURL
        }
        let model = path.split(separator: "/").dropFirst(2).joined(separator: "/")
        return envelope(
            200, code: 200, message: "success",
            data: [
                "id": id, "model": model, "status": "created", "outputs": [] as [String],
                "urls": ["get": "\(base)/api/v3/predictions/\(id)/result"], "error": "",
            ])
    }

    private func result(path: String) async -> Response {
        let id = path.split(separator: "/").map(String.init)[3]
        let now = ContinuousClock.now
        enum Step {
            case report(WaveSpeedState.TaskState)
            case finish(WaveSpeedState.TaskState)
        }
        let step = server.state.withLockedValue { state -> Step? in
            guard var task = state.tasks[id] else { return nil }
            if ["completed", "failed", "cancelled", "timeout", "deleted"].contains(task.record.status) {
                return .report(task)
            }
            if task.createdPollsLeft > 0 {
                task.createdPollsLeft -= 1
                task.record.status = "created"
            } else if task.processingPollsLeft > 0 || now < task.readyAt {
                task.processingPollsLeft = max(0, task.processingPollsLeft - 1)
                task.record.status = "processing"
            } else if task.script.failure != nil {
                task.record.status = "failed"
            } else if let status = task.script.finalStatus {
                task.record.status = status
            } else {
                state.tasks[id] = task
                return .finish(task)
            }
            state.tasks[id] = task
            return .report(task)
        }
        switch step {
        case nil:
            return envelope(404, code: 404, message: "Prediction not found")
        case .report(let task):
            return resultEnvelope(task)
        case .finish(let task):
            do {
                let (clip, frames) = try await render(task)
                let billed = max(server.options.minimumBilledSeconds, (frames + 24) / 25)
                let done = server.state.withLockedValue { state -> WaveSpeedState.TaskState in
                    if state.tasks[id]!.record.status != "completed" {
                        state.tasks[id]!.clip = clip
                        state.tasks[id]!.record.frames = frames
                        state.tasks[id]!.record.billedSeconds = billed
                        state.tasks[id]!.record.status = "completed"
                    }
                    return state.tasks[id]!
                }
                return resultEnvelope(done)
            } catch {
                return envelope(500, code: 500, message: "the fake server could not render the clip: \(error)")
            }
        }
    }

    private func resultEnvelope(_ task: WaveSpeedState.TaskState) -> Response {
        let base = server.state.withLockedValue { $0.baseURL }
        let status = task.record.status
        var data: [String: Any] = [
            "id": task.record.id, "model": "wavespeed-ai/infinitetalk", "status": status, "outputs": [] as [String],
            "error": "",
        ]
        if status == "completed" {
            data["outputs"] = [task.script.videoURL ?? "\(base)/fake-ws-videos/\(task.record.id).mp4"]
        }
        if status == "failed" { data["error"] = task.script.failure ?? "unknown error" }
        return envelope(200, code: 200, message: "success", data: data)
    }

    /// The clip of a finished task and its frame count: the audio's length at 25 fps plus the
    /// script's offset (rendered on a thread of its own, as FakeFal does).
    private func render(_ task: WaveSpeedState.TaskState) async throws -> ([UInt8], Int) {
        let audio = task.record.input["audio"].flatMap { resolve($0) }
        let options = server.options
        let directory = server.workDirectory
        return try await TestThreads.run {
            let seconds = audio.flatMap(FakeWaveSpeedHandler.duration) ?? 1
            let frames = max(1, Int((seconds * Double(FakeClip.frameRate)).rounded()) + task.script.frameOffset)
            if let fixed = options.fixedClip { return (fixed, frames) }
            let clip = try FakeClip.render(
                frames: frames, width: options.clipWidth, height: options.clipHeight,
                clipIndex: task.index, audio: options.clipAudio ? audio : nil, directory: directory)
            return (clip, frames)
        }
    }

    /// The length of an audio file in seconds, nil when it does not decode.
    static func duration(_ bytes: [UInt8]) -> Double? {
        guard let reader = try? AudioReader(data: bytes, name: "uploaded audio", sampleRate: 16_000, channels: 1),
            let samples = try? reader.readAll(), !samples.isEmpty
        else { return nil }
        return Double(samples.count) / 16_000
    }

    // MARK: - Videos

    private func video(path: String, headers: HTTPFields) -> Response {
        let name = path.split(separator: "/").last.map(String.init) ?? ""
        let id = name.hasSuffix(".mp4") ? String(name.dropLast(4)) : name
        guard let clip = server.state.withLockedValue({ $0.tasks[id]?.clip }), !clip.isEmpty else {
            return Response(status: .notFound)
        }
        let etag = "\"\(id)-\(clip.count)\""
        var fields: HTTPFields = [.contentType: "video/mp4", .acceptRanges: "bytes", .eTag: etag]
        // One open-ended range (`bytes=N-`), as the client asks when it resumes.
        if let range = headers[.range], headers[.ifRange].map({ $0 == etag }) ?? true, range.hasPrefix("bytes="),
            range.hasSuffix("-"), let first = Int(range.dropFirst(6).dropLast())
        {
            guard first < clip.count else {
                return Response(status: .rangeNotSatisfiable, headers: [.contentRange: "bytes */\(clip.count)"])
            }
            fields[.contentRange] = "bytes \(first)-\(clip.count - 1)/\(clip.count)"
            return Response(
                status: .partialContent, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: clip[first...])))
        }
        return Response(status: .ok, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: clip)))
    }

    // MARK: - JSON

    private func envelope(
        _ status: Int, code: Int, message: String, data: [String: Any]? = nil, headers: [String: String] = [:]
    ) -> Response {
        var object: [String: Any] = ["code": code, "message": message]
        object["data"] = data ?? NSNull()
        let bytes = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        var fields: HTTPFields = [.contentType: "application/json"]
        for (name, value) in headers { fields[HTTPField.Name(name)!] = value }
        return Response(status: .init(code: status), headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
