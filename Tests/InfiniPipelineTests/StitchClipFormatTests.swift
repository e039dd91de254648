import CFFmpeg
import Foundation
import Testing

@testable import InfiniPipeline

extension Serial {
    /// The re-encode path takes clips as they come: every clip shown in the colours its YUV
    /// values stand for (the output tagged as the first clip is, a clip in another matrix
    /// converted to it), a clip of another format (10-bit, 4:4:4) treated as the 8-bit 4:2:0
    /// it is encoded to, colour match included, and a size it cannot encode refused up front.
    /// Clips and their colours as the ffmpeg tool makes and shows them (CI installs it).
    @Suite("Stitcher: clips of every colour matrix, format and size when re-encoding", .timeLimit(.minutes(3)))
    struct StitchClipFormatTests {
        static let frames = 41

        /// A clip of the portrait, its RGB encoded with BT.709 and tagged so when `bt709`, with
        /// BT.601 and untagged otherwise.
        static func clip(_ path: String, bt709: Bool, ffmpeg: String) throws {
            let matrix = bt709 ? "bt709" : "bt601"
            let tags = bt709 ? ["-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709"] : []
            let made = try runProcess(
                ffmpeg,
                [
                    "-v", "error", "-y", "-loop", "1", "-i", Fixture.path("portrait.png"), "-vf",
                    "scale=256:256:out_color_matrix=\(matrix):out_range=tv,format=yuv420p", "-frames:v", "\(frames)", "-r", "25",
                    "-c:v", "libx264", "-preset", "ultrafast", "-crf", "10",
                ] + tags + [path])
            #expect(made.status == 0, "\(String(decoding: made.stderr, as: UTF8.self))")
        }

        /// The mean R, G and B of frame `index` of `path` as the ffmpeg tool shows it: its tags
        /// honoured, an untagged video taken as BT.601 (or as `matrix` when given).
        static func meanRGB(_ path: String, frame index: Int, ffmpeg: String, matrix: String? = nil) throws -> SIMD3<Double> {
            let scale = matrix.map { ",scale=in_color_matrix=\($0)" } ?? ""
            let shown = try runProcess(
                ffmpeg,
                [
                    "-v", "error", "-i", path, "-vf", "select=eq(n\\,\(index))\(scale)", "-frames:v", "1", "-f", "rawvideo",
                    "-pix_fmt", "rgb24", "-",
                ])
            #expect(shown.status == 0 && !shown.stdout.isEmpty)
            var sum = SIMD3<Double>()
            let bytes = [UInt8](shown.stdout)
            for i in stride(from: 0, to: bytes.count - 2, by: 3) {
                sum += SIMD3(Double(bytes[i]), Double(bytes[i + 1]), Double(bytes[i + 2]))
            }
            return sum / Double(bytes.count / 3)
        }

        /// The colour matrix the video stream of `path` is tagged with.
        static func matrix(_ path: String) throws -> AVColorSpace {
            let demuxer = try Demuxer(path: path)
            return demuxer.avStream(try demuxer.bestStream(.video).index).pointee.codecpar.pointee.color_space
        }

        static func largest(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> Double {
            let d = a - b
            return max(Swift.abs(d.x), Swift.abs(d.y), Swift.abs(d.z))
        }

        /// BT.709 clips re-encoded: the output says BT.709 and looks as the clips do. Untagged
        /// (as it was), the same values read as BT.601 are off by several code values.
        @Test func bt709ClipsKeepTheirColours() throws {
            guard let ffmpeg = ffmpegTool else { return }
            let dir = try TempDir()
            defer { dir.cleanup() }
            let clips = [dir.path("a.mp4"), dir.path("b.mp4")]
            for clip in clips { try Self.clip(clip, bt709: true, ffmpeg: ffmpeg) }
            let out = dir.path("out.mp4")
            let result = try Stitcher.stitch(
                plan: StitchTests.plan([(Self.frames, Self.frames), (Self.frames, Self.frames)], audio: "speech.wav"),
                clips: clips, audio: Fixture.path("speech.wav"), output: out, options: StitchOptions(reencode: true))
            #expect(result.videoPath == .reencode)
            #expect(try Self.matrix(out) == AVCOL_SPC_BT709)
            let clip = try Self.meanRGB(clips[0], frame: 5, ffmpeg: ffmpeg)
            for index in [5, Self.frames + 5] {
                let shown = try Self.meanRGB(out, frame: index, ffmpeg: ffmpeg)
                #expect(Self.largest(shown, clip) < 1.5, "frame \(index): \(shown) against the clip's \(clip)")
            }
            let misread = try Self.meanRGB(clips[0], frame: 5, ffmpeg: ffmpeg, matrix: "bt601")
            #expect(Self.largest(misread, clip) >= 2, "read as BT.601, the clip must look different")
        }

        /// Clips of an odd size cannot be re-encoded (H.264 4:2:0): one line naming the first
        /// clip, the fault the input's (not a clip to make again), and nothing written.
        @Test func oddSizedClipsAreRefusedNamingTheClip() throws {
            guard let ffmpeg = ffmpegTool else { return }
            let dir = try TempDir()
            defer { dir.cleanup() }
            let clips = [dir.path("a.mp4"), dir.path("b.mp4")]
            for clip in clips {
                let made = try runProcess(
                    ffmpeg,
                    [
                        "-v", "error", "-y", "-loop", "1", "-i", Fixture.path("portrait.png"), "-vf", "scale=447:449",
                        "-frames:v",
                        "\(Self.frames)", "-r", "25", "-c:v", "mpeg4", clip,
                    ])
                #expect(made.status == 0)
            }
            let out = dir.path("out.mp4")
            let error = #expect(throws: MediaError.self) {
                try Stitcher.stitch(
                    plan: StitchTests.plan([(Self.frames, Self.frames), (Self.frames, Self.frames)], audio: "speech.wav"),
                    clips: clips, audio: Fixture.path("speech.wav"), output: out, options: StitchOptions(reencode: true))
            }
            #expect(error?.file == clips[0] && error?.description.contains("447x449") == true)
            #expect(error?.fault == .input)
            #expect(!FileManager.default.fileExists(atPath: out))
        }

        /// A clip in 10-bit or 4:4:4 is stitched as 8-bit 4:2:0 like the others, and measured
        /// and colour-matched the same way: its drift found and corrected.
        @Test(arguments: ["yuv420p10le", "yuv444p"])
        func clipsOfAnotherFormatAreColourMatched(_ format: String) throws {
            guard let ffmpeg = ffmpegTool else { return }
            let dir = try TempDir()
            defer { dir.cleanup() }
            let frames = 81
            let clips = [dir.path("steady.mp4"), dir.path("drifting.mp4")]
            for (clip, drift) in zip(clips, [false, true]) {
                let seconds = Double(frames - 1) / 25
                let tint =
                    drift
                    ? ",eq=saturation='1+0.5*t/\(seconds)':gamma_r='1+0.2*t/\(seconds)':gamma_b='1-0.2*t/\(seconds)':eval=frame"
                    : ""
                let made = try runProcess(
                    ffmpeg,
                    [
                        "-v", "error", "-y", "-loop", "1", "-i", Fixture.path("portrait.png"), "-vf",
                        "scale=256:256\(tint),format=\(drift ? format : "yuv420p")", "-frames:v", "\(frames)", "-r", "25",
                        "-c:v", "libx264", "-preset", "ultrafast", "-crf", "10", clip,
                    ])
                #expect(made.status == 0, "\(String(decoding: made.stderr, as: UTF8.self))")
            }
            let out = dir.path("out.mp4")
            let result = try Stitcher.stitch(
                plan: StitchTests.plan([(frames, frames), (frames, frames)], audio: "speech.wav"),
                clips: clips, audio: Fixture.path("speech.wav"), output: out,
                options: StitchOptions(colorMatch: StitchOptions.ColorMatch(references: [Fixture.path("portrait.png")])))
            #expect(result.colorMatch.count == 2)
            let drifting = try #require(result.colorMatch.first { $0.segment == 1 })
            #expect(drifting.note == nil && drifting.largestDrift > 3 && drifting.correctedFrames > 0, "\(drifting)")
            #expect(drifting.largestResidual < 1.5, "\(drifting)")
            #expect(result.colorMatch.first { $0.segment == 0 }?.correctedFrames == 0)
        }

        /// A BT.709 clip after an untagged one: the output stays untagged (BT.601) and the BT.709
        /// clip is converted, so it looks as it did instead of shifting at the seam.
        @Test func aClipInAnotherMatrixIsConverted() throws {
            guard let ffmpeg = ffmpegTool else { return }
            let dir = try TempDir()
            defer { dir.cleanup() }
            let clips = [dir.path("601.mp4"), dir.path("709.mp4")]
            try Self.clip(clips[0], bt709: false, ffmpeg: ffmpeg)
            try Self.clip(clips[1], bt709: true, ffmpeg: ffmpeg)
            let out = dir.path("out.mp4")
            _ = try Stitcher.stitch(
                plan: StitchTests.plan([(Self.frames, Self.frames), (Self.frames, Self.frames)], audio: "speech.wav"),
                clips: clips, audio: Fixture.path("speech.wav"), output: out, options: StitchOptions(reencode: true))
            #expect(try Self.matrix(out) == AVCOL_SPC_UNSPECIFIED)
            for (segment, clip) in clips.enumerated() {
                let expected = try Self.meanRGB(clip, frame: 5, ffmpeg: ffmpeg)
                let shown = try Self.meanRGB(out, frame: segment * Self.frames + 5, ffmpeg: ffmpeg)
                #expect(Self.largest(shown, expected) < 1.5, "segment \(segment): \(shown) against the clip's \(expected)")
            }
        }
    }
}
