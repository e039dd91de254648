import CFFmpeg
import Foundation
import Testing

@testable import InfiniPipeline

extension Serial {
    @Suite("Media layer")
    struct MediaTests {
        /// Sample counts the ffmpeg 5.1 tool decodes from the fixtures (`ffmpeg -i F -f f32le -`),
        /// per channel. Checked live against the tool too when it is installed.
        static let expectedSamples: [(String, Int, Int, Int)] = [
            // file, sample rate, channels, samples per channel
            ("speech.wav", 22050, 1, 177_360),
            ("speech.mp3", 44100, 2, 354_720),
            ("speech-vbr.mp3", 22050, 1, 177_360),
            ("speech-long.mp3", 22050, 1, 1_533_770),
            ("speech.m4a", 48000, 2, 387_072),
            ("speech.flac", 16000, 1, 128_697),
            ("speech.ogg", 44100, 1, 354_720),
            ("talk-video.mp4", 44100, 1, 133_120),
            ("tone-stereo-48k.wav", 48000, 2, 144_000),
        ]

        @Test func probesStreams() throws {
            let mp3 = try Demuxer(path: Fixture.path("speech.mp3"))
            #expect(mp3.streams.count == 1)
            let audio = try mp3.bestStream(.audio)
            #expect(audio.codecName == "mp3")
            #expect(audio.sampleRate == 44100)
            #expect(audio.channels == 2)
            #expect(abs((audio.duration ?? 0) - 8.0435) < 0.05)

            let clip = try Demuxer(path: Fixture.path("clip-a.mp4"))
            let video = try clip.bestStream(.video)
            #expect(video.codecName == "h264")
            #expect(video.width == 128 && video.height == 128)
            #expect(video.frameRate == Rational(25, 1))
            #expect(video.declaredFrameCount == 41)
            #expect(abs((video.duration ?? 0) - 1.64) < 0.001)
            #expect(try clip.bestStream(.audio).codecName == "aac")
            #expect(!video.extradata.isEmpty)
        }

        @Test func noAudioStreamIsNamed() throws {
            #expect {
                try AudioReader(path: Fixture.path("clip-c.mp4"))
            } throws: { error in
                let e = error as! MediaError
                return e.kind == .noStream && e.description.contains("clip-c.mp4") && e.description.contains("video (h264)")
            }
        }

        @Test(arguments: MediaTests.expectedSamples.map(\.0))
        func decodesExactSampleCounts(_ name: String) throws {
            let expected = Self.expectedSamples.first { $0.0 == name }!
            let reader = try AudioReader(path: Fixture.path(name))
            #expect(reader.outputFormat == AudioFormat(sampleRate: expected.1, channels: expected.2))
            var chunks = 0
            let count = try reader.read { chunk in
                chunks += 1
                #expect(chunk.count % expected.2 == 0)
            }
            #expect(count == expected.3, "\(name): \(count) samples, expected \(expected.3)")
            #expect(chunks > 1)
        }

        @Test(
            .enabled(if: ffmpegTool != nil, "compares with the ffmpeg tool, which is not installed"),
            arguments: MediaTests.expectedSamples.map(\.0))
        func sampleCountsMatchTheFFmpegTool(_ name: String) throws {
            let expected = Self.expectedSamples.first { $0.0 == name }!
            let ffmpeg = try #require(ffmpegTool)
            let out = try runProcess(
                ffmpeg, ["-v", "error", "-i", Fixture.path(name), "-vn", "-f", "f32le", "-c:a", "pcm_f32le", "-"])
            #expect(out.status == 0)
            #expect(
                out.stdout.count / 4 / expected.2 == expected.3,
                "\(name): the ffmpeg tool decodes \(out.stdout.count / 4 / expected.2)")
        }

        @Test(.enabled(if: ffmpegTool != nil, "compares with the ffmpeg tool, which is not installed"))
        func decodedSamplesMatchTheFFmpegTool() throws {
            let ffmpeg = try #require(ffmpegTool)
            let ours = try AudioReader(path: Fixture.path("speech.mp3")).readAll()
            let out = try runProcess(
                ffmpeg, ["-v", "error", "-i", Fixture.path("speech.mp3"), "-f", "f32le", "-c:a", "pcm_f32le", "-"])
            let theirs = out.stdout.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            #expect(ours.count == theirs.count)
            var maxDiff: Float = 0
            for i in 0..<min(ours.count, theirs.count) { maxDiff = max(maxDiff, abs(ours[i] - theirs[i])) }
            #expect(maxDiff < 1e-5)
        }

        @Test func resamplesAndRemixes() throws {
            let reader = try AudioReader(path: Fixture.path("tone-stereo-48k.wav"), sampleRate: 16000, channels: 1)
            let samples = try reader.readAll()
            // 3.0 s at 16 kHz; swresample's filter may add or drop a sample at the edges.
            #expect(abs(samples.count - 48_000) <= 2)
            let peak = samples.map(abs).max() ?? 0
            #expect(peak > 0.05 && peak <= 1.0)
        }

        @Test func readsFromMemory() throws {
            let bytes = try Fixture.bytes("speech.m4a")
            let fromMemory = try AudioReader(data: bytes, name: "speech.m4a (memory)")
            let fromFile = try AudioReader(path: Fixture.path("speech.m4a"))
            let a = try fromMemory.readAll(), b = try fromFile.readAll()
            #expect(a == b)
            #expect(a.count == 387_072 * 2)
        }

        @Test(arguments: ["truncated.mp3", "not-audio.mp3", "empty.mp3", "zero-length.wav", "missing.mp3"])
        func brokenAudioThrowsNamingTheFile(_ name: String) throws {
            do {
                let reader = try AudioReader(path: Fixture.path(name))
                _ = try reader.read { _ in }
                Issue.record("\(name) decoded without an error")
            } catch let error as MediaError {
                #expect(error.description.contains(name))
                #expect(error.isInputProblem, "\(error)")
                #expect(!error.description.contains("\n"))
            }
        }

        @Test func decodesVideoFramesInOrder() throws {
            let reader = try VideoReader(path: Fixture.path("clip-a.mp4"))
            var index = 0
            while let frame = try reader.nextFrame() {
                #expect(frame.width == 128 && frame.height == 128)
                #expect(barcodeIndex(frame) == index)
                let color = lowerAreaColor(frame)
                #expect(abs(color.0 - 60) < 6 && abs(color.1 - 90) < 6 && abs(color.2 - 160) < 6)
                #expect(abs((frame.time ?? -1) - Double(index) / 25) < 1e-6)
                index += 1
            }
            #expect(index == 41)
        }

        @Test func decodesVideoToYUV() throws {
            let reader = try VideoReader(path: Fixture.path("clip-b.mp4"), pixelFormat: .yuv420p)
            let frame = try #require(try reader.nextFrame())
            #expect(frame.planes.map(\.count) == [128 * 128, 64 * 64, 64 * 64])
            #expect(frame.isKeyFrame)
            #expect(try reader.countFrames() == 44)
        }

        @Test func corruptClipThrows() throws {
            #expect(throws: MediaError.self) {
                let reader = try VideoReader(path: Fixture.path("clip-corrupt.mp4"))
                _ = try reader.countFrames()
            }
        }

        @Test func encodeDecodeRoundTripKeepsCountsAndDuration() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let path = dir.path("roundtrip.mp4")
            let writer = try MP4Writer(
                path: path, video: VideoEncoderSettings(width: 64, height: 48, frameRate: 25, crf: 20, preset: "ultrafast"),
                audio: AudioEncoderSettings(sampleRate: 48000, channels: 2, bitRate: 128_000))
            for i in 0..<30 {
                var pixels = PixelBuffer(width: 64, height: 48, format: .rgb8, fill: 0)
                for y in 0..<48 { for x in 0..<64 { pixels.bytes[(y * 64 + x) * 3] = UInt8((x * 4 + i * 8) & 255) } }
                try writer.append(video: VideoFrame(width: 64, height: 48, rgb24: pixels.bytes))
            }
            var tone = [Float](repeating: 0, count: 57_600 * 2)
            for i in 0..<57_600 {
                let v = Float(0.5 * sin(2 * Double.pi * 440 * Double(i) / 48000))
                tone[2 * i] = v; tone[2 * i + 1] = v
            }
            try writer.append(audio: tone)
            try writer.finish()

            #expect(try mp4TopLevelBoxes(path).prefix(2) == ["ftyp", "moov"])
            let demuxer = try Demuxer(path: path)
            let video = try demuxer.bestStream(.video)
            #expect(video.codecName == "h264" && video.width == 64 && video.height == 48)
            #expect(abs((video.duration ?? 0) - 1.2) < 1e-6)
            #expect(try VideoReader(path: path).countFrames() == 30)
            let audio = try AudioReader(path: path)
            let decoded = try audio.read { _ in }
            // AAC works in 1024-sample frames: the decoded length rounds up to whole frames.
            #expect(decoded >= 57_600 && decoded < 57_600 + 1024)

            // And once more through the encoder from decoded frames (decode → encode → decode).
            let again = dir.path("again.mp4")
            let reader = try VideoReader(path: path)
            let writer2 = try MP4Writer(
                path: again, video: VideoEncoderSettings(width: 64, height: 48, frameRate: 25, crf: 18, preset: "ultrafast"),
                audio: nil)
            while let frame = try reader.nextFrame() { try writer2.append(video: frame) }
            try writer2.finish()
            #expect(try VideoReader(path: again).countFrames() == 30)
        }

        @Test func remuxCopiesPacketsWithoutReencoding() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let out = dir.path("copy.mp4")
            let counts = try Remuxer.copy(from: Fixture.path("clip-a.mp4"), to: out)
            #expect(counts[0] == 41)
            #expect(try mp4TopLevelBoxes(out).prefix(2) == ["ftyp", "moov"])
            let a = try VideoReader(path: Fixture.path("clip-a.mp4")), b = try VideoReader(path: out)
            #expect(a.stream.extradata == b.stream.extradata)
            var n = 0
            while let fa = try a.nextFrame() {
                let fb = try #require(try b.nextFrame())
                #expect(fa.planes == fb.planes)
                #expect(fa.time == fb.time)
                n += 1
            }
            #expect(try b.nextFrame() == nil)
            #expect(n == 41)
        }

        @Test func planeSizesFollowFFmpegsRounding() {
            #expect(
                PlaneSize.planes(of: AV_PIX_FMT_YUV420P, width: 5, height: 5)
                    == [
                        PlaneSize(bytesPerRow: 5, rows: 5), PlaneSize(bytesPerRow: 3, rows: 3),
                        PlaneSize(bytesPerRow: 3, rows: 3),
                    ])
            #expect(PlaneSize.planes(of: AV_PIX_FMT_RGB24, width: 4, height: 2) == [PlaneSize(bytesPerRow: 12, rows: 2)])
            #expect(PlaneSize.planes(of: AV_PIX_FMT_YUV444P, width: 3, height: 2).map(\.byteCount) == [6, 6, 6])
            #expect(PlaneSize.planes(of: AV_PIX_FMT_NONE, width: 4, height: 4).isEmpty)
            #expect(
                VideoPixelFormat.yuv420p.planeSizes(width: 128, height: 128).map(\.byteCount) == [128 * 128, 64 * 64, 64 * 64])
        }

        @Test func framePlanesWalkTheVisibleRows() throws {
            // A 5x3 yuv420p frame: FFmpeg pads its rows; the walk sees only the visible bytes.
            let frame = try Frame.video(width: 5, height: 3, format: AV_PIX_FMT_YUV420P)
            frame.withPlanes { planes in
                #expect(planes.sizes.map(\.bytesPerRow) == [5, 3, 3])
                #expect(planes.sizes.map(\.rows) == [3, 2, 2])
                #expect(Int(planes.linesize[0]) >= 5)
                for (plane, size) in planes.sizes.enumerated() {
                    for y in 0..<size.rows {
                        let row = planes.row(y, of: plane)
                        for x in row.indices { row[x] = UInt8(plane * 100 + y * 10 + x) }
                    }
                }
            }
            // Read back through FFmpeg's own conversion of the same frame.
            let reader = try VideoReader(path: Fixture.path("clip-a.mp4"), pixelFormat: .yuv420p)
            let converted = try reader.convert(frame)
            #expect(converted.planes[0] == [0, 1, 2, 3, 4, 10, 11, 12, 13, 14, 20, 21, 22, 23, 24])
            #expect(converted.planes[1] == [100, 101, 102, 110, 111, 112])
            #expect(converted.planes[2] == [200, 201, 202, 210, 211, 212])
        }

        @Test func framesWithWrongPlaneSizesAreRefused() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let writer = try MP4Writer(
                path: dir.path("bad.mp4"),
                video: VideoEncoderSettings(width: 64, height: 48, frameRate: 25, crf: 30, preset: "ultrafast"),
                audio: nil)
            #expect {
                try writer.append(video: VideoFrame(width: 64, height: 48, rgb24: [UInt8](repeating: 0, count: 64 * 47 * 3)))
            } throws: { error in
                (error as? MediaError)?.kind == .misuse
            }
        }

        @Test func failedAllocationsThrowInsteadOfTrapping() {
            let none: UnsafeMutablePointer<AVPacket>? = nil
            #expect {
                _ = try FFmpeg.allocated(none, "a packet", file: "x.mp4")
            } throws: { error in
                let e = error as? MediaError
                return e?.kind == .outOfMemory && e?.description == "x.mp4: out of memory allocating a packet"
                    && e?.isInputProblem == false
            }
        }

        @Test func unwritableOutputThrows() throws {
            #expect(throws: MediaError.self) {
                try Remuxer.copy(from: Fixture.path("clip-a.mp4"), to: "/nonexistent-dir/out.mp4")
            }
        }
    }
}
