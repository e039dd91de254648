import Foundation
import Testing

@testable import InfiniPipeline

@Suite("PNG and JPEG codecs", .ownThreads)
struct ImageCodecTests {
    @Test(arguments: [
        ("portrait.png", 384, 384, PixelBuffer.Format.rgb8),
        ("portrait.jpg", 384, 384, .rgb8),
        ("portrait-gray.jpg", 256, 256, .gray8),
        ("portrait-progressive.jpg", 256, 256, .rgb8),
        ("portrait-cmyk.jpg", 256, 256, .rgb8),
        ("portrait-alpha.png", 256, 256, .rgba8),
        ("portrait-16bit.png", 128, 128, .rgb8),
        ("portrait-palette.png", 128, 128, .rgb8),
        ("portrait-gray.png", 128, 128, .gray8),
        ("portrait-gray-alpha.png", 128, 128, .rgba8),
        ("portrait-interlaced.png", 128, 128, .rgb8),
        ("portrait-exif6.jpg", 256, 384, .rgb8),
    ])
    func decodesEveryFixtureFormat(_ name: String, _ width: Int, _ height: Int, _ format: PixelBuffer.Format) throws {
        let image = try ImageCodec.decode(path: Fixture.path(name))
        #expect(image.width == width && image.height == height && image.format == format)
        // Real picture content, not a blank buffer.
        let mean = Double(image.bytes.reduce(0) { $0 + Int($1) }) / Double(image.bytes.count)
        #expect(mean > 10 && mean < 245)
    }

    /// The same picture stored as CMYK, progressive and baseline must decode to the same colours
    /// (Adobe's inverted CMYK handled), within JPEG error.
    @Test func cmykAndProgressiveMatchTheReferencePixels() throws {
        let cmyk = try ImageCodec.decode(path: Fixture.path("portrait-cmyk.jpg"))
        let progressive = try ImageCodec.decode(path: Fixture.path("portrait-progressive.jpg"))
        #expect(psnr(cmyk.bytes, progressive.bytes) > 25)
    }

    @Test func pngRoundTripIsLossless() throws {
        for name in ["portrait.png", "portrait-alpha.png", "portrait-gray.png"] {
            let image = try ImageCodec.decode(path: Fixture.path(name))
            let encoded = try ImageCodec.encodePNG(image)
            #expect(ImageCodec.sniff(encoded) == .png)
            let back = try ImageCodec.decode(data: encoded, name: "re-encoded \(name)")
            #expect(back == image)
        }
    }

    @Test func jpegRoundTripIsClose() throws {
        let image = try ImageCodec.decode(path: Fixture.path("portrait.png"))
        let encoded = try ImageCodec.encodeJPEG(image, quality: 95)
        #expect(ImageCodec.sniff(encoded) == .jpeg)
        let back = try ImageCodec.decode(data: encoded, name: "re-encoded")
        #expect(back.width == image.width && back.height == image.height)
        #expect(psnr(back.bytes, image.bytes) > 35)
        // No metadata: no APP1 (EXIF) marker.
        #expect(!encoded.indices.dropLast().contains { encoded[$0] == 0xFF && encoded[$0 + 1] == 0xE1 })
    }

    @Test func hugeImageIsRefusedFromItsHeader() throws {
        let header = try ImageCodec.readHeader(data: try Fixture.bytes("huge-header.png"), name: "huge-header.png")
        #expect(header.width == 20000 && header.height == 20000)
        #expect {
            try ImageCodec.decode(path: Fixture.path("huge-header.png"))
        } throws: { error in
            let e = error as! MediaError
            return e.kind == .tooLarge && e.description.contains("huge-header.png") && e.description.contains("20000x20000")
        }
    }

    @Test(arguments: ["truncated.jpg", "truncated.png", "not-an-image.png", "empty.png", "no-such-image.png"])
    func brokenImagesThrowNamingTheFile(_ name: String) {
        do {
            _ = try ImageCodec.decode(path: Fixture.path(name))
            Issue.record("\(name) decoded")
        } catch let error as MediaError {
            #expect(error.isInputProblem)
            #expect(error.description.contains(name))
            #expect(!error.description.contains("\n"))
        } catch {
            Issue.record("unexpected error type \(error)")
        }
    }

    /// Damaged images (cut short, with random bytes changed) come back as an image or as a
    /// `MediaError` naming the input, never reach exit(). Seeded: see ``FuzzSeed``.
    @Test func randomBytesNeverCrashTheDecoders() throws {
        let seed = try FuzzSeed.value(default: 0x1F_2024_0013)
        var rng = TestRandom(seed: seed)
        let jpeg = try Fixture.bytes("portrait.jpg"), png = try Fixture.bytes("portrait.png")
        for trial in 0..<40 {
            let context = Comment(rawValue: "trial \(trial), \(FuzzSeed.variable)=\(seed)")
            var data = trial % 2 == 0 ? jpeg : png
            data = Array(data[0..<rng.int(16...(data.count - 1))])
            for _ in 0..<8 { data[rng.int(12...(data.count - 1))] = rng.byte() }
            do {
                let image = try ImageCodec.decode(data: data, name: "fuzz")
                #expect(image.width > 0 && image.height > 0, context)
            } catch let error as MediaError {
                #expect(error.file == "fuzz" && !error.description.contains("\n"), "\(error); \(context)")
            } catch {
                Issue.record("unexpected error \(error); \(context)")
            }
        }
    }
}

/// The seed of a randomised test: a fixed default, so every run checks the same inputs and a
/// failure reproduces, or `INFINIPIPELINE_FUZZ_SEED` (decimal or `0x` hex) to try others.
/// Failure messages name the seed.
enum FuzzSeed {
    static let variable = "INFINIPIPELINE_FUZZ_SEED"

    struct Unreadable: Error, CustomStringConvertible {
        let text: String
        var description: String { "\(FuzzSeed.variable)=\(text) is not a decimal or 0x-hex UInt64" }
    }

    /// The seed from the environment, else `fallback`.
    static func value(default fallback: UInt64) throws -> UInt64 {
        guard let text = ProcessInfo.processInfo.environment[variable], !text.isEmpty else { return fallback }
        let parsed = text.lowercased().hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
        guard let parsed else { throw Unreadable(text: text) }
        return parsed
    }
}
