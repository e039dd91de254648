import CFFmpeg

/// Encodes video frames (H.264) and PCM audio (AAC) into an MP4 with the moov atom at the front.
///
/// Video frames are numbered in order: frame *n* is shown at *n* / `frameRate` seconds.
/// Audio samples start at time 0. Call `finish()` to write the index; a writer dropped without
/// `finish()` leaves an incomplete file, so write to a temporary path and rename.
package final class MP4Writer {
    /// The output path.
    package let path: String
    private let muxer: Muxer
    private let video: VideoEncoder?
    private let audio: AudioEncoder?
    private var videoStream = -1
    private var audioStream = -1
    private var framesWritten: Int64 = 0

    /// Prepares the file. At least one of `video` and `audio` is needed.
    /// - Throws: `MediaError` when an encoder is missing or the file cannot be created.
    package init(path: String, video: VideoEncoderSettings?, audio: AudioEncoderSettings?) throws {
        guard video != nil || audio != nil else {
            throw MediaError(.misuse, file: path, "an MP4 needs a video or an audio stream")
        }
        self.path = path
        muxer = try Muxer(path: path, format: "mp4")
        let global = muxer.wantsGlobalHeader
        self.video = try video.map { try VideoEncoder($0, globalHeader: global) }
        self.audio = try audio.map { try AudioEncoder($0, globalHeader: global) }
        if let v = self.video { videoStream = try muxer.addStream(encoder: v) }
        if let a = self.audio { audioStream = try muxer.addStream(encoder: a) }
        try muxer.writeHeader(fastStart: true)
    }

    /// Video frames written so far.
    package var videoFrameCount: Int { Int(framesWritten) }

    /// Encodes the next video frame (scaled to the encoder's size if it differs).
    package func append(video frame: VideoFrame) throws {
        guard let video else { throw MediaError(.misuse, file: path, "this writer has no video stream") }
        try video.encode(frame, index: framesWritten) { try muxer.write($0, stream: videoStream, timeBase: video.timeBase) }
        framesWritten += 1
    }

    /// Queues interleaved float samples (channels as configured).
    package func append(audio samples: UnsafeBufferPointer<Float>) throws {
        guard let audio else { throw MediaError(.misuse, file: path, "this writer has no audio stream") }
        try audio.append(samples) { try muxer.write($0, stream: audioStream, timeBase: audio.timeBase) }
    }

    /// Queues interleaved float samples.
    package func append(audio samples: [Float]) throws {
        try samples.withUnsafeBufferPointer { try append(audio: $0) }
    }

    /// Flushes the encoders and writes the index.
    package func finish() throws {
        if let video { try video.finish { try muxer.write($0, stream: videoStream, timeBase: video.timeBase) } }
        if let audio { try audio.finish { try muxer.write($0, stream: audioStream, timeBase: audio.timeBase) } }
        try muxer.finish()
    }
}

/// Copies streams from one container to another without re-encoding.
package enum Remuxer {
    /// Copies the chosen streams (all audio and video streams by default) of `input` into a new
    /// file at `output`, rescaling timestamps to the output's time bases. MP4 output gets its
    /// moov atom at the front.
    /// - Returns: the number of packets copied per output stream.
    /// - Throws: `MediaError` naming the input or output file.
    @discardableResult
    package static func copy(
        from input: String, to output: String, streams: [Int]? = nil,
        format: String = "mp4"
    ) throws -> [Int] {
        let demuxer = try Demuxer(path: input)
        let chosen = streams ?? demuxer.streams.filter { $0.kind == .audio || $0.kind == .video }.map(\.index)
        guard !chosen.isEmpty else { throw MediaError(.noStream, file: input, "no audio or video stream to copy") }
        for i in chosen where i < 0 || i >= demuxer.streams.count {
            throw MediaError(.misuse, file: input, "there is no stream \(i)")
        }
        let muxer = try Muxer(path: output, format: format)
        var map = [Int: Int]()
        for i in chosen { map[i] = try muxer.addStream(copying: i, of: demuxer) }
        try muxer.writeHeader(fastStart: true)
        var counts = [Int](repeating: 0, count: chosen.count)
        let packet = try Packet()
        while try demuxer.read(into: packet) {
            let index = Int(packet.pointer.pointee.stream_index)
            guard let out = map[index] else { continue }
            try muxer.write(packet, stream: out, timeBase: demuxer.avStream(index).pointee.time_base)
            counts[out] += 1
        }
        try muxer.finish()
        return counts
    }
}
