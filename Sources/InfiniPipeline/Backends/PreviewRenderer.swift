import Foundation

/// Renders stand-in clips locally, for the offline preview backend: the fitted image with an
/// audio-level meter, the segment number, the timecode and the speaker's name (when the
/// request names one), exactly `numFrames` frames at 25 fps, H.264 plus the segment's audio in
/// AAC (resampled and mixed down as the output's audio would be when AAC cannot take it as it
/// is). A user checks framing, cuts, shots and sync before paying.
///
/// Like the model, every clip starts from the portrait and drifts away from it: a slow zoom
/// and pan of the fitted image (see ``drift(frame:segmentIndex:)``), restarting at each
/// segment, so the seams jump as the model's do and transitions can be judged for free.
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
    ///   - speaker: the speaker on screen, written into every frame; `nil` writes no name.
    ///   - audioFile: the segment's audio (as `SegmentAudio.export` writes it).
    ///   - output: the MP4 to write (written whole; the caller renames it into place).
    /// - Throws: `MediaError` naming the audio file (it cannot be read, or no AAC can be made
    ///   from it) or the output clip (it cannot be encoded or written).
    func render(
        segment: Plan.Segment, segmentCount: Int, speaker: String? = nil, audioFile: String, output: String
    ) throws {
        let settings = try Self.clipAudio(for: audioFile)
        let reader = try AudioReader(path: audioFile, sampleRate: settings.sampleRate, channels: settings.channels)
        let samples = try reader.readAll()
        do {
            try render(
                segment: segment, segmentCount: segmentCount, speaker: speaker, samples: samples, audio: settings,
                output: output)
        } catch let error as MediaError where error.file == nil {
            // The encoders know no file names: the clip being written is the one to name.
            throw MediaError(error.kind, file: output, error.reason, averror: error.averror)
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
        segment: Plan.Segment, segmentCount: Int, speaker: String?, samples: [Float], audio: AudioEncoderSettings,
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
        var drifted = image
        for k in 0..<segment.numFrames {
            // Loudness of the audio under this frame (RMS of all channels).
            let lo = k * format.sampleRate / fps, hi = min(clipSamples, (k + 1) * format.sampleRate / fps)
            var sum = 0.0
            if hi > lo {
                for i in (lo * format.channels)..<(hi * format.channels) { sum += Double(samples[i]) * Double(samples[i]) }
                sum /= Double((hi - lo) * format.channels)
            }
            let db = sum > 0 ? 10 * log10(sum) : -120
            let level = max(0, min(1, (db + 60) / 60))
            try render(frame: k, of: segment, segmentCount: segmentCount, speaker: speaker, level: level, into: &drifted)
            try writer.append(video: VideoFrame(width: drifted.width, height: drifted.height, rgb24: drifted.bytes))
        }
        try samples.withUnsafeBufferPointer { all in
            try writer.append(audio: UnsafeBufferPointer(rebasing: all[0..<(clipSamples * format.channels)]))
        }
        try writer.finish()
    }

    /// Frame `k` of a segment's clip, drawn into `frame` (any previous content is replaced; a
    /// buffer of the image's size is reused): the drifted portrait, the level meter along the
    /// bottom, the segment and timecode at the top left, the speaker's name above the meter.
    /// - Parameters:
    ///   - k: The frame within the clip, from 0.
    ///   - segment: The plan segment.
    ///   - segmentCount: Segments in the plan.
    ///   - speaker: The name to write, or `nil`.
    ///   - level: The audio level under the frame, 0…1.
    /// - Throws: ``VisionError`` when the drift's warp fails (out of memory).
    func render(
        frame k: Int, of segment: Plan.Segment, segmentCount: Int, speaker: String?, level: Double,
        into frame: inout PixelBuffer
    ) throws {
        let drift = Self.drift(frame: k, segmentIndex: segment.index)
        try Self.warp(image, zoom: drift.zoom, panX: drift.panX, panY: drift.panY, into: &frame)
        let scale = max(2, image.height / 160)
        let meterHeight = max(8, image.height / 24)
        // Meter along the bottom edge: green, then yellow, then red toward full scale.
        BitmapFont.shade(&frame, x: 0, y: image.height - meterHeight, width: image.width, height: meterHeight)
        let filled = Int(max(0, min(1, level)) * Double(image.width))
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
        // The speaker on screen, larger, above the meter (a lower third, as a show would caption it).
        if let speaker, let area = Self.speakerArea(imageWidth: image.width, imageHeight: image.height) {
            let name = BitmapFont.fitting(speaker, width: area.width - 2 * area.scale, scale: area.scale)
            let width = BitmapFont.width(of: name, scale: area.scale) + 2 * area.scale
            BitmapFont.shade(&frame, x: area.x, y: area.y, width: width, height: area.height)
            BitmapFont.draw(
                name, into: &frame, x: area.x + area.scale, y: area.y + area.scale, scale: area.scale,
                color: (255, 255, 255))
        }
    }

    /// Where the speaker's name goes: a band above the meter, from the left edge; `nil` when
    /// the frame is too small to hold it.
    static func speakerArea(imageWidth: Int, imageHeight: Int) -> (x: Int, y: Int, width: Int, height: Int, scale: Int)? {
        let meterHeight = max(8, imageHeight / 24)
        let scale = max(2, imageHeight / 100)
        let height = (BitmapFont.glyphHeight + 2) * scale
        let y = imageHeight - meterHeight - height - scale
        guard y > 0, imageWidth > 4 * scale else { return nil }
        return (0, y, imageWidth, height, scale)
    }

    /// How far frame `k` of a clip has drifted from the portrait: a zoom about the centre
    /// (1 at the first frame, 1.08 at the longest clip's last) and a pan within what the zoom
    /// leaves (fractions of the width and height, 0 at the first frame) in a direction that
    /// turns by the golden angle from one segment to the next. Deterministic.
    static func drift(frame k: Int, segmentIndex: Int) -> (zoom: Double, panX: Double, panY: Double) {
        let t = Double(max(0, k)) / Double(ModelLimits.maximumFrames - 1)
        let zoom = 1 + 0.08 * t
        // The zoomed window may move by (1 − 1/zoom) / 2 of the frame before it shows an edge.
        let room = 0.8 * (1 - 1 / zoom) / 2
        let angle = Double(segmentIndex) * 2.399963229728653
        return (zoom, room * cos(angle), room * sin(angle))
    }

    /// `source` zoomed by `zoom` about its centre moved by (`panX`, `panY`) (fractions of the
    /// width and height), bilinear, into `output` (same size and format, rgb8). Zoom 1 and no
    /// pan copy the source exactly.
    /// - Throws: ``VisionError`` when OpenCV fails (out of memory).
    static func warp(_ source: PixelBuffer, zoom: Double, panX: Double, panY: Double, into output: inout PixelBuffer) throws {
        precondition(source.format == .rgb8 && zoom >= 1)
        if output.width != source.width || output.height != source.height || output.format != .rgb8 {
            output = source
        }
        if zoom == 1 && panX == 0 && panY == 0 {
            output.bytes = source.bytes
            return
        }
        try ZoomPan.rgb(
            source.bytes, width: source.width, height: source.height, zoom: zoom, panX: panX, panY: panY,
            into: &output.bytes)
    }

    /// `hh:mm:ss.ff` for a frame number at 25 fps (ff = frame within the second).
    static func timecode(frame: Int) -> String {
        let fps = ModelLimits.fps
        let seconds = frame / fps
        return String(format: "%02d:%02d:%02d.%02d", seconds / 3600, (seconds / 60) % 60, seconds % 60, frame % fps)
    }
}
