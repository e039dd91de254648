// media-leak-check: exercises every owner of a C resource in a loop, for valgrind.
// Usage: media-leak-check FIXTURES_DIR [ITERATIONS]
import Foundation
import InfiniPipeline

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: media-leak-check FIXTURES_DIR [ITERATIONS]\n".utf8))
    exit(2)
}
let fixtures = URL(fileURLWithPath: arguments[1])
let iterations = arguments.count > 2 ? Int(arguments[2]) ?? 2 : 2
func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }
let temp = FileManager.default.temporaryDirectory.appendingPathComponent("media-leak-check-\(getpid())")
try? FileManager.default.createDirectory(at: temp, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: temp) }

var failures = 0
@MainActor func expectFailure(_ what: String, _ body: () throws -> Void) {
    do {
        try body()
        print("unexpected success: \(what)")
        failures += 1
    } catch {}
}

for round in 0..<iterations {
    // Audio decode, with and without resampling, from a file and from memory.
    for name in ["speech.mp3", "speech.m4a", "speech.ogg", "speech.flac", "talk-video.mp4"] {
        _ = try AudioReader(path: fixture(name)).read { _ in }
        _ = try AudioReader(path: fixture(name), sampleRate: 16000, channels: 1).read { _ in }
    }
    let m4a = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixture("speech.m4a"))))
    _ = try AudioReader(data: m4a, name: "speech.m4a").read { _ in }
    // Broken inputs: every error path must release what it allocated.
    for name in ["truncated.mp3", "not-audio.mp3", "empty.mp3", "zero-length.wav"] {
        expectFailure(name) { _ = try AudioReader(path: fixture(name)).read { _ in } }
    }
    expectFailure("clip-corrupt.mp4") { _ = try VideoReader(path: fixture("clip-corrupt.mp4")).countFrames() }
    expectFailure("no audio in clip-c") { _ = try AudioReader(path: fixture("clip-c.mp4")) }

    // Video decode to RGB and YUV, encode, remux.
    let reader = try VideoReader(path: fixture("clip-a.mp4"))
    let out = temp.appendingPathComponent("round\(round).mp4").path
    let writer = try MP4Writer(
        path: out,
        video: VideoEncoderSettings(
            width: 128, height: 128, frameRate: 25,
            crf: StitchOptions.defaultCRF, preset: "ultrafast"),
        audio: AudioEncoderSettings(
            sampleRate: 48000, channels: 1,
            bitRate: StitchOptions.defaultAudioBitRate))
    while let frame = try reader.nextFrame() { try writer.append(video: frame) }
    try writer.append(audio: [Float](repeating: 0.1, count: 48000))
    try writer.finish()
    _ = try VideoReader(path: out, pixelFormat: .yuv420p).countFrames()
    try Remuxer.copy(from: fixture("clip-b.mp4"), to: temp.appendingPathComponent("copy\(round).mp4").path)
    // A writer abandoned without finish() must still free everything.
    _ = try MP4Writer(
        path: temp.appendingPathComponent("abandoned.mp4").path,
        video: VideoEncoderSettings(
            width: 64, height: 64, frameRate: 25, crf: StitchOptions.defaultCRF,
            preset: StitchOptions.defaultPreset), audio: nil)

    // Images: decode every format, encode both, and the broken ones.
    for name in [
        "portrait.png", "portrait.jpg", "portrait-cmyk.jpg", "portrait-progressive.jpg", "portrait-gray.jpg",
        "portrait-16bit.png", "portrait-palette.png", "portrait-alpha.png", "portrait-interlaced.png",
    ] {
        let image = try ImageCodec.decode(path: fixture(name))
        _ = try ImageCodec.encodePNG(image)
        _ = try ImageCodec.encodeJPEG(image, quality: 85)
    }
    for name in ["truncated.jpg", "truncated.png", "not-an-image.png", "empty.png", "huge-header.png"] {
        expectFailure(name) { _ = try ImageCodec.decode(path: fixture(name)) }
    }
    // JPEGs whose SOF declares ten times the rows they hold: refused on libjpeg's corrupt-data
    // warning, mid-scan (baseline, CMYK with its row buffer) or inside jpeg_start_decompress
    // (progressive).
    for name in ["portrait.jpg", "portrait-cmyk.jpg", "portrait-progressive.jpg"] {
        var data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixture(name))))
        var sof = 2
        while !(0xC0...0xC2).contains(data[sof + 1]) { sof += 2 + Int(data[sof + 2]) << 8 + Int(data[sof + 3]) }
        let rows = (Int(data[sof + 5]) << 8 + Int(data[sof + 6])) * 10
        data[sof + 5] = UInt8(rows >> 8)
        data[sof + 6] = UInt8(rows & 0xFF)
        expectFailure("\(name) with \(rows) rows") { _ = try ImageCodec.decode(data: data, name: name) }
    }
    _ = try ImageCodec.probe(path: fixture("portrait.png"))
    _ = try ImageCodec.probe(path: fixture("portrait-exif6.jpg"))

    // Vision (OpenCV objects made and freed in CVision): the face crop, with a face and without,
    // a missing cascade, and the morph and zoom transitions of a stitch.
    _ = try ImageFitter(resolution: .p480).fit(path: fixture("portrait-exif6.jpg"))
    _ = try FaceDetector().faces(gray: [UInt8](repeating: 90, count: 96 * 64), width: 96, height: 64)
    expectFailure("an unreadable cascade") {
        _ = try FaceDetector(cascadePath: fixture("not-an-image.png")).faces(
            gray: [UInt8](repeating: 0, count: 64 * 64), width: 64, height: 64)
    }
    var plan = try SegmentPlanner.plan(audioFile: fixture("silence-1s.wav"))
    plan.segments = [
        Plan.Segment(index: 0, startFrame: 0, frameCount: 12, numFrames: 41, cutLoudnessDb: nil),
        Plan.Segment(index: 1, startFrame: 12, frameCount: 13, numFrames: 41, cutLoudnessDb: nil),
    ]
    for transition in [StitchOptions.Transition.morph, .zoom] {
        _ = try Stitcher.stitch(
            plan: plan, clips: [fixture("clip-a.mp4"), fixture("clip-b.mp4")], audio: fixture("silence-1s.wav"),
            output: temp.appendingPathComponent("\(transition)\(round).mp4").path,
            options: StitchOptions(preset: "ultrafast", transition: transition))
    }
    // Burned captions: the filter graph (buffer → ass → buffersink), libass's renderer and fontconfig.
    var burning = StitchOptions(preset: "ultrafast")
    burning.burnedCaptions = StitchOptions.BurnedCaptions(cues: [
        Caption(start: 0.1, end: 0.8, lines: ["A caption", "on two lines"], speaker: "ann"),
        Caption(start: 0.8, end: 0.96, lines: ["and another"], speaker: "bob"),
    ])
    _ = try Stitcher.stitch(
        plan: plan, clips: [fixture("clip-a.mp4"), fixture("clip-b.mp4")], audio: fixture("silence-1s.wav"),
        output: temp.appendingPathComponent("burned\(round).mp4").path, options: burning)
}
print(failures == 0 ? "media-leak-check: \(iterations) rounds done" : "media-leak-check: \(failures) unexpected results")
exit(failures == 0 ? 0 : 1)
