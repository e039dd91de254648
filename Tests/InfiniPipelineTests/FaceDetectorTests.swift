import Foundation
import Testing

@testable import InfiniPipeline

/// Luma of an RGB(A)/gray picture, for the detector.
func lumaBytes(_ image: PixelBuffer) -> [UInt8] {
    let c = image.format.channels
    guard c >= 3 else { return image.bytes }
    var out = [UInt8](repeating: 0, count: image.width * image.height)
    for i in 0..<out.count {
        let r = Int(image.bytes[i * c]), g = Int(image.bytes[i * c + 1]), b = Int(image.bytes[i * c + 2])
        out[i] = UInt8((r * 77 + g * 150 + b * 29 + 128) >> 8)
    }
    return out
}

@Suite(.ownThreads) struct FaceDetectorTests {
    @Test func findsTheFaceInThePortrait() throws {
        let image = try ImageCodec.decode(path: Fixture.path("portrait.png"))
        let faces = try FaceDetector().faces(gray: lumaBytes(image), width: image.width, height: image.height)
        let face = try #require(faces.first, "no face in portrait.png")
        // The portrait is a head-and-shoulders photo: one face, in the upper-middle.
        #expect(face.width > image.width / 8 && face.width < image.width)
        #expect(face.center.x > Double(image.width) * 0.25 && face.center.x < Double(image.width) * 0.75)
        #expect(face.center.y < Double(image.height) * 0.6)
    }

    @Test func noFaceInNoise() throws {
        var rng = SystemRandomNumberGenerator()
        let gray = (0..<(320 * 240)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        #expect(try FaceDetector().faces(gray: gray, width: 320, height: 240).isEmpty)
    }

    @Test func aMissingCascadeIsOneLine() {
        #expect(throws: VisionError.self) { try FaceDetector(cascadePath: "/nonexistent/cascade.xml") }
        let unreadable = NSTemporaryDirectory() + "not-a-cascade-\(UUID()).xml"
        _ = FileManager.default.createFile(atPath: unreadable, contents: Data("<nope".utf8))
        defer { try? FileManager.default.removeItem(atPath: unreadable) }
        #expect(throws: VisionError.self) {
            try FaceDetector(cascadePath: unreadable).faces(gray: [UInt8](repeating: 0, count: 100), width: 10, height: 10)
        }
    }
}
