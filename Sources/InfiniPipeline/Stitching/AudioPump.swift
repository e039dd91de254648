import CFFmpeg
import Foundation

// The audio side of a stitch: the original audio's packets copied into the output (or the
// audio encoded to AAC first), interleaved with the video, and checked to be the plan's audio.

extension Stitcher {
    /// The audio must be the audio the plan was made for: as long as the plan says (within
    /// `slack` seconds: packet timestamps, unlike decoded samples, include an encoder's end
    /// padding) and not shorter than the video (which would end in silence).
    static func checkAudioMatchesPlan(_ audio: String, seconds: Double, slack: Double, plan: Plan) throws {
        let video = ModelLimits.seconds(forFrames: plan.totalFrames)
        if seconds + 0.1 < ModelLimits.seconds(forFrames: plan.totalFrames - 1) {
            throw MediaError(
                .invalidData, file: audio,
                String(
                    format: "the audio lasts %.2f s but the video is %.2f s (%d frames): is this the file the plan was made for?",
                    seconds, video, plan.totalFrames))
        }
        if abs(seconds - plan.audio.duration) > 0.1 + slack {
            throw MediaError(
                .invalidData, file: audio,
                String(
                    format:
                        "the audio lasts %.2f s but the plan was made for %.2f s of audio: is this the file the plan was made for?",
                    seconds, plan.audio.duration))
        }
    }

    /// Encodes the audio to AAC in an M4A, decoding it by the acceptance rule every reader
    /// applies, and checks it is the plan's audio. Returns the reader's warnings.
    static func encodeAudio(
        from source: String, to path: String, as audio: OutputAudio, bitRate: Int,
        plan: Plan
    ) throws -> [String] {
        let reader = try AudioReader(path: source, sampleRate: audio.sampleRate, channels: audio.channels)
        let format = reader.outputFormat
        let writer = try MP4Writer(
            path: path, video: nil,
            audio: AudioEncoderSettings(sampleRate: format.sampleRate, channels: format.channels, bitRate: bitRate))
        let samples = try reader.read { try writer.append(audio: $0) }
        try checkAudioMatchesPlan(source, seconds: Double(samples) / Double(format.sampleRate), slack: 0, plan: plan)
        try writer.finish()
        return reader.warnings
    }
}

/// Copies audio packets into the muxer, interleaved with the video by time.
final class AudioPump {
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
                report.noteLastPacket(packet)
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
        try Stitcher.checkAudioMatchesPlan(
            checking.file, seconds: seconds(end), slack: 2 * seconds(lastDuration),
            plan: checking.plan)
    }
}
