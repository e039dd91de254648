// Real clips for the fake server, made with our own encoder, each frame carrying its index.

import Foundation
import InfiniPipeline

/// The clips ``FakeFalServer`` serves, and how to read their markers back.
///
/// Frame layout (width W, height H, cells of W/8 pixels):
/// - rows 0–15: 8 cells, cell k white when bit k of the frame index is set, else black (the same
///   barcode as the committed fixture clips, so their readers work on these);
/// - rows 16–31: 8 cells for bits 8–15 of the index (clips go up to 721 frames);
/// - the rest: one flat colour that identifies the clip (``color(forClip:)``).
public enum FakeClip {
    /// Frames per second of every clip.
    public static let frameRate = 25

    /// The flat colour of clip number `index` (the order of submits, from 0).
    public static func color(forClip index: Int) -> (r: UInt8, g: UInt8, b: UInt8) {
        let palette: [(UInt8, UInt8, UInt8)] = [
            (60, 90, 160), (160, 90, 60), (60, 160, 90), (160, 60, 90),
            (90, 60, 160), (90, 160, 60), (150, 150, 60), (60, 150, 150),
        ]
        return palette[index % palette.count]
    }

    /// The frame index encoded in an RGB frame's two barcode rows.
    public static func frameIndex(rgb: [UInt8], width: Int, height: Int) -> Int {
        precondition(rgb.count >= width * height * 3 && height >= 32)
        let cell = width / 8
        var index = 0
        for row in 0..<2 {
            let y = row * 16 + 8
            for k in 0..<8 {
                let x = k * cell + cell / 2
                if rgb[(y * width + x) * 3 + 1] > 128 { index |= 1 << (row * 8 + k) }
            }
        }
        return index
    }

    /// Draws frame `index` of clip `clipIndex`.
    public static func frame(index: Int, clipIndex: Int, width: Int, height: Int) -> PixelBuffer {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        let color = FakeClip.color(forClip: clipIndex)
        let cell = max(1, width / 8)
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                if y < 32 {
                    let bit = (y / 16) * 8 + min(7, x / cell)
                    let v: UInt8 = (index >> bit) & 1 == 1 ? 255 : 0
                    pixels[i] = v; pixels[i + 1] = v; pixels[i + 2] = v
                } else {
                    pixels[i] = color.r; pixels[i + 1] = color.g; pixels[i + 2] = color.b
                }
            }
        }
        return PixelBuffer(width: width, height: height, format: .rgb8, bytes: pixels)
    }

    /// Encodes a clip: `frames` frames at 25 fps, plus AAC of `audio` (any format FFmpeg reads)
    /// cut or padded to the video's length when it decodes; no audio track otherwise.
    /// - Returns: the MP4's bytes.
    public static func render(
        frames: Int, width: Int, height: Int, clipIndex: Int, audio: [UInt8]?,
        directory: URL
    ) throws -> [UInt8] {
        let path = directory.appendingPathComponent("clip-\(UUID().uuidString).mp4").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let pcm = audio.flatMap { decodeAudio($0, seconds: Double(frames) / Double(frameRate)) }
        let writer = try MP4Writer(
            path: path,
            video: VideoEncoderSettings(
                width: width, height: height, frameRate: frameRate, crf: 20,
                preset: "ultrafast", keyFrameInterval: nil, threads: 1),
            audio: pcm.map {
                AudioEncoderSettings(sampleRate: $0.format.sampleRate, channels: $0.format.channels, bitRate: 64_000)
            })
        for i in 0..<frames {
            let pixels = frame(index: i, clipIndex: clipIndex, width: width, height: height)
            try writer.append(video: VideoFrame(width: pixels.width, height: pixels.height, rgb24: pixels.bytes))
        }
        if let pcm { try writer.append(audio: pcm.samples) }
        try writer.finish()
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Decodes audio to 48 kHz (mono or stereo, as the source), exactly `seconds` long.
    private static func decodeAudio(_ bytes: [UInt8], seconds: Double) -> (format: AudioFormat, samples: [Float])? {
        guard let probe = try? AudioReader(data: bytes, name: "received audio") else { return nil }
        let channels = min(2, max(1, probe.stream.channels))
        guard let reader = try? AudioReader(data: bytes, name: "received audio", sampleRate: 48_000, channels: channels),
            var samples = try? reader.readAll()
        else { return nil }
        let wanted = Int((seconds * 48_000).rounded()) * channels
        if samples.count > wanted {
            samples.removeLast(samples.count - wanted)
        } else {
            samples.append(contentsOf: [Float](repeating: 0, count: wanted - samples.count))
        }
        return (reader.outputFormat, samples)
    }
}
