import CFFmpeg
import Foundation

/// How to stitch.
public struct StitchOptions: Sendable, Equatable {
    /// Re-encode the video even when the clips could be joined losslessly.
    public var reencode: Bool
    /// x264 CRF for the re-encode path (0…51).
    public var crf: Int
    /// x264 preset for the re-encode path.
    public var preset: String
    /// AAC bit rate when the original audio is neither AAC nor MP3 and must be encoded.
    public var audioBitRate: Int
    /// Frames blended across each seam (re-encode path; 0 = hard cut).
    public var crossfadeFrames: Int
    /// A clip short by at most this many frames is padded by repeating its last frame.
    public var maxPaddedFrames: Int

    /// Options; the defaults are the command line's.
    public init(reencode: Bool = false, crf: Int = 18, preset: String = "veryfast", audioBitRate: Int = 192_000,
                crossfadeFrames: Int = 0, maxPaddedFrames: Int = 2) {
        self.reencode = reencode
        self.crf = crf
        self.preset = preset
        self.audioBitRate = audioBitRate
        self.crossfadeFrames = crossfadeFrames
        self.maxPaddedFrames = maxPaddedFrames
    }
}

/// What a stitch produced.
public struct StitchResult: Sendable, Equatable {
    /// How the video was made.
    public enum VideoPath: String, Sendable, Codable {
        /// Packets copied from the clips, no re-encoding.
        case copy
        /// Decoded and encoded again with libx264.
        case reencode
    }

    /// The output file.
    public var output: String
    /// Video frames in the output (always the plan's `totalFrames`).
    public var totalFrames: Int
    /// Copy or re-encode.
    public var videoPath: VideoPath
    /// Why the copy path was not taken, when it was not.
    public var reencodeReason: String?
    /// How the output carries the audio (see ``OutputAudio``).
    public var audio: OutputAudio
    /// Whether the original audio packets were copied (AAC or MP3) rather than encoded.
    public var audioCopied: Bool { audio.strategy == .copy }
    /// Output frame size.
    public var width: Int
    /// Output frame size.
    public var height: Int
    /// Warnings (e.g. padded clips), one line each.
    public var warnings: [String]
}

/// Joins one clip per plan segment into one MP4 with exactly `plan.totalFrames` frames at
/// 25 fps, and the original audio, whole and from its start, in sync with frame 0.
///
/// Output frames `[startFrame, startFrame + frameCount)` are clip *i*'s first `frameCount`
/// frames, in order. The clips' own audio is never used (the model's copy is resampled and
/// loudness-normalised). The MP4 has its moov atom in front and is written to a temporary file
/// beside `output`, renamed at the end: after an error nothing is left at `output`.
public enum Stitcher {
    /// Stitches. Blocking: call it off the cooperative pool (see `runBlocking`).
    /// - Parameters:
    ///   - plan: the plan the clips were generated for.
    ///   - clips: one clip path per segment, in segment order.
    ///   - audio: the original audio file (or a video carrying it).
    ///   - output: the MP4 to write.
    /// - Throws: `ClipError` naming the segment and clip when a clip is unusable (the
    ///   pipeline re-requests it); `MediaError` for the audio or the output.
    public static func stitch(plan: Plan, clips: [String], audio: String, output: String,
                              options: StitchOptions = StitchOptions(),
                              warning: (String) -> Void = { _ in }) throws -> StitchResult {
        // A plan built in code gets the same checks as one read from a file (no trap on a
        // negative or huge frame count).
        _ = try plan.checkedSegments()
        try FileChecks.requireReplaceableFile(output)
        guard clips.count == plan.segments.count else {
            throw MediaError(.misuse, file: nil, "the plan has \(plan.segments.count) segments but \(clips.count) clips were given")
        }
        guard (0...51).contains(options.crf) else { throw MediaError(.misuse, file: nil, "--crf \(options.crf) is outside 0…51") }
        guard options.crossfadeFrames >= 0 else {
            throw MediaError(.misuse, file: nil, "--crossfade \(options.crossfadeFrames) must not be negative")
        }
        var warnings: [String] = []
        func warn(_ text: String) {
            warnings.append(text)
            warning(text)
        }

        // 1. Inspect every clip before writing anything (several at a time: each is a read of
        //    the whole file and one decoded frame); problems are reported in segment order.
        let inspected = ClipInspection.inspectAll(paths: clips)
        var inspections: [ClipInspection] = []
        for (segment, (path, result)) in zip(plan.segments, zip(clips, inspected)) {
            let info: ClipInspection
            switch result {
            case .success(let value): info = value
            case .failure(let error): throw ClipError(segment: segment.index, clip: path, reason: error.reason)
            }
            guard info.isModelFrameRate else {
                throw ClipError(segment: segment.index, clip: path,
                                reason: String(format: "runs at %.3f fps, not %d", info.frameRate.value, ModelLimits.fps))
            }
            if let first = inspections.first, first.width != info.width || first.height != info.height {
                throw ClipError(segment: segment.index, clip: path,
                                reason: "is \(info.width)x\(info.height) but the clip for segment 0 is \(first.width)x\(first.height)")
            }
            let missing = segment.frameCount - info.frameCount
            if missing > options.maxPaddedFrames {
                throw ClipError(segment: segment.index, clip: path,
                                reason: "has \(info.frameCount) frames, needs \(segment.frameCount)")
            }
            if missing > 0 {
                warn("clip for segment \(segment.index) has \(info.frameCount) frames, \(missing) short of \(segment.frameCount): repeating its last frame")
            }
            inspections.append(info)
        }
        guard let first = inspections.first else { throw MediaError(.misuse, file: nil, "the plan has no segments") }

        // 3. Copy or re-encode?
        var reason: String? = options.reencode ? "--reencode was given" : nil
        if reason == nil, options.crossfadeFrames > 0 { reason = "--crossfade needs re-encoding" }
        if reason == nil, let bad = inspections.first(where: { $0.codecName != "h264" }) { reason = "\(bad.path) is \(bad.codecName), not H.264" }
        if reason == nil, let bad = inspections.first(where: { $0.extradata != first.extradata || $0.timeBase != first.timeBase || $0.pixelFormat != first.pixelFormat }) {
            reason = "\(bad.path) has different codec parameters from \(first.path)"
        }
        if reason == nil, let i = Array(zip(plan.segments, inspections)).firstIndex(where: { $0.1.frameCount < $0.0.frameCount }) {
            reason = "the clip for segment \(i) must be padded"
        }
        if reason == nil {
            for (segment, info) in zip(plan.segments, inspections) where info.frameCount > segment.frameCount {
                if try !tailCutKeepsFramesIdentical(clip: info.path, keep: segment.frameCount) {
                    reason = "cutting the clip for segment \(segment.index) to \(segment.frameCount) frames would change its kept frames"
                    break
                }
            }
        }

        let directory = URL(fileURLWithPath: output).deletingLastPathComponent()
        let base = URL(fileURLWithPath: output).lastPathComponent
        let temp = directory.appendingPathComponent(".\(base).partial-\(getpid()).mp4").path
        var encodedAudio: String? = nil
        defer {
            try? FileManager.default.removeItem(atPath: temp)
            if let encodedAudio { try? FileManager.default.removeItem(atPath: encodedAudio) }
        }
        guard FileManager.default.fileExists(atPath: directory.path) else {
            throw MediaError(.writeFailed, file: output, "the directory \(directory.path) does not exist")
        }
        // 2. The audio: copied when AAC or MP3 that MP4 takes, otherwise encoded to AAC (at a
        //    rate and channel count AAC and MP4 take) in a temporary file.
        let outputAudio = try OutputAudio.decide(audio: audio, scratchDirectory: directory.path, bitRate: options.audioBitRate)
        let audioDemuxer: Demuxer
        if outputAudio.strategy == .encode {
            let path = directory.appendingPathComponent(".\(base).audio-\(getpid()).m4a").path
            encodedAudio = path
            for note in try encodeAudio(from: audio, to: path, as: outputAudio, bitRate: options.audioBitRate, plan: plan) {
                warn(note)
            }
            audioDemuxer = try Demuxer(path: path)
        } else {
            audioDemuxer = try Demuxer(path: audio)
        }
        var audioSource = (demuxer: audioDemuxer, index: try audioDemuxer.bestStream(.audio).index)
        // A copied original is checked while it is copied (see AudioPump.drain).
        let checking = outputAudio.strategy == .copy ? audio : nil
        var path: StitchResult.VideoPath = reason == nil ? .copy : .reencode
        do {
            try write(plan: plan, inspections: inspections, path: path, audio: audioSource, checking: checking,
                      to: temp, options: options, warn: warn)
        } catch is CopyPathUnsafe {
            // Timestamps that cannot be joined as they are: fall back to re-encoding.
            reason = "the clips' timestamps cannot be joined without re-encoding"
            path = .reencode
            try? FileManager.default.removeItem(atPath: temp)
            let d = try Demuxer(path: encodedAudio ?? audio)
            audioSource = (d, try d.bestStream(.audio).index)
            try write(plan: plan, inspections: inspections, path: path, audio: audioSource, checking: checking,
                      to: temp, options: options, warn: warn)
        }

        // 4. The file takes the output's name only when complete.
        try FileChecks.replace(output, with: temp)
        return StitchResult(output: output, totalFrames: plan.totalFrames, videoPath: path, reencodeReason: reason,
                            audio: outputAudio, width: first.width, height: first.height, warnings: warnings)
    }

    /// The audio must be the audio the plan was made for: as long as the plan says (within
    /// `slack` seconds: packet timestamps, unlike decoded samples, include an encoder's end
    /// padding) and not shorter than the video (which would end in silence).
    static func checkAudioMatchesPlan(_ audio: String, seconds: Double, slack: Double, plan: Plan) throws {
        let video = ModelLimits.seconds(forFrames: plan.totalFrames)
        if seconds + 0.1 < ModelLimits.seconds(forFrames: plan.totalFrames - 1) {
            throw MediaError(.invalidData, file: audio, String(
                format: "the audio lasts %.2f s but the video is %.2f s (%d frames): is this the file the plan was made for?",
                seconds, video, plan.totalFrames))
        }
        if abs(seconds - plan.audio.duration) > 0.1 + slack {
            throw MediaError(.invalidData, file: audio, String(
                format: "the audio lasts %.2f s but the plan was made for %.2f s of audio: is this the file the plan was made for?",
                seconds, plan.audio.duration))
        }
    }

    /// Thrown inside the copy path when packet timestamps cannot be joined monotonically.
    private struct CopyPathUnsafe: Error {}

    /// Writes the MP4. `checking` names the original audio when its packets are copied: the
    /// copy then applies the acceptance rule and checks the audio is the plan's.
    private static func write(plan: Plan, inspections: [ClipInspection], path: StitchResult.VideoPath,
                              audio: (demuxer: Demuxer, index: Int), checking: String?, to temp: String,
                              options: StitchOptions, warn: (String) -> Void) throws {
        let muxer = try Muxer(path: temp, format: "mp4")
        let videoOut: Int
        var encoder: VideoEncoder? = nil
        switch path {
        case .copy:
            // The clips share codec parameters (checked): the first clip's describe the stream.
            let d = try Demuxer(path: inspections[0].path)
            videoOut = try muxer.addStream(copying: try d.bestStream(.video).index, of: d)
        case .reencode:
            let e = try VideoEncoder(VideoEncoderSettings(width: inspections[0].width, height: inspections[0].height,
                                                          frameRate: ModelLimits.fps, crf: options.crf, preset: options.preset),
                                     globalHeader: muxer.wantsGlobalHeader)
            encoder = e
            videoOut = try muxer.addStream(encoder: e)
        }
        let audioOut = try muxer.addStream(copying: audio.index, of: audio.demuxer)
        try muxer.writeHeader(fastStart: true)
        let pump = try AudioPump(demuxer: audio.demuxer, index: audio.index, muxer: muxer, outStream: audioOut,
                             checking: checking.map { (file: $0, plan: plan) })

        let written: Int
        switch path {
        case .copy:
            written = try copyVideo(plan: plan, inspections: inspections, muxer: muxer, stream: videoOut, pump: pump)
        case .reencode:
            written = try reencodeVideo(plan: plan, inspections: inspections, encoder: encoder!, muxer: muxer, stream: videoOut,
                                        pump: pump, crossfade: options.crossfadeFrames)
        }
        // Every output frame is one video packet: the count must be the plan's exactly.
        guard written == plan.totalFrames else {
            throw MediaError(.writeFailed, file: temp, "internal error: wrote \(written) frames instead of \(plan.totalFrames)")
        }
        try pump.drain()
        try muxer.finish()
    }

    // MARK: - Copy path

    /// Copies the clips' video packets; returns how many were written.
    private static func copyVideo(plan: Plan, inspections: [ClipInspection], muxer: Muxer, stream: Int, pump: AudioPump) throws -> Int {
        var lastDTS = Int64.min
        var written = 0
        let tb = inspections[0].timeBase.av
        let frameDuration = av_rescale_q(1, AVRational(num: 1, den: Int32(ModelLimits.fps)), tb)
        for (segment, info) in zip(plan.segments, inspections) {
            try BlockingWork.checkCancellation()
            let sorted = info.sortedPTS
            // Keep the first frameCount frames in presentation order.
            let limit = segment.frameCount < sorted.count ? sorted[segment.frameCount] : Int64.max
            let offset = av_rescale_q(Int64(segment.startFrame), AVRational(num: 1, den: Int32(ModelLimits.fps)), tb)
            let shift = offset - sorted[0]
            let demuxer = try Demuxer(path: info.path)
            let index = try demuxer.bestStream(.video).index
            let packet = try Packet()
            while try demuxer.read(into: packet) {
                let p = packet.pointer
                guard Int(p.pointee.stream_index) == index, p.pointee.pts != FFmpeg.noPTS, p.pointee.pts < limit else { continue }
                p.pointee.pts += shift
                p.pointee.dts = p.pointee.dts == FFmpeg.noPTS ? p.pointee.pts : p.pointee.dts + shift
                p.pointee.duration = frameDuration
                if p.pointee.dts <= lastDTS || p.pointee.pts < p.pointee.dts { throw CopyPathUnsafe() }
                lastDTS = p.pointee.dts
                try pump.pump(until: Double(p.pointee.dts) * Double(tb.num) / Double(tb.den))
                try muxer.write(packet, stream: stream, timeBase: tb)
                written += 1
            }
        }
        return written
    }

    /// The presentation timestamps of a clip's video packets, sorted.
    private static func scanPTS(clip: String) throws -> (sorted: [Int64], count: Int) {
        let demuxer = try Demuxer(path: clip)
        let index = try demuxer.bestStream(.video).index
        let packet = try Packet()
        var pts: [Int64] = []
        while try demuxer.read(into: packet) {
            guard Int(packet.pointer.pointee.stream_index) == index else { continue }
            pts.append(packet.pointer.pointee.pts == FFmpeg.noPTS ? packet.pointer.pointee.dts : packet.pointer.pointee.pts)
        }
        return (pts.sorted(), pts.count)
    }

    /// Whether dropping a clip's packets from presentation index `keep` on leaves the first
    /// `keep` frames decoding exactly as in the full clip (no kept frame references a dropped one).
    static func tailCutKeepsFramesIdentical(clip: String, keep: Int) throws -> Bool {
        let scan = try scanPTS(clip: clip)
        guard keep < scan.sorted.count else { return true }
        let limit = scan.sorted[keep]
        func hashes(cut: Bool) throws -> [Int] {
            let demuxer = try Demuxer(path: clip)
            let index = try demuxer.bestStream(.video).index
            let decoder = try StreamDecoder(demuxer: demuxer, streamIndex: index, threads: 1)
            let packet = try Packet(), frame = try Frame()
            var result: [Int] = []
            func drain() throws {
                while try decoder.receive(into: frame) {
                    if result.count < keep { result.append(frameHash(frame)) }
                }
            }
            while try demuxer.read(into: packet) {
                guard Int(packet.pointer.pointee.stream_index) == index else { continue }
                if cut && packet.pointer.pointee.pts >= limit { continue }
                while !(try decoder.send(packet)) { try drain() }
                try drain()
            }
            _ = try decoder.send(nil)
            try drain()
            return result
        }
        let full = try hashes(cut: false), cut = try hashes(cut: true)
        return full.count == keep && full == cut
    }

    /// A hash of a decoded frame's visible pixels.
    private static func frameHash(_ frame: Frame) -> Int {
        var hasher = Hasher()
        let f = frame.pointer.pointee
        let planes = f.format == AV_PIX_FMT_YUV420P.rawValue || f.format == AV_PIX_FMT_YUVJ420P.rawValue ? 3 : 1
        withUnsafePointer(to: f.data) { dataTuple in
            withUnsafePointer(to: f.linesize) { strideTuple in
                let data = UnsafeRawPointer(dataTuple).assumingMemoryBound(to: UnsafeMutablePointer<UInt8>?.self)
                let strides = UnsafeRawPointer(strideTuple).assumingMemoryBound(to: Int32.self)
                for plane in 0..<planes {
                    let w = plane == 0 ? Int(f.width) : (Int(f.width) + 1) / 2
                    let h = plane == 0 ? Int(f.height) : (Int(f.height) + 1) / 2
                    guard let base = data[plane] else { continue }
                    for y in 0..<h {
                        hasher.combine(bytes: UnsafeRawBufferPointer(start: base + y * Int(strides[plane]), count: w))
                    }
                }
            }
        }
        return hasher.finalize()
    }

    // MARK: - Re-encode path

    /// Decodes, optionally blends, and encodes the clips' frames; returns the packets written.
    ///
    /// A second thread decodes (one decoder thread per clip, so that libx264 has the other
    /// cores) while this one encodes and muxes; a few decoded frames wait in between.
    private static func reencodeVideo(plan: Plan, inspections: [ClipInspection], encoder: VideoEncoder, muxer: Muxer,
                                      stream: Int, pump: AudioPump, crossfade: Int) throws -> Int {
        var written = 0
        let tb = encoder.timeBase
        let sink: (Packet) throws -> Void = { packet in
            let dts = packet.pointer.pointee.dts
            try pump.pump(until: Double(dts) * Double(tb.num) / Double(tb.den))
            try muxer.write(packet, stream: stream, timeBase: tb)
            written += 1
        }
        let handoff = FrameHandoff(capacity: 8)
        let decoded = DispatchSemaphore(value: 0)
        let jobs = zip(plan.segments, inspections).map { (segment: $0.0.index, frames: $0.0.frameCount, clip: $0.1.path) }
        Thread.detachNewThread {
            defer { decoded.signal() }
            do {
                try decodeClips(jobs, crossfade: crossfade, into: handoff)
                handoff.finish(error: nil)
            } catch {
                handoff.finish(error: error)
            }
        }
        defer {
            handoff.cancel()
            decoded.wait()
        }
        var index: Int64 = 0
        while let frame = try handoff.take() {
            try encoder.encode(avFrame: frame.pointer, index: index, sink)
            index += 1
        }
        try encoder.finish(sink)
        return written
    }

    /// The decoding side of the re-encode path: exactly `frames` frames per clip, in order, the
    /// first `crossfade` of each blended with the previous clip's last frame, a clip short by
    /// a frame or two (checked during inspection) padded by repeating its last frame.
    private static func decodeClips(_ jobs: [(segment: Int, frames: Int, clip: String)], crossfade: Int,
                                    into handoff: FrameHandoff) throws {
        var previousLast: Frame? = nil
        for job in jobs {
            try BlockingWork.checkCancellation()
            let reader = try VideoReader(demuxer: Demuxer(path: job.clip), pixelFormat: .yuv420p, threads: 1)
            var taken = 0
            var last: Frame? = nil
            while taken < job.frames {
                let frame = try Frame()
                guard try reader.nextDecodedFrame(into: frame) else { break }
                if crossfade > 0, taken < crossfade, let previous = previousLast {
                    try blend(into: frame, from: previous, weight: Double(taken + 1) / Double(crossfade + 1))
                }
                // The encoding thread sets the timestamp of the frames it is given: this side
                // keeps its own reference to the pixels instead.
                last = try frame.newReference()
                guard handoff.put(frame) else { return }
                taken += 1
            }
            guard let lastFrame = last else {
                throw ClipError(segment: job.segment, clip: job.clip, reason: "no frame decodes")
            }
            while taken < job.frames {
                guard handoff.put(try lastFrame.newReference()) else { return }
                taken += 1
            }
            previousLast = lastFrame
        }
    }

    /// Mixes `frame` toward itself with `weight` and toward `other` with `1 - weight`, per
    /// plane (both must be the same size and 8-bit planar YUV 4:2:0).
    private static func blend(into frame: Frame, from other: Frame, weight: Double) throws {
        let f = frame.pointer, o = other.pointer.pointee
        guard f.pointee.width == o.width, f.pointee.height == o.height, f.pointee.format == o.format,
              f.pointee.format == AV_PIX_FMT_YUV420P.rawValue || f.pointee.format == AV_PIX_FMT_YUVJ420P.rawValue else { return }
        let rc = av_frame_make_writable(f)
        if rc < 0 { throw MediaError.ffmpeg(.encodeFailed, file: nil, "cannot blend frames", rc) }
        let w = Int32(weight * 256)
        withUnsafePointer(to: f.pointee.data) { dstTuple in
            withUnsafePointer(to: f.pointee.linesize) { dstStrides in
                withUnsafePointer(to: o.data) { srcTuple in
                    withUnsafePointer(to: o.linesize) { srcStrides in
                        let dst = UnsafeRawPointer(dstTuple).assumingMemoryBound(to: UnsafeMutablePointer<UInt8>?.self)
                        let ds = UnsafeRawPointer(dstStrides).assumingMemoryBound(to: Int32.self)
                        let src = UnsafeRawPointer(srcTuple).assumingMemoryBound(to: UnsafeMutablePointer<UInt8>?.self)
                        let ss = UnsafeRawPointer(srcStrides).assumingMemoryBound(to: Int32.self)
                        for plane in 0..<3 {
                            let width = plane == 0 ? Int(o.width) : (Int(o.width) + 1) / 2
                            let height = plane == 0 ? Int(o.height) : (Int(o.height) + 1) / 2
                            guard let d = dst[plane], let s = src[plane] else { continue }
                            for y in 0..<height {
                                let drow = d + y * Int(ds[plane]), srow = s + y * Int(ss[plane])
                                for x in 0..<width {
                                    drow[x] = UInt8((Int32(drow[x]) * w + Int32(srow[x]) * (256 - w) + 128) >> 8)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    // MARK: - Audio

    /// Encodes the audio to AAC in an M4A, decoding it by the acceptance rule every reader
    /// applies, and checks it is the plan's audio. Returns the reader's warnings.
    private static func encodeAudio(from source: String, to path: String, as audio: OutputAudio, bitRate: Int,
                                    plan: Plan) throws -> [String] {
        let reader = try AudioReader(path: source, sampleRate: audio.sampleRate, channels: audio.channels)
        let format = reader.outputFormat
        let writer = try MP4Writer(path: path, video: nil,
                                   audio: AudioEncoderSettings(sampleRate: format.sampleRate, channels: format.channels, bitRate: bitRate))
        let samples = try reader.read { try writer.append(audio: $0) }
        try checkAudioMatchesPlan(source, seconds: Double(samples) / Double(format.sampleRate), slack: 0, plan: plan)
        try writer.finish()
        return reader.warnings
    }
}

/// Copies audio packets into the muxer, interleaved with the video by time.
private final class AudioPump {
    let demuxer: Demuxer
    let index: Int
    let muxer: Muxer
    let outStream: Int
    let timeBase: AVRational
    private let packet: Packet
    private var pending = false
    private var finished = false
    /// Added to every timestamp: minus the encoder delay that the first packet asks decoders
    /// to skip (MP3's LAME header), so that the MP4 gets an edit list and decodes in sync.
    private var shift: Int64?
    /// The original audio and the plan, when its packets are copied (see `drain()`).
    private let checking: (file: String, plan: Plan)?
    /// How the copied stream ended, for the acceptance rule (no decoding: the last packet's
    /// size and header), and where its last packet ends.
    private var report = StreamDecoder.DecodeReport()
    private var end: Int64 = 0
    private var lastDuration: Int64 = 0

    init(demuxer: Demuxer, index: Int, muxer: Muxer, outStream: Int, checking: (file: String, plan: Plan)?) throws {
        packet = try Packet()
        self.demuxer = demuxer
        self.index = index
        self.muxer = muxer
        self.outStream = outStream
        self.checking = checking
        timeBase = demuxer.avStream(index).pointee.time_base
    }

    /// Writes audio packets that start at or before `seconds`.
    func pump(until seconds: Double) throws {
        while !finished {
            if !pending {
                guard try demuxer.read(into: packet) else {
                    finished = true
                    return
                }
                guard Int(packet.pointer.pointee.stream_index) == index else { continue }
                pending = true
                if shift == nil {
                    // MP3 starts at 0 and asks to skip its delay; an MP4 source already starts at
                    // minus its delay (edit list). Either way the copy must start at minus the delay.
                    let first = packet.pointer.pointee.pts != FFmpeg.noPTS ? packet.pointer.pointee.pts : 0
                    shift = min(0, -encoderDelay(of: packet) - first)
                }
                let p = packet.pointer
                if p.pointee.pts != FFmpeg.noPTS { p.pointee.pts += shift! }
                if p.pointee.dts != FFmpeg.noPTS { p.pointee.dts += shift! }
                report.lastPacketSize = Int(p.pointee.size)
                report.lastPacketHead = p.pointee.data.map { Array(UnsafeBufferPointer(start: $0, count: min(Int(p.pointee.size), 4))) } ?? []
                let start = p.pointee.pts != FFmpeg.noPTS ? p.pointee.pts : p.pointee.dts
                if start != FFmpeg.noPTS { end = max(end, start + max(p.pointee.duration, 0)) }
                lastDuration = max(p.pointee.duration, 0)
            }
            let p = packet.pointer.pointee
            let ts = p.dts != FFmpeg.noPTS ? p.dts : p.pts
            if ts != FFmpeg.noPTS && Double(ts) * Double(timeBase.num) / Double(timeBase.den) > seconds { return }
            try muxer.write(packet, stream: outStream, timeBase: timeBase)
            pending = false
        }
    }

    /// The samples a packet's skip-samples side data asks to drop at the start, in the stream's
    /// time base.
    private func encoderDelay(of packet: Packet) -> Int64 {
        var size: Int = 0
        guard let data = av_packet_get_side_data(packet.pointer, AV_PKT_DATA_SKIP_SAMPLES, &size), size >= 4 else { return 0 }
        let skip = Int64(UInt32(data[0]) | UInt32(data[1]) << 8 | UInt32(data[2]) << 16 | UInt32(data[3]) << 24)
        let rate = demuxer.avStream(index).pointee.codecpar.pointee.sample_rate
        guard skip > 0, rate > 0 else { return 0 }
        return av_rescale_q(skip, AVRational(num: 1, den: rate), timeBase)
    }

    /// Writes all remaining audio; a copied original must pass the acceptance rule (the same
    /// verdict the planner's decode gives on how the stream ends) and be the plan's audio.
    func drain() throws {
        try pump(until: .infinity)
        try demuxer.checkComplete()
        guard let checking else { return }
        let codec = FFmpeg.codecName(demuxer.avStream(index).pointee.codecpar.pointee.codec_id)
        if let reason = AudioReader.truncation(codecName: codec, report: report) {
            throw MediaError(.invalidData, file: checking.file, reason)
        }
        let tb = timeBase
        let seconds = { (ticks: Int64) in Double(ticks) * Double(tb.num) / Double(tb.den) }
        try Stitcher.checkAudioMatchesPlan(checking.file, seconds: seconds(end), slack: 2 * seconds(lastDuration),
                                           plan: checking.plan)
    }
}
