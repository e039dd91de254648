import CFFmpeg
import Foundation

// The live stream of a stitch that re-encodes (transitions, zoom, colour match, burned captions,
// `reencode`): each stretch decoded with its seam's transition and its clips' colour match, the
// captions drawn at the frames' output times, and encoded by an encoder of its own (so it
// starts with a key frame); the MP4 is made from the stream's packets at the end (with the soft
// subtitle track), so that the frames are encoded once and the MP4's frames are the stream's.

extension LiveStream {
    /// Encodes stretch `index` (the previous clip decoded too, for the seam's transition) and
    /// muxes it with its audio into a fragmented MP4 at `temp`.
    func encodeSegment(_ index: Int, clips: [String], seams: SeamTransitions, to temp: String) throws {
        let segment = plan.segments[index]
        let info: ClipInspection
        do {
            info = try ClipInspection.inspect(path: clips[index])
        } catch let error as MediaError {
            throw LiveStreamError(
                .cannotPublish, file: clips[index], "the clip for segment \(index) cannot be read (\(error.reason))")
        }
        guard info.isModelFrameRate, segment.frameCount - info.frameCount <= maxPaddedFrames else {
            throw LiveStreamError(
                .cannotPublish, file: clips[index],
                "the clip for segment \(index) is not at 25 fps or has \(info.frameCount) frames, not \(segment.frameCount)")
        }
        let range = bounds[index]..<bounds[index + 1]
        let first = max(0, index - 1)
        let jobs = plan.segments[first...index].map { (segment: $0.index, frames: $0.frameCount, clip: clips[$0.index]) }
        // The colour plans are made at the plan's positions (the stretch before made its first clip's).
        let colorMatch: (match: StitchColorMatch, reports: ColorMatchReports)? = try looks.match(
            plan: plan, width: info.width, height: info.height
        ).map {
            ($0, looks.reports(stretch: index, first: first))
        }
        let captions = try looks.captionScript(width: info.width, height: info.height)

        let muxer = try Muxer(path: temp, format: "mp4")
        let encoder = try VideoEncoder(
            VideoEncoderSettings(
                width: info.width, height: info.height, frameRate: ModelLimits.fps, crf: encoding.crf,
                preset: encoding.preset),
            globalHeader: muxer.wantsGlobalHeader)
        let videoOut = try muxer.addStream(encoder: encoder)
        let audio = try Demuxer(path: audioSource)
        let audioIndex = try audio.bestStream(.audio).index
        let audioOut = try muxer.addStream(copying: audioIndex, of: audio)
        try muxer.writeHeader(options: Self.fragmentOptions)
        let tb = encoder.timeBase
        let written = try Stitcher.encodeStretch(
            jobs: jobs, offset: first, primed: index > 0, seams: seams, colorMatch: colorMatch, captions: captions,
            encoder: encoder, firstFrame: Int64(range.lowerBound), shift: Int64(Self.timeOffset * ModelLimits.fps)
        ) { packet in try muxer.write(packet, stream: videoOut, timeBase: tb) }
        guard written == range.count else {
            throw LiveStreamError(
                .cannotPublish, file: clips[index], "stretch \(index) gave \(written) frames, not \(range.count)")
        }
        if let colorMatch { looks.record(colorMatch.reports, stretch: index) }
        try copyAudio(
            audio, index: audioIndex, into: muxer, stream: audioOut, range: range, last: index + 1 == plan.segments.count)
        try muxer.finish()
    }

    /// Writes the MP4 at `output` from the stream's packets (its init segment and every
    /// segment of `playlist`), with the stream's time offset taken off again, and the soft
    /// subtitle track. The colour reports are the stretches' (a clip whose stretch an earlier
    /// run published is measured again: its plan is a function of the clip and the portrait).
    func remux(_ playlist: LivePlaylist, clips: [String], to output: String, reason: String) throws -> StitchResult {
        try FileChecks.requireReplaceableFile(output)
        let joined = AtomicFile.temporaryPath(for: output) + ".m4s"
        defer { try? FileManager.default.removeItem(atPath: joined) }
        guard FileManager.default.createFile(atPath: joined, contents: nil), let handle = FileHandle(forWritingAtPath: joined)
        else { throw MediaError(.writeFailed, file: joined, "cannot create the file") }
        do {
            for name in [LivePlaylist.initName] + playlist.entries.map(\.uri) {
                try handle.write(contentsOf: try Data(contentsOf: URL(fileURLWithPath: path(name))))
            }
            try handle.close()
        } catch {
            try? handle.close()
            throw MediaError(.writeFailed, file: joined, "cannot join the live segments (\(error))")
        }
        let demuxer = try Demuxer(path: joined)
        let video = try demuxer.bestStream(.video)
        var frames = 0
        try AtomicFile.produce(output) { temp in
            let muxer = try Muxer(path: temp, format: "mp4")
            let streams = [video.index, try demuxer.bestStream(.audio).index]
            let outs = try streams.map { try muxer.addStream(copying: $0, of: demuxer) }
            let subtitleOut = try subtitles.map { try muxer.addSubtitleStream(language: $0.languageTag) }
            try muxer.writeHeader(fastStart: true)
            // As the stitcher does: every cue queued now, interleaved by the muxer.
            if let subtitles, let subtitleOut {
                for cue in subtitles.cues(within: ModelLimits.seconds(forFrames: plan.totalFrames)) {
                    try muxer.writeSubtitle(cue.text, start: cue.start, end: cue.end, stream: subtitleOut)
                }
            }
            let packet = try Packet()
            while try demuxer.read(into: packet) {
                let p = packet.pointer
                guard let at = streams.firstIndex(of: Int(p.pointee.stream_index)) else { continue }
                let tb = demuxer.avStream(streams[at]).pointee.time_base
                let shift = av_rescale_q(Int64(Self.timeOffset), AVRational(num: 1, den: 1), tb)
                if p.pointee.pts != FFmpeg.noPTS { p.pointee.pts -= shift }
                if p.pointee.dts != FFmpeg.noPTS { p.pointee.dts -= shift }
                if at == 0 { frames += 1 }
                try muxer.write(packet, stream: outs[at], timeBase: tb)
            }
            guard frames == plan.totalFrames else {
                throw MediaError(.writeFailed, file: temp, "the live stream holds \(frames) frames, not \(plan.totalFrames)")
            }
            try muxer.finish()
        }
        let reports = try colorReports(clips: clips, width: video.width, height: video.height)
        return StitchResult(
            output: output, totalFrames: frames, videoPath: .reencode, reencodeReason: reason, audio: outputAudio,
            width: video.width, height: video.height,
            warnings: reports.compactMap { r in r.note.map { "clip for segment \(r.segment) \($0)" } }, colorMatch: reports)
    }

    /// One colour report per clip in segment order (none without a colour match): the
    /// stretches', and the others measured now.
    private func colorReports(clips: [String], width: Int, height: Int) throws -> [ColorMatchReport] {
        guard let match = try looks.match(plan: plan, width: width, height: height) else { return [] }
        let kept = looks.kept
        return try plan.segments.map { segment in
            if let report = kept[segment.index] { return report }
            return try match.plan(
                clip: clips[segment.index], segment: segment.index, position: segment.index, frames: segment.frameCount
            ).report
        }
    }
}

extension Stitcher {
    /// Decodes `jobs` with their seams' transitions and colour match (the first only primes
    /// the seam after it when `primed`), draws the captions of the script `captions` on the
    /// frames handed over (output frames from `firstFrame`), and encodes them numbered from
    /// `firstFrame + shift`; returns how many were encoded. The decoding runs on a thread of
    /// its own, as in `reencodeVideo`.
    static func encodeStretch(
        jobs: [(segment: Int, frames: Int, clip: String)], offset: Int, primed: Bool, seams: SeamTransitions,
        colorMatch: (match: StitchColorMatch, reports: ColorMatchReports)?, captions: String?,
        encoder: VideoEncoder, firstFrame: Int64, shift: Int64, sink: (Packet) throws -> Void
    ) throws -> Int {
        let handoff = FrameHandoff(capacity: 8)
        let decoded = DispatchSemaphore(value: 0)
        let cancellation = BlockingWork.currentFlag
        Thread.detachNewThread {
            defer { decoded.signal() }
            do {
                try BlockingWork.run(with: cancellation) {
                    try decodeClips(jobs, seams: seams, colorMatch: colorMatch, into: handoff, offset: offset, primed: primed)
                }
                handoff.finish(error: nil)
            } catch {
                handoff.finish(error: error)
            }
        }
        defer {
            handoff.cancel()
            decoded.wait()
        }
        var index = firstFrame
        var burner: CaptionBurner? = nil
        while let frame = try handoff.take() {
            if index % Int64(ModelLimits.fps) == 0 { try BlockingWork.checkCancellation() }
            if let captions {
                // As in the whole stitch: after every transition, at the frame's time in the output.
                burner = try CaptionBurner.reusing(burner, for: frame, scriptFile: captions)
                let burned = try burner!.burn(frame, index: index)
                try withExtendedLifetime(burned) { try encoder.encode(avFrame: burned.pointer, index: index + shift, sink) }
            } else {
                try encoder.encode(avFrame: frame.pointer, index: index + shift, sink)
            }
            index += 1
        }
        try encoder.finish(sink)
        return Int(index - firstFrame)
    }
}
