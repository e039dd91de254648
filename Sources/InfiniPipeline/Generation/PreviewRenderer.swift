import Foundation

/// Renders stand-in clips locally, for the offline preview backend: the fitted image with an
/// audio-level meter, the segment number and the timecode, exactly `numFrames` frames at
/// 25 fps, H.264 plus the segment's audio. A user checks framing, cuts and sync before paying.
public struct PreviewRenderer: Sendable {
    /// The fitted image every frame starts from (rgb8, the bucket size).
    public let image: PixelBuffer
    /// x264 settings of the clips; identical for every clip so the stitcher can copy them.
    public var crf = 23
    /// x264 preset.
    public var preset = "ultrafast"

    /// A renderer for a fitted image.
    public init(image: PixelBuffer) {
        precondition(image.format == .rgb8)
        self.image = image
    }

    /// Renders one segment's clip. Blocking (call it off the cooperative pool).
    /// - Parameters:
    ///   - segment: the plan segment.
    ///   - segmentCount: how many segments the plan has (for the caption).
    ///   - audioFile: the segment's audio (as `SegmentAudio.export` writes it).
    ///   - output: the MP4 to write (written whole; the caller renames it into place).
    public func render(segment: Plan.Segment, segmentCount: Int, audioFile: String, output: String) throws {
        let reader = try AudioReader(path: audioFile)
        let samples = try reader.readAll()
        let format = reader.outputFormat
        let fps = ModelLimits.fps
        // The clip's audio runs as long as its frames, like the model's.
        let clipSamples = min(samples.count / format.channels, segment.numFrames * format.sampleRate / fps)
        let writer = try MP4Writer(path: output,
                                   video: VideoEncoderSettings(width: image.width, height: image.height, frameRate: fps,
                                                               crf: crf, preset: preset, threads: 2),
                                   audio: AudioEncoderSettings(sampleRate: format.sampleRate, channels: format.channels, bitRate: 128_000))
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
            let boxWidth = max(BitmapFont.width(of: caption1, scale: scale), BitmapFont.width(of: caption2, scale: scale)) + 2 * scale
            BitmapFont.shade(&frame, x: 0, y: 0, width: boxWidth + scale, height: 2 * lineHeight + scale)
            BitmapFont.draw(caption1, into: &frame, x: scale, y: scale, scale: scale, color: (255, 255, 255))
            BitmapFont.draw(caption2, into: &frame, x: scale, y: scale + lineHeight, scale: scale, color: (255, 230, 120))
            try writer.append(video: frame)
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
