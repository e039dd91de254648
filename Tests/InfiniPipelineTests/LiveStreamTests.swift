import FakeFal
import Foundation
import Testing

@testable import InfiniPipeline
@testable import InfiniStitchCLI

#if canImport(Glibc)
import Glibc
#endif

extension Serial {
    /// `--live DIR`: the HLS stream of the finished part of the video, against the fake fal
    /// server with clips finishing out of order.
    @Suite("live stream", .ownThreads)
    struct LiveStreamTests {
        /// Options for a fal run against `server`'s URL, in `dir`, with short segments (several
        /// seams) and hard cuts.
        static func options(_ dir: TempDir, url: URL, live: String = "live") -> PipelineOptions {
            var o = PipelineTests.options(dir)
            o.backend = .fal
            o.queueURL = url.absoluteString
            o.restURL = url.absoluteString
            o.credentials = try? FalCredentials(key: "fake-live-key-0123456789")
            o.maxFrames = 41
            o.concurrency = 2
            o.maxAttempts = 1
            o.live = dir.path(live)
            return o
        }

        /// Records every distinct text of `path` while the run goes on.
        final class Snapshots: @unchecked Sendable {
            private let lock = NSLock()
            private var texts: [String] = []
            var all: [String] { lock.withLock { texts } }
            func watch(_ path: String) -> Task<Void, Never> {
                Task.detached { [self] in
                    while !Task.isCancelled {
                        if let data = FileManager.default.contents(atPath: path) {
                            let text = String(decoding: data, as: UTF8.self)
                            lock.withLock { if texts.last != text { texts.append(text) } }
                        }
                        try? await Task.sleep(for: .milliseconds(5))
                    }
                }
            }
        }

        /// What a file's streams hold: video packets (count, hash of their bytes), audio packets'
        /// hash, and the first timestamps.
        struct Streams: Equatable {
            var videoPackets = 0
            var videoHash = 0
            var audioHash = 0
            var firstVideo = Double.infinity
            var firstAudio = Double.infinity
            var lastAudioEnd = 0.0
        }

        static func streams(_ path: String) throws -> Streams {
            let demuxer = try Demuxer(path: path)
            let video = try demuxer.bestStream(.video).index, audio = try demuxer.bestStream(.audio).index
            var result = Streams()
            var videoHasher = Hasher(), audioHasher = Hasher()
            let packet = try Packet()
            while try demuxer.read(into: packet) {
                let p = packet.pointer.pointee
                let tb = demuxer.avStream(Int(p.stream_index)).pointee.time_base
                let seconds = Double(p.pts) * Double(tb.num) / Double(tb.den)
                let bytes = UnsafeRawBufferPointer(start: p.data, count: Int(p.size))
                if Int(p.stream_index) == video {
                    result.videoPackets += 1
                    videoHasher.combine(bytes: bytes)
                    result.firstVideo = min(result.firstVideo, seconds)
                } else if Int(p.stream_index) == audio {
                    audioHasher.combine(bytes: bytes)
                    result.firstAudio = min(result.firstAudio, seconds)
                    result.lastAudioEnd = max(
                        result.lastAudioEnd, seconds + Double(p.duration) * Double(tb.num) / Double(tb.den))
                }
                packet.unref()
            }
            result.videoHash = videoHasher.finalize()
            result.audioHash = audioHasher.finalize()
            return result
        }

        /// `source` encoded to AAC in an M4A at `path`.
        static func aac(_ source: String, to path: String) throws -> String {
            let reader = try AudioReader(path: source, sampleRate: 44_100, channels: 1)
            let writer = try MP4Writer(
                path: path, video: nil, audio: AudioEncoderSettings(sampleRate: 44_100, channels: 1, bitRate: 96_000))
            _ = try reader.read { try writer.append(audio: $0) }
            try writer.finish()
            return path
        }

        /// The stream's init segment followed by `segments`, as one fragmented MP4 file.
        static func joined(_ live: String, _ segments: [String], to path: String) throws -> String {
            var data = try Data(contentsOf: URL(fileURLWithPath: live + "/" + LivePlaylist.initName))
            for name in segments { data += try Data(contentsOf: URL(fileURLWithPath: live + "/" + name)) }
            try data.write(to: URL(fileURLWithPath: path))
            return path
        }

        @Test(.timeLimit(.minutes(3))) func playlistGrowsAndEndsAsTheMP4() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let server = FakeFalServer()
            let url = try await server.start()
            // Each pair's first request takes longer than its second: clips finish out of order.
            server.script(
                (0..<8).map { FakeFalServer.GenerationScript(processingTime: .milliseconds($0 % 2 == 0 ? 700 : 50)) })
            var o = Self.options(dir, url: url)
            // AAC audio: the MP4 copies it, and so does the stream (an MP3 is encoded to AAC for it).
            o.audio = try Self.aac(Fixture.path("speech.mp3"), to: dir.path("speech.m4a"))
            let live = dir.path("live"), playlistPath = live + "/index.m3u8"
            let snapshots = Snapshots()
            let watcher = snapshots.watch(playlistPath)
            let outcome: Result<(summary: PipelineSummary, events: [PipelineEvent]), any Error>
            do { outcome = .success(try await runCollectingEvents(Pipeline(options: o))) } catch { outcome = .failure(error) }
            watcher.cancel()
            await watcher.value
            await server.stop()
            let (summary, events) = try outcome.get()
            let plan = try #require(
                events.compactMap { if case .plan(let p) = $0 { return p } else { return nil } }.first)
            #expect(plan.segments.count >= 4, "the test needs several seams")
            let warnings = events.compactMap { if case .warning(let w) = $0 { return w } else { return nil } }
            #expect(!warnings.contains { $0.contains("live") }, "\(warnings)")

            // The playlist only grew: every text is a prefix of the next, and the last is closed.
            let texts = snapshots.all + [try String(contentsOfFile: playlistPath, encoding: .utf8)]
            for (earlier, later) in zip(texts, texts.dropFirst()) { #expect(later.hasPrefix(earlier)) }
            let final = try #require(LivePlaylist.parse(texts.last!))
            #expect(final.ended && texts.last!.hasSuffix("#EXT-X-ENDLIST\n"))
            for tag in ["#EXT-X-PLAYLIST-TYPE:EVENT", "#EXT-X-INDEPENDENT-SEGMENTS", "#EXT-X-MAP:URI=\"init.mp4\""] {
                #expect(texts.last!.contains(tag))
            }
            #expect(final.frames == plan.totalFrames)
            #expect(final.entries.map(\.stretch) == plan.segments.map(\.index))

            // It was published while clips were still being generated, and the events say how far.
            let reaches = events.compactMap { if case .live(let r) = $0 { return r } else { return nil } }
            let stitching = try #require(events.firstIndex(of: .stage(.stitching)))
            let early = events[..<stitching].compactMap { if case .live(let r) = $0 { return r } else { return nil } }
            #expect(early.contains { $0.seconds > 0 && $0.seconds < $0.totalSeconds }, "\(reaches)")
            #expect(zip(reaches, reaches.dropFirst()).allSatisfy { $0.seconds <= $1.seconds })
            #expect(reaches.last?.ended == true)
            let seconds = plan.totalFrames / ModelLimits.fps
            #expect(reaches.last?.summary == String(format: "live 00:00:%02d of 00:00:%02d, ended", seconds, seconds))
            #expect(try JobStatus.read(workDir: URL(fileURLWithPath: dir.path("work"))).live == reaches.last)

            // Every segment decodes on its own (after the init segment), with its frames.
            for entry in final.entries {
                let file = try Self.joined(live, [entry.uri], to: dir.path("one.mp4"))
                #expect(try VideoReader(path: file).countFrames() == entry.frames, "\(entry.uri)")
            }
            // The whole stream holds the MP4's frames: the same video packets, the same audio.
            let whole = try Self.joined(live, final.entries.map(\.uri), to: dir.path("whole.mp4"))
            #expect(try VideoReader(path: whole).countFrames() == plan.totalFrames)
            let stream = try Self.streams(whole), mp4 = try Self.streams(try #require(summary.output))
            #expect(stream.videoPackets == plan.totalFrames && mp4.videoPackets == plan.totalFrames)
            #expect(stream.videoHash == mp4.videoHash)
            #expect(stream.audioHash == mp4.audioHash)
            // In sync: the audio starts with the video (both moved by the stream's offset) and
            // lasts as long (within the end padding of its last AAC frame, which the MP4's edit
            // list trims and a fragment does not).
            #expect(abs((stream.firstAudio - stream.firstVideo) - (mp4.firstAudio - mp4.firstVideo)) < 0.001)
            #expect(abs(stream.firstVideo - Double(LiveStream.timeOffset)) < 0.001)
            #expect(abs((stream.lastAudioEnd - stream.firstVideo) - (mp4.lastAudioEnd - mp4.firstVideo)) < 1024.0 / 44_100)
            // A player of HLS reads it whole, when the ffmpeg tool is installed.
            if final.ended, FileManager.default.isExecutableFile(atPath: "/usr/bin/ffprobe") {
                let probe = try runProcess(
                    "/usr/bin/ffprobe",
                    [
                        "-v", "error", "-select_streams", "v", "-count_frames", "-show_entries", "stream=nb_read_frames",
                        "-of", "csv=p=0", playlistPath,
                    ], timeout: .seconds(60))
                #expect(probe.status == 0)
                // (The HLS demuxer lists the stream once per program.)
                let counts = String(decoding: probe.stdout, as: UTF8.self).split(separator: "\n").map(String.init)
                #expect(counts.first == "\(plan.totalFrames)", "\(counts)")
            }
        }

        @Test(.timeLimit(.minutes(3))) func morphedSeamsAreEncodedOnceByTheStream() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let server = FakeFalServer()
            let url = try await server.start()
            server.script(
                (0..<8).map { FakeFalServer.GenerationScript(processingTime: .milliseconds($0 % 2 == 0 ? 700 : 50)) })
            var o = Self.options(dir, url: url)
            o.stitch = StitchOptions(transition: .morph)  // the default: the stitch re-encodes
            let live = dir.path("live"), playlistPath = live + "/index.m3u8"
            let snapshots = Snapshots()
            let watcher = snapshots.watch(playlistPath)
            let outcome: Result<(summary: PipelineSummary, events: [PipelineEvent]), any Error>
            do { outcome = .success(try await runCollectingEvents(Pipeline(options: o))) } catch { outcome = .failure(error) }
            watcher.cancel()
            await watcher.value
            await server.stop()
            let (summary, events) = try outcome.get()
            let plan = try #require(
                events.compactMap { if case .plan(let p) = $0 { return p } else { return nil } }.first)
            let seams = SeamTransitions(plan: plan, options: o.stitch)
            #expect(seams.seams.contains { if case .morph = $0 { return true } else { return false } }, "no seam is morphed")
            let warnings = events.compactMap { if case .warning(let w) = $0 { return w } else { return nil } }
            #expect(!warnings.contains { $0.contains("live") }, "\(warnings)")
            #expect(summary.videoPath == "reencode")

            let texts = snapshots.all + [try String(contentsOfFile: playlistPath, encoding: .utf8)]
            for (earlier, later) in zip(texts, texts.dropFirst()) { #expect(later.hasPrefix(earlier)) }
            let final = try #require(LivePlaylist.parse(texts.last!))
            #expect(final.ended && final.frames == plan.totalFrames)
            // A stretch ends where the next seam's window starts.
            for (entry, next) in zip(final.entries, plan.segments.dropFirst()) {
                if case .morph(let before, _) = seams.seams[next.index], before > 0 {
                    #expect(
                        final.entries.prefix { $0.stretch <= entry.stretch }.reduce(0) { $0 + $1.frames } == next.startFrame
                            - before)
                }
            }
            for entry in final.entries {
                let file = try Self.joined(live, [entry.uri], to: dir.path("one.mp4"))
                #expect(try VideoReader(path: file).countFrames() == entry.frames, "\(entry.uri)")
            }
            // The MP4 is the stream's packets: encoded once.
            let whole = try Self.joined(live, final.entries.map(\.uri), to: dir.path("whole.mp4"))
            let stream = try Self.streams(whole), mp4 = try Self.streams(try #require(summary.output))
            #expect(try VideoReader(path: try #require(summary.output)).countFrames() == plan.totalFrames)
            #expect(stream.videoPackets == plan.totalFrames && stream.videoHash == mp4.videoHash)
            #expect(stream.audioHash == mp4.audioHash)
            #expect(abs(mp4.firstVideo) < 0.001 && abs(stream.firstVideo - Double(LiveStream.timeOffset)) < 0.001)
            #expect(abs((stream.firstAudio - stream.firstVideo) - (mp4.firstAudio - mp4.firstVideo)) < 0.001)

            // Its pictures are the whole stitch's (the seams' windows decoded from the same frames),
            // within what two encodes of the same pictures differ by.
            let clips = plan.segments.map { Manifest.clipPath($0.index, workDir: URL(fileURLWithPath: dir.path("work"))) }
            _ = try await Stitcher.stitch(
                plan: plan, clips: clips, audio: o.audio, output: dir.path("reference.mp4"), options: o.stitch)
            let made = try VideoReader(path: try #require(summary.output))
            let reference = try VideoReader(path: dir.path("reference.mp4"))
            var worst = 0.0, compared = 0
            while let a = try made.nextFrame(), let b = try reference.nextFrame() {
                let difference = zip(a.planes[0], b.planes[0]).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }
                worst = max(worst, Double(difference) / Double(a.planes[0].count))
                compared += 1
            }
            #expect(compared == plan.totalFrames)
            #expect(worst < 4, "a frame differs from the whole stitch's by \(worst) levels on average")
        }

        @Test(.timeLimit(.minutes(3))) func resumedRunContinuesThePlaylist() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let server = FakeFalServer()
            let url = try await server.start()
            defer { Task { await server.stop() } }
            // The fifth request fails: the first run stops with a prefix published.
            server.script(
                (0..<4).map { _ in FakeFalServer.GenerationScript(processingTime: .milliseconds(50)) } + [.failing()])
            let o = Self.options(dir, url: url)
            let live = dir.path("live"), playlistPath = live + "/index.m3u8"
            await #expect(throws: PipelineError.self) { _ = try await Pipeline(options: o).run() }
            let first = try String(contentsOfFile: playlistPath, encoding: .utf8)
            let published = try #require(LivePlaylist.parse(first))
            #expect(!published.ended && !published.entries.isEmpty)
            let bytes = try published.entries.map { try Data(contentsOf: URL(fileURLWithPath: live + "/" + $0.uri)) }

            let summary = try await Pipeline(options: o).run()
            let second = try String(contentsOfFile: playlistPath, encoding: .utf8)
            #expect(second.hasPrefix(first))
            let final = try #require(LivePlaylist.parse(second))
            #expect(final.ended && final.frames == summary.frames)
            for (entry, data) in zip(published.entries, bytes) {
                #expect(try Data(contentsOf: URL(fileURLWithPath: live + "/" + entry.uri)) == data, "\(entry.uri) changed")
            }
            let whole = try Self.joined(live, final.entries.map(\.uri), to: dir.path("whole.mp4"))
            #expect(try Self.streams(whole).videoHash == (try Self.streams(try #require(summary.output))).videoHash)

            // Another job's run refuses the directory, before any request.
            let submits = server.requests(to: .submit).count
            var other = Self.options(dir, url: url)
            other.workDir = dir.path("work-other")
            other.seed = 7
            other.output = dir.path("other.mp4")
            let error = await #expect(throws: PipelineError.self) { _ = try await Pipeline(options: other).run() }
            #expect(error?.description.contains("another job") == true, "\(String(describing: error))")
            #expect(server.requests(to: .submit).count == submits)
            #expect(!FileManager.default.fileExists(atPath: dir.path("other.mp4")))
        }

        @Test(.timeLimit(.minutes(3))) func theCommandReportsTheReach() async throws {
            try await FalPipelineTests.withServer { run in
                // The default transition (morph): the stream encodes, the MP4 is remuxed from it.
                let result = try run.run(["--live", run.dir.path("live"), "--json", "--max-frames", "81"])
                #expect(result.status == 0, "\(result.stderr)")
                let lines = result.stdout.split(separator: "\n").filter { $0.contains("\"event\":\"live\"") }
                let reaches = try lines.map { try JSONDecoder().decode(LiveReach.self, from: Data($0.utf8)) }
                #expect(reaches.last?.ended == true && reaches.last?.seconds == reaches.last?.totalSeconds, "\(lines)")
                #expect(reaches.last?.directory == run.dir.path("live"))
                let status = try runProcess(infinistitchBinary, ["status", run.dir.path("work")], environment: run.environment)
                let text = String(decoding: status.stdout, as: UTF8.self)
                let summary = try #require(reaches.last?.summary)
                #expect(status.status == 0 && text.contains("live       \(summary) in \(run.dir.path("live"))"), "\(text)")
                try FalPipelineTests.expectKeyNeverLeaks(run, [result.stdout, result.stderr, text])
            }
        }

        @Test(.timeLimit(.minutes(2))) func unusableDirectoryIsRefusedBeforeAnyRequest() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let server = FakeFalServer()
            let url = try await server.start()
            defer { Task { await server.stop() } }
            #expect(FileManager.default.createFile(atPath: dir.path("file"), contents: Data("x".utf8)))
            var cases = ["file": "is a file, not a directory"]
            // Root may write anywhere: a read-only directory only stops other users.
            if getuid() != 0 {
                try FileManager.default.createDirectory(atPath: dir.path("locked"), withIntermediateDirectories: true)
                chmod(dir.path("locked"), 0o500)
                cases["locked"] = "not writable"
            }
            for (name, reason) in cases {
                var o = Self.options(dir, url: url, live: name)
                o.workDir = dir.path("work-\(name)")
                let error = await #expect(throws: PipelineError.self) { _ = try await Pipeline(options: o).run() }
                let line = error?.description ?? ""
                #expect(line.contains(dir.path(name)) && line.contains(reason) && !line.contains("\n"), "\(line)")
                #expect(error.map { ErrorReport.exitCode(for: $0) } == 2)
            }
            #expect(server.requests(to: .submit).isEmpty && server.requests(to: .upload).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: dir.path("out.mp4")))
            chmod(dir.path("locked"), 0o700)
        }
    }
}
