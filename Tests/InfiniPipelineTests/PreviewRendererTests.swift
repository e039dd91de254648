import Foundation
import Testing

@testable import InfiniPipeline

extension Serial {
    /// The preview backend's clips: they start from the portrait and drift like the model's, and
    /// show the speaker's name.
    @Suite("Preview renderer")
    struct PreviewRendererTests {
        /// The fitted fixture portrait (640x640 at 480p).
        static func fittedPortrait() throws -> PixelBuffer {
            try ImageFitter(resolution: .p480, cropAnchor: .center, filter: .bilinear).fit(
                path: Fixture.path("portrait.png")
            ).pixels
        }

        static func segment(index: Int, numFrames: Int = 721, speaker: String? = nil) -> Plan.Segment {
            Plan.Segment(
                index: index, startFrame: index * 1000, frameCount: numFrames, numFrames: numFrames, cutLoudnessDb: nil,
                speaker: speaker)
        }

        /// Mean absolute difference of two equal-size rgb8 pictures over rows `rows`.
        static func meanDifference(_ a: PixelBuffer, _ b: PixelBuffer, rows: Range<Int>) -> Double {
            let stride = a.width * 3
            var total = 0
            for i in (rows.lowerBound * stride)..<(rows.upperBound * stride) { total += abs(Int(a.bytes[i]) - Int(b.bytes[i])) }
            return Double(total) / Double(rows.count * stride)
        }

        /// Rows free of captions and the meter: the middle half of the frame.
        static func middle(_ image: PixelBuffer) -> Range<Int> { (image.height / 4)..<(image.height * 3 / 4) }

        @Test func everySegmentStartsFromThePortraitAndDrifts() throws {
            let image = try Self.fittedPortrait()
            let renderer = PreviewRenderer(image: image)
            var frame = image
            for index in [0, 1, 5] {
                let segment = Self.segment(index: index)
                // The first frame is the portrait itself under the captions.
                try renderer.render(frame: 0, of: segment, segmentCount: 6, speaker: nil, level: 0.5, into: &frame)
                #expect(Self.meanDifference(frame, image, rows: Self.middle(image)) == 0, "segment \(index)")
                let still = PreviewRenderer.drift(frame: 0, segmentIndex: index)
                #expect(still.zoom == 1 && still.panX == 0 && still.panY == 0)
                // Then it moves away from it, further as the clip goes on.
                var distances: [Double] = []
                for k in [25, 200, 720] {
                    try renderer.render(frame: k, of: segment, segmentCount: 6, speaker: nil, level: 0.5, into: &frame)
                    distances.append(Self.meanDifference(frame, image, rows: Self.middle(image)))
                }
                #expect(distances[0] > 0.2 && distances[0] < distances[1] && distances[1] < distances[2], "\(distances)")
                #expect(distances[2] > 5, "\(distances)")
            }
            // Deterministic, and each segment drifts its own way.
            var a = image, b = image, c = image
            try renderer.render(frame: 400, of: Self.segment(index: 1), segmentCount: 6, speaker: nil, level: 0, into: &a)
            try renderer.render(frame: 400, of: Self.segment(index: 1), segmentCount: 6, speaker: nil, level: 0, into: &b)
            try renderer.render(frame: 400, of: Self.segment(index: 2), segmentCount: 6, speaker: nil, level: 0, into: &c)
            #expect(a == b)
            #expect(Self.meanDifference(a, c, rows: Self.middle(image)) > 1)
        }

        @Test func theDriftZoomsAndPansWithoutShowingAnEdge() throws {
            // A picture whose columns and rows are numbered by colour: the warp's samples can be read.
            var source = PixelBuffer(width: 200, height: 120, format: .rgb8)
            for y in 0..<120 {
                for x in 0..<200 {
                    source.bytes[(y * 200 + x) * 3] = UInt8(x)
                    source.bytes[(y * 200 + x) * 3 + 1] = UInt8(y * 2)
                }
            }
            var out = source
            try PreviewRenderer.warp(source, zoom: 2, panX: 0, panY: 0, into: &out)
            // Zoom 2 about the centre shows columns 50…150: output column 0 samples 49.75 → 50.
            #expect(abs(Int(out.bytes[0]) - 50) <= 1 && abs(Int(out.bytes[(199) * 3]) - 150) <= 1)
            for k in stride(from: 0, through: 720, by: 80) {
                for index in 0..<8 {
                    let d = PreviewRenderer.drift(frame: k, segmentIndex: index)
                    // The shown window stays inside the picture.
                    let half = 0.5 / d.zoom
                    #expect(0.5 + d.panX - half >= 0 && 0.5 + d.panX + half <= 1)
                    #expect(0.5 + d.panY - half >= 0 && 0.5 + d.panY + half <= 1)
                    #expect(d.zoom >= 1 && d.zoom <= 1.08 + 1e-12)
                }
            }
        }

        @Test func theSpeakersNameIsWrittenIntoTheFrame() throws {
            let image = try Self.fittedPortrait()
            let renderer = PreviewRenderer(image: image)
            let segment = Self.segment(index: 2)
            var named = image, plain = image
            try renderer.render(frame: 10, of: segment, segmentCount: 4, speaker: "Alice", level: 0.3, into: &named)
            try renderer.render(frame: 10, of: segment, segmentCount: 4, speaker: nil, level: 0.3, into: &plain)
            let area = try #require(PreviewRenderer.speakerArea(imageWidth: image.width, imageHeight: image.height))
            let rows = area.y..<(area.y + area.height)
            #expect(Self.meanDifference(named, plain, rows: rows) > 5)
            // Only the caption band changes.
            #expect(Self.meanDifference(named, plain, rows: 0..<area.y) == 0)
            #expect(Self.meanDifference(named, plain, rows: (area.y + area.height)..<image.height) == 0)
            // Another name draws other pixels; accents and lower case are drawn as plain capitals.
            var bob = image
            try renderer.render(frame: 10, of: segment, segmentCount: 4, speaker: "Bob", level: 0.3, into: &bob)
            #expect(Self.meanDifference(named, bob, rows: rows) > 1)
            #expect(BitmapFont.displayed("José Ñuñez #2") == "JOSE NUNEZ #2")
            #expect(BitmapFont.displayed("李") == "?")
            // A name too long for the frame is cut to fit.
            let long = String(repeating: "Maximilian ", count: 20)
            let shown = BitmapFont.fitting(long, width: area.width - 2 * area.scale, scale: area.scale)
            #expect(shown.hasSuffix("..") && BitmapFont.width(of: shown, scale: area.scale) <= area.width - 2 * area.scale)
        }

        /// Through the encoder: a real clip's first frame is the portrait, its last has drifted,
        /// and a named speaker shows in the caption band of the decoded frames.
        @Test(.timeLimit(.minutes(1))) func aRenderedClipStartsFromThePortraitAndNamesTheSpeaker() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let image = try Self.fittedPortrait()
            let audio = Fixture.path("speech.wav")
            func frames(speaker: String?, name: String) throws -> [PixelBuffer] {
                let clip = dir.path(name)
                try PreviewRenderer(image: image).render(
                    segment: Self.segment(index: 3, numFrames: 81), segmentCount: 5, speaker: speaker, audioFile: audio,
                    output: clip)
                let reader = try VideoReader(path: clip)
                var all: [PixelBuffer] = []
                while let frame = try reader.nextFrame() {
                    all.append(PixelBuffer(width: frame.width, height: frame.height, format: .rgb8, bytes: frame.planes[0]))
                }
                return all
            }
            let named = try frames(speaker: "Alice", name: "named.mp4")
            let plain = try frames(speaker: nil, name: "plain.mp4")
            #expect(named.count == 81 && plain.count == 81)
            let middle = Self.middle(image)
            let first = Self.meanDifference(plain[0], image, rows: middle)
            let last = Self.meanDifference(plain[80], image, rows: middle)
            #expect(first < 3, "first frame differs from the portrait by \(first)")
            #expect(last > first + 1, "last frame \(last) vs first \(first)")
            let area = try #require(PreviewRenderer.speakerArea(imageWidth: image.width, imageHeight: image.height))
            let band = area.y..<(area.y + area.height)
            #expect(Self.meanDifference(named[40], plain[40], rows: band) > 5)
            #expect(Self.meanDifference(named[40], plain[40], rows: middle) < 2)
        }

        /// The request carries the speaker (optional in JSON, left out when nil), and the preview
        /// backend writes it.
        @Test(.timeLimit(.minutes(1))) func thePreviewBackendWritesTheRequestsSpeaker() async throws {
            let input = InfiniTalkRequest(
                imageURL: "i.png", audioURL: "a.wav", prompt: "p", numFrames: 41, resolution: .p480, seed: 1,
                acceleration: .regular)
            let plain = ClipRequest(segment: Self.segment(index: 0, numFrames: 41), segmentCount: 1, input: input)
            #expect(plain.speaker == nil)
            let encoded = try JSONEncoder().encode(plain)
            #expect(!String(decoding: encoded, as: UTF8.self).contains("\"speaker\""))
            #expect(try JSONDecoder().decode(ClipRequest.self, from: encoded) == plain)
            let withSpeaker = ClipRequest(
                segment: Self.segment(index: 0, numFrames: 41), segmentCount: 1, input: input, speaker: "Bob")
            #expect(try JSONDecoder().decode(ClipRequest.self, from: JSONEncoder().encode(withSpeaker)).speaker == "Bob")

            let dir = try TempDir()
            defer { dir.cleanup() }
            let backend = PreviewBackend(directory: URL(fileURLWithPath: dir.path("")))
            let portrait = try ImageCodec.encodePNG(PixelBuffer(width: 320, height: 320, format: .rgb8, fill: 200))
            let imageURL = try await backend.stageImage(png: portrait, fileName: "portrait.png")
            var clips: [PixelBuffer] = []
            for speaker in ["Bob", nil] as [String?] {
                var request = withSpeaker
                request.speaker = speaker
                request.input.imageURL = imageURL
                request.input.audioURL = Fixture.path("speech.wav")
                let submitted = try await backend.submit(request)
                let url = try await backend.waitForResult(submitted, request: request, progress: { _ in })
                let destination = URL(fileURLWithPath: dir.path("\(speaker ?? "none").mp4"))
                try await backend.download(url, to: destination)
                let frame = try #require(try VideoReader(path: destination.path).nextFrame())
                clips.append(PixelBuffer(width: frame.width, height: frame.height, format: .rgb8, bytes: frame.planes[0]))
            }
            let area = try #require(PreviewRenderer.speakerArea(imageWidth: 320, imageHeight: 320))
            #expect(Self.meanDifference(clips[0], clips[1], rows: area.y..<(area.y + area.height)) > 5)
        }
    }
}
