import Foundation

/// Keeps a run's live stream (``LiveStream``) up to date: after each finished clip it publishes
/// the stretches the clips from the start now complete, one publication at a time, on the
/// blocking pool (generation goes on meanwhile). Reports the reach as an event and in the work
/// dir (``LiveReach/fileName``).
actor LivePublisher {
    private let stream: LiveStream
    private var playlist: LivePlaylist
    private let store: ManifestStore
    private let workDir: URL
    private let emit: @Sendable (PipelineEvent) -> Void
    /// The publication under way, and whether another was asked for meanwhile.
    private var running: Task<Void, Never>? = nil
    private var again = false
    /// Set when a stretch could not be published: the stream stays as it is.
    private var stopped = false
    private var lastReported: LiveReach? = nil
    /// Why the stitch re-encodes (then the MP4 is made from the stream), or nil.
    private let reencodeReason: String?

    /// Opens the stream of `options.live` for this run (nothing is published yet).
    /// - Throws: ``LiveStreamError`` for a directory that cannot be used.
    init(
        directory: String, plan: Plan, options: StitchOptions, audio: String, runKey: String, store: ManifestStore,
        workDir: URL, emit: @escaping @Sendable (PipelineEvent) -> Void
    ) async throws {
        let job = Hashing.key(["live-v1", runKey, String(describing: options)])
        let scratch = workDir.appendingPathComponent("live-audio.m4a").path
        (stream, playlist) = try await runBlocking {
            try LiveStream.open(directory: directory, plan: plan, options: options, audio: audio, job: job, scratch: scratch)
        }
        reencodeReason = LiveStream.reencodeReason(plan: plan, options: options)
        self.store = store
        self.workDir = workDir
        self.emit = emit
    }

    /// Whether the stitch re-encodes: the stream then encodes the video, and the MP4 is made from it.
    var reencodes: Bool { reencodeReason != nil }

    /// The stream's reach now.
    var reach: LiveReach {
        LiveReach(
            directory: stream.directory, seconds: ModelLimits.seconds(forFrames: playlist.frames),
            totalSeconds: ModelLimits.seconds(forFrames: stream.plan.totalFrames), ended: playlist.ended)
    }

    /// Asks for the stretches the finished clips complete to be published (returns at once).
    func poke() {
        guard running == nil else {
            again = true
            return
        }
        running = Task { await self.publishWhileAsked() }
    }

    private func publishWhileAsked() async {
        repeat {
            again = false
            await publishOnce()
        } while again && !Task.isCancelled
        running = nil
    }

    private func publishOnce() async {
        guard !stopped, !playlist.ended else { return report() }
        let records = await store.manifest.segments.sorted { $0.index < $1.index }
        let clips = records.map { $0.state == .done ? ($0.clipPath ?? "") : "" }
        let prefix = clips.prefix { !$0.isEmpty && FileManager.default.fileExists(atPath: $0) }.count
        let (stream, current) = (self.stream, playlist)
        do {
            playlist = try await runBlocking { try stream.publish(current, clips: clips, prefix: prefix) }
        } catch is CancellationError {
        } catch {
            stopped = true
            emit(.warning("the live stream stops at \(reach.summary.dropFirst(5)): \(error)"))
        }
        report()
    }

    /// Waits for the publication under way, then publishes every stretch the clips complete.
    func catchUp() async {
        // (One publication at a time: a poke while this one waits starts its own, awaited too.)
        while let task = running { await task.value }
        await publishOnce()
    }

    /// The MP4 made from the stream's packets, when the stitch re-encodes and the stream holds
    /// the whole video; nil otherwise (the stitcher makes it from the clips).
    func makeMP4(output: String) async throws -> StitchResult? {
        while let task = running { await task.value }
        guard let reason = reencodeReason, !stopped, playlist.frames == stream.plan.totalFrames else { return nil }
        let (stream, current) = (self.stream, playlist)
        let clips = await store.manifest.segments.sorted { $0.index < $1.index }.map { $0.clipPath ?? "" }
        let result = try await runBlocking { try stream.remux(current, clips: clips, to: output, reason: reason) }
        for warning in result.warnings { emit(.warning(warning)) }
        return result
    }

    /// Closes the playlist: the run is over.
    func close() async {
        while let task = running { await task.value }
        guard !stopped, !playlist.ended else { return }
        let (stream, current) = (self.stream, playlist)
        do {
            playlist = try await runBlocking { try stream.close(current) }
        } catch {
            emit(.warning("the live stream cannot be closed: \(error)"))
        }
        report()
    }

    /// Stops a publication under way (the run stopped); what was published stays.
    func halt() async {
        running?.cancel()
        await running?.value
    }

    private func report() {
        let now = reach
        guard now != lastReported else { return }
        lastReported = now
        emit(.live(now))
        if let data = try? JSONEncoder().encode(now) {
            try? AtomicFile.write(data, to: workDir.appendingPathComponent(LiveReach.fileName).path)
        }
    }
}
