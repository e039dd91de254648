import Foundation

/// Renders stand-in clips locally, for the offline preview backend: the fitted image with an
/// audio-level meter, the segment number and the timecode, exactly `numFrames` frames at
/// 25 fps, H.264 plus the segment's audio in AAC (resampled and mixed down as the output's
/// audio would be when AAC cannot take it as it is). A user checks framing, cuts and sync
/// before paying.
struct PreviewRenderer: Sendable {
    /// The fitted image every frame starts from (rgb8, the bucket size).
    let image: PixelBuffer
    /// x264 settings of the clips; identical for every clip so the stitcher can copy them.
    var crf = 23
    /// x264 preset.
    var preset = "ultrafast"

    /// A renderer for a fitted image.
    init(image: PixelBuffer) {
        precondition(image.format == .rgb8)
        self.image = image
    }

    /// Renders one segment's clip. Blocking (call it off the cooperative pool).
    /// - Parameters:
    ///   - segment: the plan segment.
    ///   - segmentCount: how many segments the plan has (for the caption).
    ///   - audioFile: the segment's audio (as `SegmentAudio.export` writes it).
    ///   - output: the MP4 to write (written whole; the caller renames it into place).
    /// - Throws: `MediaError` naming the audio file (it cannot be read, or no AAC can be made
    ///   from it) or the output clip (it cannot be encoded or written).
    func render(segment: Plan.Segment, segmentCount: Int, audioFile: String, output: String) throws {
        let settings = try Self.clipAudio(for: audioFile)
        let reader = try AudioReader(path: audioFile, sampleRate: settings.sampleRate, channels: settings.channels)
        let samples = try reader.readAll()
        do {
            try render(segment: segment, segmentCount: segmentCount, samples: samples, audio: settings, output: output)
        } catch let error as MediaError where error.file == nil {
            // The encoders know no file names: the clip being written is the one to name.
            throw MediaError(error.code, file: output, error.reason, averror: error.averror)
        }
    }

    /// The AAC set-up of a clip whose audio comes from `audioFile`, decided as the output's is
    /// (`OutputAudio`): a rate AAC takes (`AudioEncoderSettings.aacRate(forSource:)`: the source's
    /// own from 8 to 48 kHz, else the next one up, 48 kHz at most) and the source's channel
    /// count when the AAC encoder takes it, else stereo, else mono (remixed by ``AudioReader``).
    /// - Throws: `MediaError` naming `audioFile` when it cannot be read or no AAC encoder opens.
    static func clipAudio(for audioFile: String, bitRate: Int = 128_000) throws -> AudioEncoderSettings {
        let source = try Demuxer(path: audioFile).bestStream(.audio)
        guard source.sampleRate > 0, source.channels > 0 else {
            throw MediaError(.invalidData, file: audioFile, "the audio stream declares no sample rate or channels")
        }
        let rate = AudioEncoderSettings.aacRate(forSource: source.sampleRate)
        var lastError: MediaError?
        for channels in AudioEncoderSettings.aacChannelCandidates(forSource: source.channels) {
            let settings = AudioEncoderSettings(sampleRate: rate, channels: channels, bitRate: bitRate)
            do {
                _ = try AudioEncoder(settings, globalHeader: true)
                return settings
            } catch let error as MediaError {
                lastError = error
            }
        }
        throw MediaError(
            .unsupported, file: audioFile,
            "cannot make AAC audio for the preview clip from \(source.sampleRate) Hz, \(source.channels) ch: \(lastError?.reason ?? "unknown reason")"
        )
    }

    private func render(
        segment: Plan.Segment, segmentCount: Int, samples: [Float], audio: AudioEncoderSettings,
        output: String
    ) throws {
        let format = AudioFormat(sampleRate: audio.sampleRate, channels: audio.channels)
        let fps = ModelLimits.fps
        // The clip's audio runs as long as its frames, like the model's.
        let clipSamples = min(samples.count / format.channels, segment.numFrames * format.sampleRate / fps)
        let writer = try MP4Writer(
            path: output,
            video: VideoEncoderSettings(
                width: image.width, height: image.height, frameRate: fps,
                crf: crf, preset: preset, threads: 2),
            audio: audio)
        let scale = max(2, image.height / 160)
        let meterHeight = max(8, image.height / 24)
        for k in 0..<segment.numFrames {
            var frame = image
            // Loudness of the audio under this frame (RMS of all channels).
            let lo = k * format.sampleRate / fps, hi = min(clipSamples, (k + 1) * format.sampleRate / fps)
            var sum = 0.0
            if hi > lo {
                for i in (lo * format.channels)..<(hi * format.channels) { sum += Double(samples[i]) * Double(samples[i]) }
                sum /= Double((hi - lo) * format.channels)
            }
            let db = sum > 0 ? 10 * log10(sum) : -120
            let level = max(0, min(1, (db + 60) / 60))
            // Meter along the bottom edge: green, then yellow, then red toward full scale.
            BitmapFont.shade(&frame, x: 0, y: image.height - meterHeight, width: image.width, height: meterHeight)
            let filled = Int(level * Double(image.width))
            let color: (UInt8, UInt8, UInt8) = level > 0.9 ? (230, 40, 40) : level > 0.7 ? (230, 200, 40) : (40, 200, 80)
            BitmapFont.fill(&frame, x: 0, y: image.height - meterHeight + 2, width: filled, height: meterHeight - 4, color: color)
            // Captions: segment and absolute timecode.
            let caption1 = "PREVIEW SEGMENT \(segment.index + 1)/\(segmentCount)"
            let caption2 = Self.timecode(frame: segment.startFrame + k) + (k >= segment.frameCount ? " -" : "")
            let lineHeight = (BitmapFont.glyphHeight + 3) * scale
            let boxWidth =
                max(BitmapFont.width(of: caption1, scale: scale), BitmapFont.width(of: caption2, scale: scale)) + 2 * scale
            BitmapFont.shade(&frame, x: 0, y: 0, width: boxWidth + scale, height: 2 * lineHeight + scale)
            BitmapFont.draw(caption1, into: &frame, x: scale, y: scale, scale: scale, color: (255, 255, 255))
            BitmapFont.draw(caption2, into: &frame, x: scale, y: scale + lineHeight, scale: scale, color: (255, 230, 120))
            try writer.append(video: VideoFrame(width: frame.width, height: frame.height, rgb24: frame.bytes))
        }
        try samples.withUnsafeBufferPointer { all in
            try writer.append(audio: UnsafeBufferPointer(rebasing: all[0..<(clipSamples * format.channels)]))
        }
        try writer.finish()
    }

    /// `hh:mm:ss.ff` for a frame number at 25 fps (ff = frame within the second).
    static func timecode(frame: Int) -> String {
        let fps = ModelLimits.fps
        let seconds = frame / fps
        return String(format: "%02d:%02d:%02d.%02d", seconds / 3600, (seconds / 60) % 60, seconds % 60, frame % fps)
    }
}
