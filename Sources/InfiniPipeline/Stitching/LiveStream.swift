import CFFmpeg
import Foundation

/// An HLS stream of the finished part of a job's video, written while its clips are still being
/// generated: `index.m3u8` (an EVENT playlist), `init.mp4` and one fragmented-MP4 segment per
/// stretch, with the output's audio (AAC) in sync.
///
/// Stretch *k* holds the output frames from the start of the transition window at seam *k* to
/// the start of the window at seam *k* + 1: everything in it is decided once clips 0…*k* exist,
/// so it is published as soon as they do, and never changes. A segment is written first and the
/// playlist rewritten (whole, renamed into place) after it, so a player never reads an entry
/// whose file is not complete.
///
/// The video of a stretch is the clip's own H.264 packets, copied (the copy path's packets, so
/// the stream's frames are the MP4's), or, when the stitch re-encodes (transitions, colour
/// match, burned captions), the stretch encoded with its seam's transition, its clips' colour
/// match and the captions drawn on it; the MP4 is then made from the stream's packets (see
/// `remux`, which adds the soft subtitle track). Every timestamp is moved ``timeOffset`` seconds later, so that no decode time
/// is negative (fragmented MP4 has no edit list to hide a B-frame delay).
struct LiveStream: Sendable {
    /// Seconds every timestamp of the stream is moved by.
    static let timeOffset = 1

    /// The directory the stream is written to.
    let directory: String
    let plan: Plan
    /// The first output frame of each stretch, and the total last.
    let bounds: [Int]
    /// The audio whose packets are copied into the segments (AAC).
    let audioSource: String
    /// When the original is not AAC: how it is encoded to `audioSource` before the first segment.
    let audioEncode: (from: String, as: OutputAudio, bitRate: Int)?
    /// The audio the stream (and an MP4 made from it) carries.
    let outputAudio: OutputAudio
    /// The seams' transitions when the stitch re-encodes; nil when the clips' packets are copied.
    let seams: SeamTransitions?
    /// How a re-encoded stretch is encoded.
    let encoding: (crf: Int, preset: String)
    /// Frames a clip may lack (its last frame is repeated), when the stitch re-encodes.
    let maxPaddedFrames: Int
    /// The colour match and burned captions of a re-encoding stream.
    let looks: LiveLooks
    /// The soft subtitle track an MP4 made from the stream carries.
    let subtitles: SubtitleTrack?

    /// The muxer options of a segment: one fragment, its decode time as given, no edit list.
    static let fragmentOptions = [
        "movflags": "+empty_moov+default_base_moof+frag_custom+frag_discont+skip_trailer",
        "use_editlist": "0", "avoid_negative_ts": "disabled",
    ]

    /// Opens the stream in `directory` (made when missing), or the stream an earlier run of the
    /// same job left there, before anything is generated.
    /// - Parameters:
    ///   - job: a key of the job and the stitch options: a playlist of another one is refused.
    ///   - scratch: where AAC audio is made when the original is not AAC (in the work dir; the
    ///     captions' script is written beside it).
    /// - Returns: the stream and its playlist so far.
    /// - Throws: ``LiveStreamError`` for a directory that cannot be used or holds another job's
    ///   stream; `MediaError` for audio that cannot be made.
    static func open(
        directory: String, plan: Plan, options: StitchOptions, audio: String, job: String, scratch: String
    ) throws -> (LiveStream, LivePlaylist) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw LiveStreamError(.invalidDirectory, file: directory, "the live directory is a file, not a directory")
            }
        } else {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw LiveStreamError(.invalidDirectory, file: directory, "cannot create the live directory")
            }
        }
        guard access(directory, W_OK | X_OK) == 0 else {
            throw LiveStreamError(.invalidDirectory, file: directory, "the live directory is not writable")
        }
        let encoded = reencodeReason(plan: plan, options: options) != nil
        let seams = encoded ? SeamTransitions(plan: plan, options: options) : nil
        // A stretch starts where its seam's window does: a morph's window begins in the clip before.
        let bounds =
            plan.segments.map { segment -> Int in
                guard let seams, case .morph(let before, _) = seams.seams[segment.index] else { return segment.startFrame }
                return segment.startFrame - before
            } + [plan.totalFrames]
        let longest = zip(bounds, bounds.dropFirst()).map { $1 - $0 }.max() ?? 1
        let target = max(1, (longest + ModelLimits.fps - 1) / ModelLimits.fps)

        let playlistPath = (directory as NSString).appendingPathComponent(LivePlaylist.name)
        var playlist = LivePlaylist(job: job, targetDuration: target)
        if FileManager.default.fileExists(atPath: playlistPath) {
            guard let data = FileManager.default.contents(atPath: playlistPath),
                let existing = LivePlaylist.parse(String(decoding: data, as: UTF8.self))
            else {
                throw LiveStreamError(
                    .otherJob, file: playlistPath, "is not a live playlist of this tool: choose another live directory")
            }
            guard existing.job == job else {
                throw LiveStreamError(
                    .otherJob, file: playlistPath,
                    "is the live stream of another job: choose another live directory or empty this one")
            }
            for name in [LivePlaylist.initName] + existing.entries.map(\.uri)
            where !FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent(name)) {
                throw LiveStreamError(
                    .invalidDirectory, file: directory, "\(name), listed in its playlist, is missing: empty the live directory")
            }
            playlist = existing
        }

        // The output's audio: copied when it is AAC, otherwise encoded to AAC once, in the work dir.
        let decided = try OutputAudio.decide(audio: audio, scratchDirectory: directory, bitRate: options.audioBitRate)
        let looks = LiveLooks(
            colorMatch: options.colorMatch, burnedCaptions: options.burnedCaptions,
            scriptPath: ((scratch as NSString).deletingLastPathComponent as NSString)
                .appendingPathComponent("live-captions.ass"))
        func stream(_ source: String, _ encode: (from: String, as: OutputAudio, bitRate: Int)?, _ carried: OutputAudio)
            -> LiveStream
        {
            LiveStream(
                directory: directory, plan: plan, bounds: bounds, audioSource: source, audioEncode: encode,
                outputAudio: carried, seams: seams, encoding: (options.crf, options.preset),
                maxPaddedFrames: options.maxPaddedFrames, looks: looks, subtitles: options.subtitles)
        }
        if decided.codec == "aac" && decided.strategy == .copy { return (stream(audio, nil, decided), playlist) }
        var aac = decided
        if decided.strategy == .copy {
            aac.strategy = .encode
            aac.codec = "aac"
            aac.sampleRate = AudioEncoderSettings.aacRate(forSource: decided.sourceSampleRate)
            aac.channels = AudioEncoderSettings.aacChannelCandidates(forSource: decided.sourceChannels).first ?? 2
        }
        return (stream(scratch, (audio, aac, options.audioBitRate), aac), playlist)
    }

    /// Why the stitch re-encodes, as the stitcher says it (the clips' own obstacles aside), or
    /// nil when the stream copies the clips' packets.
    static func reencodeReason(plan: Plan, options: StitchOptions) -> String? {
        if options.reencode { return "reencode was requested" }
        if options.colorMatch != nil { return "colour matching needs re-encoding" }
        if options.burnedCaptions != nil { return "burned captions need re-encoding" }
        return SeamTransitions.reencodingTransition(plan: plan, options: options).map { "a \($0.rawValue) needs re-encoding" }
    }

    /// Output frames of the stream once clips 0..<`prefix` exist.
    func reach(prefix: Int) -> Int { bounds[min(prefix, plan.segments.count)] }

    func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }

    /// Publishes every stretch that clips 0..<`prefix` complete and `playlist` lacks, each
    /// segment before the playlist that lists it; returns the playlist as written.
    /// - Throws: ``LiveStreamError`` `.cannotPublish` for a clip the stream cannot take (the
    ///   stream then stays as it was); `MediaError` when a file cannot be written.
    func publish(_ playlist: LivePlaylist, clips: [String], prefix: Int) throws -> LivePlaylist {
        var playlist = playlist
        var next = (playlist.entries.last?.stretch ?? -1) + 1
        if next < prefix, let encode = audioEncode, !FileManager.default.fileExists(atPath: audioSource) {
            try AtomicFile.produce(audioSource) { temp in
                _ = try Stitcher.encodeAudio(from: encode.from, to: temp, as: encode.as, bitRate: encode.bitRate, plan: plan)
            }
        }
        while next < min(prefix, plan.segments.count) {
            try BlockingWork.checkCancellation()
            let frames = bounds[next + 1] - bounds[next]
            if frames > 0 {
                try writeSegment(next, clips: clips)
                playlist.entries.append(LivePlaylist.Entry(stretch: next, frames: frames))
                try write(playlist)
            }
            next += 1
        }
        return playlist
    }

    /// Closes the playlist (`#EXT-X-ENDLIST`).
    func close(_ playlist: LivePlaylist) throws -> LivePlaylist {
        var closed = playlist
        closed.ended = true
        try write(closed)
        return closed
    }

    private func write(_ playlist: LivePlaylist) throws {
        try AtomicFile.write(Data(playlist.text.utf8), to: path(LivePlaylist.name))
    }

    /// Writes stretch `index`'s segment: the clip's packets cut to its segment's frames, and the
    /// audio packets that start inside the stretch (all before it for the first, all after it
    /// for the last), as one fragmented MP4 whose `ftyp` and `moov` must be `init.mp4`'s.
    private func writeSegment(_ index: Int, clips: [String]) throws {
        let destination = path(LivePlaylist.segmentName(index))
        let temp = AtomicFile.temporaryPath(for: destination)
        defer { try? FileManager.default.removeItem(atPath: temp) }
        if let seams {
            try encodeSegment(index, clips: clips, seams: seams, to: temp)
        } else {
            try copySegment(index, clip: clips[index], to: temp)
        }
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: temp)))
        let split = Self.mediaStart(bytes)
        guard split > 0, split < bytes.count else {
            throw MediaError(.writeFailed, file: destination, "the segment has no moov box")
        }
        let header = Data(bytes[..<split])
        let initPath = path(LivePlaylist.initName)
        if let existing = FileManager.default.contents(atPath: initPath) {
            guard existing == header else {
                throw LiveStreamError(
                    .cannotPublish, file: clips[index], "the clip for segment \(index) has other codec parameters than the stream"
                )
            }
        } else {
            try AtomicFile.write(header, to: initPath)
        }
        try AtomicFile.write(Data(bytes[split...]), to: destination)
    }

    /// Muxes stretch `index` from the clip's own packets into a fragmented MP4 at `temp`.
    private func copySegment(_ index: Int, clip: String, to temp: String) throws {
        let segment = plan.segments[index]
        let info: ClipInspection
        do {
            info = try ClipInspection.inspect(path: clip)
        } catch let error as MediaError {
            throw LiveStreamError(.cannotPublish, file: clip, "the clip for segment \(index) cannot be read (\(error.reason))")
        }
        func refuse(_ reason: String) -> LiveStreamError {
            LiveStreamError(.cannotPublish, file: clip, "the clip for segment \(index) \(reason)")
        }
        guard info.isModelFrameRate, info.codecName == "h264" else { throw refuse("is not H.264 at 25 fps") }
        guard info.frameCount >= segment.frameCount else { throw refuse("must be padded") }
        if info.frameCount > segment.frameCount, try !Stitcher.tailCutKeepsFramesIdentical(info, keep: segment.frameCount) {
            throw refuse("cannot be cut to its frames without re-encoding")
        }
        try mux(
            segment: segment, info: info, range: bounds[index]..<bounds[index + 1], last: index + 1 == plan.segments.count,
            to: temp)
    }

    /// The offset just past the `moov` box of an MP4 (0 when there is none).
    static func mediaStart(_ bytes: [UInt8]) -> Int {
        var offset = 0
        while offset + 8 <= bytes.count {
            var size = bytes[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            let type = String(decoding: bytes[offset + 4..<offset + 8], as: UTF8.self)
            if size == 1, offset + 16 <= bytes.count { size = bytes[offset + 8..<offset + 16].reduce(0) { $0 << 8 | Int($1) } }
            guard size >= 8 else { return 0 }
            offset += size
            if type == "moov" { return offset }
        }
        return 0
    }

    /// Muxes one stretch into a fragmented MP4 at `temp`.
    private func mux(segment: Plan.Segment, info: ClipInspection, range: Range<Int>, last: Bool, to temp: String) throws {
        let muxer = try Muxer(path: temp, format: "mp4")
        let video = try Demuxer(path: info.path)
        let videoIndex = try video.bestStream(.video).index
        let videoOut = try muxer.addStream(copying: videoIndex, of: video)
        // Each clip's own bit rate would make each segment's moov (its btrt box) differ.
        muxer.context?.pointee.streams[videoOut]?.pointee.codecpar.pointee.bit_rate = 0
        let audio = try Demuxer(path: audioSource)
        let audioIndex = try audio.bestStream(.audio).index
        let audioOut = try muxer.addStream(copying: audioIndex, of: audio)
        try muxer.writeHeader(options: Self.fragmentOptions)
        let fps = AVRational(num: 1, den: Int32(ModelLimits.fps))
        let packet = try Packet()

        // The video: the clip's first frameCount frames in presentation order, moved to the
        // segment's place in the output and the stream's offset.
        let tb = info.timeBase.av
        let sorted = info.sortedPTS
        let limit = segment.frameCount < sorted.count ? sorted[segment.frameCount] : Int64.max
        let shift =
            av_rescale_q(Int64(segment.startFrame), fps, tb) - sorted[0]
            + av_rescale_q(Int64(Self.timeOffset), AVRational(num: 1, den: 1), tb)
        let frameDuration = av_rescale_q(1, fps, tb)
        var written = 0
        while try video.read(into: packet) {
            let p = packet.pointer
            guard Int(p.pointee.stream_index) == videoIndex, p.pointee.pts != FFmpeg.noPTS, p.pointee.pts < limit else {
                continue
            }
            p.pointee.pts += shift
            p.pointee.dts = p.pointee.dts == FFmpeg.noPTS ? p.pointee.pts : p.pointee.dts + shift
            p.pointee.duration = frameDuration
            try muxer.write(packet, stream: videoOut, timeBase: tb)
            written += 1
        }
        guard written == range.count else {
            throw LiveStreamError(
                .cannotPublish, file: info.path,
                "the clip for segment \(segment.index) gave \(written) frames, not \(range.count)")
        }

        try copyAudio(audio, index: audioIndex, into: muxer, stream: audioOut, range: range, last: last)
        try muxer.finish()
    }

    /// Copies the audio packets that start inside the stretch `range` (all before it for the
    /// first, all after it for the last), moved by the stream's offset.
    func copyAudio(
        _ audio: Demuxer, index audioIndex: Int, into muxer: Muxer, stream audioOut: Int, range: Range<Int>, last: Bool
    )
        throws
    {
        let packet = try Packet()
        let atb = audio.avStream(audioIndex).pointee.time_base
        let start = Double(range.lowerBound) / Double(ModelLimits.fps)
        let end = Double(range.upperBound) / Double(ModelLimits.fps)
        if range.lowerBound > 0 { try audio.seek(stream: audioIndex, to: max(0, start - 1)) }
        let audioShift = av_rescale_q(Int64(Self.timeOffset), AVRational(num: 1, den: 1), atb)
        while try audio.read(into: packet) {
            let p = packet.pointer
            guard Int(p.pointee.stream_index) == audioIndex, p.pointee.pts != FFmpeg.noPTS else { continue }
            let seconds = Double(p.pointee.pts) * Double(atb.num) / Double(atb.den)
            if range.lowerBound > 0 && seconds < start { continue }
            if !last && seconds >= end { break }
            p.pointee.pts += audioShift
            p.pointee.dts = p.pointee.dts == FFmpeg.noPTS ? p.pointee.pts : p.pointee.dts + audioShift
            try muxer.write(packet, stream: audioOut, timeBase: atb)
        }
    }
}
