import CFFmpeg
import Foundation

/// How the output MP4 carries the original audio: its packets copied as they are, or the
/// decoded audio encoded to AAC (resampled and remixed when AAC or MP4 cannot take it as it is).
///
/// Decided and *proven* before any money is spent: ``decide(audio:scratchDirectory:bitRate:)``
/// writes a small MP4 with exactly this audio set-up (header, a few audio packets, one video
/// frame, trailer) to a scratch file, so a run cannot generate every clip and then fail to
/// write its output. The stitcher makes the same decision.
public struct OutputAudio: Codable, Sendable, Equatable {
    /// Copy or encode.
    @nonexhaustive
    public enum Strategy: String, Codable, Sendable {
        /// The source's AAC or MP3 packets are copied: no loss, no re-encoding.
        case copy
        /// The source is decoded and encoded to AAC-LC.
        case encode
    }

    /// Copy or encode.
    public var strategy: Strategy
    /// The output's audio codec: the source's when copied, `"aac"` when encoded.
    public var codec: String
    /// The output's sample rate.
    public var sampleRate: Int
    /// The output's channel count.
    public var channels: Int
    /// The source's codec, e.g. `"flac"`.
    public var sourceCodec: String
    /// The source's sample rate.
    public var sourceSampleRate: Int
    /// The source's channel count.
    public var sourceChannels: Int
    /// Why the audio is encoded rather than copied (nil when copied).
    public var reason: String?

    /// One line for people: `"copy mp3, 44100 Hz, 2 ch"`, or
    /// `"encode to AAC, 48000 Hz, 1 ch (flac cannot be copied into MP4; resampled from 192000 Hz)"`.
    public var summary: String {
        if strategy == .copy { return "copy \(codec), \(sampleRate) Hz, \(channels) ch" }
        var notes: [String] = []
        if let reason { notes.append(reason) }
        if sampleRate != sourceSampleRate { notes.append("resampled from \(sourceSampleRate) Hz") }
        if channels != sourceChannels { notes.append("mixed down from \(sourceChannels) ch") }
        let tail = notes.isEmpty ? "" : " (\(notes.joined(separator: "; ")))"
        return "encode to AAC, \(sampleRate) Hz, \(channels) ch\(tail)"
    }

    /// Decides how the output will carry the audio of `path`, and proves the MP4 muxer takes it.
    /// - Parameters:
    ///   - path: the audio file (or a video carrying it).
    ///   - scratchDirectory: where the proof MP4 is written and removed again: the output's
    ///     directory, so that creating a file there is proven too.
    ///   - bitRate: the AAC bit rate when encoding.
    /// - Throws: `MediaError` naming the audio file when no output audio can be made, or naming
    ///   `scratchDirectory` when no file can be created there.
    public static func decide(
        audio path: String, scratchDirectory: String,
        bitRate: Int = StitchOptions.defaultAudioBitRate
    ) throws -> OutputAudio {
        let demuxer = try Demuxer(path: path)
        let stream = try demuxer.bestStream(.audio)
        // The decoder must open (as it will when the audio is decoded for planning or encoding).
        let decoder = try StreamDecoder(demuxer: demuxer, streamIndex: stream.index, threads: 1)
        let decodedRate = Int(decoder.context!.pointee.sample_rate)
        let decodedChannels = Int(decoder.context!.pointee.ch_layout.nb_channels)
        let sourceRate = stream.sampleRate > 0 ? stream.sampleRate : decodedRate
        let sourceChannels = stream.channels > 0 ? stream.channels : decodedChannels
        // Named with the process id: proofs left by killed processes are removed first.
        let prefix = ".infinistitch-audio-check-"
        AtomicFile.removeLeftovers(in: scratchDirectory, prefixes: [prefix])
        let scratch = URL(fileURLWithPath: scratchDirectory)
            .appendingPathComponent("\(prefix)\(getpid())-\(UUID().uuidString.prefix(8)).mp4").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        var reason: String
        if stream.codecName == "aac" || stream.codecName == "mp3" {
            do {
                try proveCopy(demuxer: demuxer, index: stream.index, scratch: scratch)
                return OutputAudio(
                    strategy: .copy, codec: stream.codecName, sampleRate: sourceRate,
                    channels: sourceChannels, sourceCodec: stream.codecName,
                    sourceSampleRate: sourceRate, sourceChannels: sourceChannels, reason: nil)
            } catch let error as MediaError
                where error.kind == .writeFailed && error.file == scratch
                && error.reason.hasPrefix("cannot open for writing")
            {
                throw MediaError(.writeFailed, file: scratchDirectory, "cannot create files in this directory (\(error.reason))")
            } catch let error as MediaError {
                reason = "the MP4 muxer does not take this \(stream.codecName) stream as it is (\(error.reason))"
            }
        } else {
            reason = "\(stream.codecName) cannot be copied into MP4"
        }

        let rate = AudioEncoderSettings.aacRate(forSource: sourceRate)
        var lastError: MediaError?
        for channels in AudioEncoderSettings.aacChannelCandidates(forSource: sourceChannels) {
            do {
                try proveEncode(sampleRate: rate, channels: channels, bitRate: bitRate, scratch: scratch)
            } catch let error as MediaError {
                if error.file == scratch && error.reason.hasPrefix("cannot open for writing") {
                    throw MediaError(
                        .writeFailed, file: scratchDirectory, "cannot create files in this directory (\(error.reason))")
                }
                lastError = error
                continue
            }
            try proveConverts(audio: path, sampleRate: rate, channels: channels, sourceRate: sourceRate)
            return OutputAudio(
                strategy: .encode, codec: "aac", sampleRate: rate, channels: channels,
                sourceCodec: stream.codecName, sourceSampleRate: sourceRate,
                sourceChannels: sourceChannels, reason: reason)
        }
        throw MediaError(
            .unsupported, file: path,
            "cannot make AAC audio for the output from \(stream.codecName) at \(sourceRate) Hz, \(sourceChannels) ch: \(lastError?.reason ?? "unknown reason")"
        )
    }

    /// Decodes the start of the source as the stitcher's encoder will take it (at `sampleRate`,
    /// `channels`): the samples must come out. libswresample gives nothing at all for a source
    /// shorter than its filter (a few dozen samples, such as 10 samples at 1234 Hz), which the
    /// stitcher would find only after every clip is paid for.
    /// - Throws: `MediaError` `.tooSmall` naming the file when no sample comes out.
    private static func proveConverts(audio path: String, sampleRate: Int, channels: Int, sourceRate: Int) throws {
        struct Enough: Error {}
        let reader = try AudioReader(path: path, sampleRate: sampleRate, channels: channels)
        do {
            try reader.read { chunk in if !chunk.isEmpty { throw Enough() } }
        } catch is Enough {
            return
        } catch let error as MediaError where error.kind == .empty {
            // Nothing at all (said as it is), or nothing after the conversion?
            let samples: Int
            do {
                samples = try AudioReader(path: path).read { _ in }
            } catch let native as MediaError where native.kind == .empty {
                throw error
            }
            throw MediaError(
                .tooSmall, file: path,
                String(
                    format: "holds %d samples (%.1f ms at %d Hz), too short to convert to the output's AAC at %d Hz",
                    samples, Double(samples) * 1000 / Double(max(1, sourceRate)), sourceRate, sampleRate))
        }
    }

    /// Writes a scratch MP4 with copies of the first audio packets and one video frame.
    private static func proveCopy(demuxer: Demuxer, index: Int, scratch: String) throws {
        let muxer = try Muxer(path: scratch, format: "mp4")
        let video = try scratchVideo(muxer)
        let out = try muxer.addStream(copying: index, of: demuxer)
        try muxer.writeHeader(fastStart: true)
        let timeBase = demuxer.avStream(index).pointee.time_base
        let packet = try Packet()
        var copied = 0
        var first: Int64?
        while copied < 4, try demuxer.read(into: packet) {
            guard Int(packet.pointer.pointee.stream_index) == index else { continue }
            let p = packet.pointer
            let ts = p.pointee.dts != FFmpeg.noPTS ? p.pointee.dts : p.pointee.pts
            if first == nil { first = ts == FFmpeg.noPTS ? 0 : ts }
            if p.pointee.pts != FFmpeg.noPTS { p.pointee.pts -= first! }
            if p.pointee.dts != FFmpeg.noPTS { p.pointee.dts -= first! }
            try muxer.write(packet, stream: out, timeBase: timeBase)
            copied += 1
        }
        try finishScratchVideo(video, muxer: muxer)
        try muxer.finish()
    }

    /// Writes a scratch MP4 with a few AAC frames of silence and one video frame.
    private static func proveEncode(sampleRate: Int, channels: Int, bitRate: Int, scratch: String) throws {
        let muxer = try Muxer(path: scratch, format: "mp4")
        let video = try scratchVideo(muxer)
        let encoder = try AudioEncoder(
            AudioEncoderSettings(sampleRate: sampleRate, channels: channels, bitRate: bitRate),
            globalHeader: muxer.wantsGlobalHeader)
        let out = try muxer.addStream(encoder: encoder)
        try muxer.writeHeader(fastStart: true)
        let silence = [Float](repeating: 0, count: 3 * 1024 * channels)
        let sink: (Packet) throws -> Void = { try muxer.write($0, stream: out, timeBase: encoder.timeBase) }
        try silence.withUnsafeBufferPointer { try encoder.append($0, sink) }
        try encoder.finish(sink)
        try finishScratchVideo(video, muxer: muxer)
        try muxer.finish()
    }

    /// A tiny H.264 stream like the output's (the model's clips are H.264; so is a re-encode).
    private static func scratchVideo(_ muxer: Muxer) throws -> (encoder: VideoEncoder, stream: Int) {
        let encoder = try VideoEncoder(
            VideoEncoderSettings(
                width: 64, height: 64, frameRate: ModelLimits.fps, crf: 30,
                preset: "ultrafast", threads: 1),
            globalHeader: muxer.wantsGlobalHeader)
        return (encoder, try muxer.addStream(encoder: encoder))
    }

    private static func finishScratchVideo(_ video: (encoder: VideoEncoder, stream: Int), muxer: Muxer) throws {
        let gray = VideoFrame(
            width: 64, height: 64, pixelFormat: .yuv420p,
            planes: [
                [UInt8](repeating: 128, count: 64 * 64), [UInt8](repeating: 128, count: 32 * 32),
                [UInt8](repeating: 128, count: 32 * 32),
            ],
            time: nil, isKeyFrame: true)
        let sink: (Packet) throws -> Void = { try muxer.write($0, stream: video.stream, timeBase: video.encoder.timeBase) }
        try video.encoder.encode(gray, index: 0, sink)
        try video.encoder.finish(sink)
    }
}
