import Foundation
import Testing

@testable import InfiniPipeline

/// Portraits made in memory: the head and shoulders of Fixtures/portrait.png placed on a larger,
/// textured canvas, so where the face is (and where a centre crop would cut it) is known.
enum FramingPictures {
    /// The fixture portrait and its face box.
    static func portrait() throws -> (image: PixelBuffer, face: FaceDetector.Rect) {
        let image = try ImageCodec.decode(path: Fixture.path("portrait.png"))
        let face = try #require(
            try FaceDetector().faces(gray: lumaBytes(image), width: image.width, height: image.height).first)
        return (image, face)
    }

    /// A soft, face-free texture: slow diagonal waves in muted colours.
    static func canvas(width: Int, height: Int) -> PixelBuffer {
        var canvas = PixelBuffer(width: width, height: height, format: .rgb8)
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                let wave = sin(Double(x + 2 * y) / 37) * 18 + cos(Double(3 * x - y) / 53) * 12
                canvas.bytes[i] = UInt8(clamping: Int(150 + wave))
                canvas.bytes[i + 1] = UInt8(clamping: Int(160 + wave * 0.8))
                canvas.bytes[i + 2] = UInt8(clamping: Int(140 - wave * 0.5))
            }
        }
        return canvas
    }

    /// `canvas` with the portrait's head and shoulders (the face box widened on every side)
    /// pasted so that the face's centre lands at (`cx`, `cy`) fractions of the canvas.
    /// - Returns: the picture and where the pasted face box now is.
    static func place(
        on size: (width: Int, height: Int), faceCentre cx: Double, _ cy: Double
    ) throws -> (image: PixelBuffer, face: FaceDetector.Rect) {
        let (portrait, face) = try portrait()
        let margin = face.width * 3 / 4
        let x0 = max(0, face.x - margin), y0 = max(0, face.y - margin)
        let x1 = min(portrait.width, face.x + face.width + margin), y1 = min(portrait.height, face.y + face.height + margin)
        var canvas = canvas(width: size.width, height: size.height)
        let faceX = Int(cx * Double(size.width)) - face.width / 2
        let faceY = Int(cy * Double(size.height)) - face.height / 2
        let dx = faceX - face.x, dy = faceY - face.y
        for y in y0..<y1 {
            let ty = y + dy
            guard ty >= 0, ty < size.height else { continue }
            for x in x0..<x1 {
                let tx = x + dx
                guard tx >= 0, tx < size.width else { continue }
                for c in 0..<3 { canvas.bytes[(ty * size.width + tx) * 3 + c] = portrait.bytes[(y * portrait.width + x) * 3 + c] }
            }
        }
        return (canvas, FaceDetector.Rect(x: faceX, y: faceY, width: face.width, height: face.height))
    }
}

extension FaceDetector.Rect {
    /// Whether `other` lies inside this rectangle, allowing `slack` pixels on each side.
    func contains(_ other: FaceDetector.Rect, slack: Int = 1) -> Bool {
        other.x >= x - slack && other.y >= y - slack && other.x + other.width <= x + width + slack
            && other.y + other.height <= y + height + slack
    }

    /// The overlap ÷ the union.
    func overlap(_ other: FaceDetector.Rect) -> Double {
        let ix = max(0, min(x + width, other.x + other.width) - max(x, other.x))
        let iy = max(0, min(y + height, other.y + other.height) - max(y, other.y))
        let inter = Double(ix * iy)
        return inter / (Double(area + other.area) - inter)
    }
}

extension Serial {
    @Suite("Face framing")
    struct FaceFramingTests {
        struct Case: Sendable, CustomTestStringConvertible {
            var name: String
            var width: Int
            var height: Int
            var cx: Double
            var cy: Double
            var aspect: String
            var testDescription: String { name }
        }

        /// Off-centre faces in wide and tall photos, cropped to a shape that leaves most of the
        /// picture out: a centre crop would cut the face, the face anchor keeps it.
        static let cases: [Case] = [
            Case(name: "wide, face left", width: 960, height: 540, cx: 0.16, cy: 0.45, aspect: "9:16"),
            Case(name: "wide, face right", width: 960, height: 540, cx: 0.84, cy: 0.5, aspect: "9:16"),
            Case(name: "wide, face left, square crop", width: 960, height: 480, cx: 0.2, cy: 0.5, aspect: "1:1"),
            Case(name: "tall, face top", width: 480, height: 960, cx: 0.5, cy: 0.14, aspect: "16:9"),
            Case(name: "tall, face top left", width: 540, height: 960, cx: 0.3, cy: 0.16, aspect: "1:1"),
        ]

        @Test(arguments: cases)
        func anOffCentreFaceEndsUpInsideTheCrop(_ c: Case) throws {
            let (picture, placed) = try FramingPictures.place(on: (c.width, c.height), faceCentre: c.cx, c.cy)
            let aspect = try ImageFitter.Aspect(parsing: c.aspect)
            let fitted = try ImageFitter(resolution: .p480, aspect: aspect).fit(picture)
            let face = try #require(fitted.face, "no face found")
            #expect(face.overlap(placed) > 0.6, "found \(face), placed \(placed)")
            #expect(fitted.cropAnchor == .face && fitted.warnings.isEmpty)
            let crop = fitted.cropWindow
            #expect(crop.contains(face), "face \(face) outside crop \(crop)")
            // Natural position where the picture allows it: centred across, eyes a third down.
            let across = (face.center.x - Double(crop.x)) / Double(crop.width)
            let eyes = (Double(face.y) + 0.4 * Double(face.height) - Double(crop.y)) / Double(crop.height)
            if fitted.geometry.coverWidth > fitted.bucket.width && fitted.geometry.cropX > 0
                && fitted.geometry.cropX < fitted.geometry.coverWidth - fitted.bucket.width
            {
                #expect(abs(across - 0.5) < 0.02, "face centre at \(across) of the width")
            }
            if fitted.geometry.coverHeight > fitted.bucket.height && fitted.geometry.cropY > 0
                && fitted.geometry.cropY < fitted.geometry.coverHeight - fitted.bucket.height
            {
                #expect(abs(eyes - 1.0 / 3) < 0.02, "eyes at \(eyes) of the height")
            }
            // The same picture cropped at the centre loses the face: the test can tell.
            let centred = try ImageFitter(resolution: .p480, aspect: aspect, cropAnchor: .center).fit(picture)
            #expect(!centred.cropWindow.contains(placed, slack: 0))
            #expect(centred.face == nil && centred.cropAnchor == .center && centred.warnings.isEmpty)
        }

        @Test func thePlacementFollowsTheRule() {
            // A 2000x1000 picture cropped square: 480p 1:1 is 640x640, the cover 1280x640.
            let fitter = ImageFitter(resolution: .p480, aspect: ImageFitter.Aspect(width: 1, height: 1))
            // A face with centre x = 1500 source px → 960 cover px; the window starts at 960 − 320.
            var g = fitter.geometry(
                sourceWidth: 2000, sourceHeight: 1000, face: FaceDetector.Rect(x: 1400, y: 300, width: 200, height: 200))
            #expect(g.cropX == 640 && g.cropY == 0)
            // Near the right edge: clamped to the image.
            g = fitter.geometry(
                sourceWidth: 2000, sourceHeight: 1000, face: FaceDetector.Rect(x: 1850, y: 300, width: 140, height: 140))
            #expect(g.cropX == 640)
            // Tall: 1000x3000 cropped square, cover 640x1920. Eyes at 1000 + 0.4·300 = 1120 source
            // px = 716.8 cover px; a third of 640 above them: 503.5.
            g = fitter.geometry(
                sourceWidth: 1000, sourceHeight: 3000, face: FaceDetector.Rect(x: 350, y: 1000, width: 300, height: 300))
            #expect(g.cropX == 0 && g.cropY == 503)
            // A face near the top: the window cannot start above the image.
            g = fitter.geometry(
                sourceWidth: 1000, sourceHeight: 3000, face: FaceDetector.Rect(x: 350, y: 20, width: 300, height: 300))
            #expect(g.cropY == 0)
            // A face too tall for its eyes to sit a third down: the window keeps the face's top.
            // Face 1500…2400 → 960…1536 cover px; the eyes' rule would start the window at
            // 960 + 0.4·576 − 213.3 = 977, cutting 17 px off the top, so it starts at 960.
            g = fitter.geometry(
                sourceWidth: 1000, sourceHeight: 3000, face: FaceDetector.Rect(x: 0, y: 1500, width: 1000, height: 900))
            #expect(g.cropY == 960)
            // No face: the anchor's fractions (the face anchor's are the centre).
            #expect(
                fitter.geometry(sourceWidth: 2000, sourceHeight: 1000, face: nil)
                    == ImageFitter(
                        resolution: .p480, aspect: ImageFitter.Aspect(width: 1, height: 1), cropAnchor: .center
                    ).geometry(sourceWidth: 2000, sourceHeight: 1000))
        }

        @Test func aPictureWithoutAFaceIsCentredWithAWarning() throws {
            let picture = FramingPictures.canvas(width: 800, height: 450)
            let aspect = ImageFitter.Aspect(width: 1, height: 1)
            let fitted = try ImageFitter(resolution: .p480, aspect: aspect).fit(picture)
            #expect(fitted.face == nil)
            #expect(fitted.cropAnchor == .center)
            #expect(fitted.warnings == ["no face found; the crop is centred"])
            let centred = try ImageFitter(resolution: .p480, aspect: aspect, cropAnchor: .center).fit(picture)
            #expect(fitted.pixels == centred.pixels && fitted.geometry == centred.geometry)
            #expect(centred.warnings.isEmpty)
        }

        @Test func aMissingCascadeFallsBackToTheCentreSayingWhy() throws {
            let (picture, _) = try FramingPictures.place(on: (960, 540), faceCentre: 0.16, 0.45)
            var fitter = ImageFitter(resolution: .p480, aspect: ImageFitter.Aspect(width: 1, height: 1))
            fitter.faceCascadePath = "/nonexistent/haarcascade_frontalface_default.xml"
            let fitted = try fitter.fit(picture)
            #expect(fitted.face == nil && fitted.cropAnchor == .center)
            let warning = try #require(fitted.warnings.first)
            #expect(fitted.warnings.count == 1)
            #expect(warning.hasPrefix("cannot search for a face (no face cascade found"), "\(warning)")
            #expect(warning.contains("install opencv-data") && warning.hasSuffix("the crop is centred"))
            let centred = try ImageFitter(
                resolution: .p480, aspect: ImageFitter.Aspect(width: 1, height: 1), cropAnchor: .center
            ).fit(picture)
            #expect(fitted.pixels == centred.pixels)
        }

        /// The stored pixels of a photo taken in every EXIF orientation: the face is searched on the
        /// upright picture and reported in upright pixels, so every orientation frames alike.
        @Test(arguments: ExifOrientation.allCases)
        func everyOrientationIsSearchedUpright(_ orientation: ExifOrientation) throws {
            let (upright, placed) = try FramingPictures.place(on: (960, 540), faceCentre: 0.16, 0.45)
            let stored = upright.applying(orientation.inverse)
            #expect(stored.applying(orientation) == upright)
            let fitter = ImageFitter(resolution: .p480, aspect: ImageFitter.Aspect(width: 1, height: 1), filter: .bilinear)
            let reference = try fitter.fit(upright)
            let fitted = try fitter.fit(stored, orientation: orientation)
            let face = try #require(fitted.face, "\(orientation): no face found")
            let referenceFace = try #require(reference.face)
            #expect(face.overlap(referenceFace) > 0.8, "\(orientation): \(face) vs \(referenceFace)")
            #expect(face.overlap(placed) > 0.6)
            #expect(abs(fitted.geometry.cropX - reference.geometry.cropX) <= 4)
            #expect(fitted.cropWindow.contains(face))
        }

        @Test func rotatedPhoneShotsAreSearchedAfterUprighting() throws {
            // portrait-exif6.jpg is stored turned a quarter; its upright picture is 384x256.
            let fitter = ImageFitter(resolution: .p480, aspect: ImageFitter.Aspect(width: 9, height: 16))
            let fitted = try fitter.fit(path: Fixture.path("portrait-exif6.jpg"))
            #expect(fitted.sourceWidth == 384 && fitted.sourceHeight == 256)
            let face = try #require(fitted.face, "no face found in portrait-exif6.jpg")
            let upright = try ImageCodec.decode(path: Fixture.path("portrait-exif6.jpg")).applying(.right)
            let expected = try #require(
                try FaceDetector().faces(gray: lumaBytes(upright), width: upright.width, height: upright.height).first)
            #expect(face.overlap(expected) > 0.8, "\(face) vs \(expected)")
            #expect(fitted.cropWindow.contains(face))
            // Searched as stored (sideways), the cascade finds no face: the uprighting is what finds it.
            let stored = try ImageCodec.decode(path: Fixture.path("portrait-exif6.jpg"))
            #expect(try FaceDetector().faces(gray: lumaBytes(stored), width: stored.width, height: stored.height).isEmpty)
            // orient-1…8.jpg hold the same small head shot stored in the eight orientations: each
            // finds the face that the upright one (orient-1.jpg) has, and crops alike.
            let fitter2 = ImageFitter(resolution: .p480, aspect: ImageFitter.Aspect(width: 1, height: 1))
            let reference = try fitter2.fit(path: Fixture.path("orient-1.jpg"))
            let referenceFace = try #require(reference.face, "no face in orient-1.jpg")
            for n in 2...8 {
                let small = try fitter2.fit(path: Fixture.path("orient-\(n).jpg"))
                let face = try #require(small.face, "orient-\(n).jpg: no face found")
                #expect(face.overlap(referenceFace) > 0.7, "orient-\(n): \(face) vs \(referenceFace)")
                #expect(small.cropAnchor == .face && small.warnings.isEmpty)
                // Within two source pixels (20 pixels of the 10× covering image).
                #expect(abs(small.cropWindow.x - reference.cropWindow.x) <= 2, "orient-\(n)")
            }
        }

        @Test func aFileFitReportsTheFaceInFullSizePixels() throws {
            // A large JPEG is decoded shrunk; the face box and crop are still in the file's pixels.
            let dir = try TempDir()
            defer { dir.cleanup() }
            let (small, _) = try FramingPictures.place(on: (960, 540), faceCentre: 0.8, 0.45)
            let big = Resampler.resample(small, width: 3840, height: 2160, filter: .bilinear)
            let path = dir.path("big.jpg")
            try Data(try ImageCodec.encodeJPEG(big, quality: 90)).write(to: URL(fileURLWithPath: path))
            let fitter = ImageFitter(resolution: .p480, aspect: ImageFitter.Aspect(width: 1, height: 1))
            let fromFile = try fitter.fit(path: path)
            let fromPixels = try fitter.fit(big)
            let a = try #require(fromFile.face), b = try #require(fromPixels.face)
            #expect(a.overlap(b) > 0.8, "\(a) vs \(b)")
            #expect(fromFile.cropWindow.overlap(fromPixels.cropWindow) > 0.97)
            #expect(fromFile.cropWindow.contains(a, slack: 4))
            #expect(psnr(fromFile.pixels.bytes, fromPixels.pixels.bytes) > 30)
        }

        @Test func parsesFaceAndCenter() throws {
            #expect(try ImageFitter.CropAnchor(parsing: "face") == .face)
            #expect(try ImageFitter.CropAnchor(parsing: " Face ") == .face)
            #expect(try ImageFitter.CropAnchor(parsing: "center") == .center)
            #expect(try ImageFitter.CropAnchor(parsing: "centre") == .center)
            #expect(ImageFitter.CropAnchor.face.findsFace && !ImageFitter.CropAnchor.center.findsFace)
            #expect(ImageFitter.CropAnchor.face != .center)
            #expect(ImageFitter.CropAnchor.face.description == "face" && ImageFitter.CropAnchor.center.description == "center")
            #expect(ImageFitter.CropAnchor(x: 0.25, y: 1).description == "0.25,1.0")
            #expect(ImageFitter(resolution: .p480).cropAnchor == .face)
            #expect(throws: ImageFitError.malformedCropAnchor("faces")) { try ImageFitter.CropAnchor(parsing: "faces") }
            #expect(
                ImageFitError.malformedCropAnchor("faces").description
                    == "cropAnchor \"faces\": expected face, center or two fractions x,y, e.g. 0.5,0.3")
            // Codable: the fractions as before, `face` only when set; bad fractions are refused.
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            #expect(String(decoding: try encoder.encode(ImageFitter.CropAnchor.center), as: UTF8.self) == #"{"x":0.5,"y":0.5}"#)
            let face = try encoder.encode(ImageFitter.CropAnchor.face)
            #expect(String(decoding: face, as: UTF8.self) == #"{"face":true,"x":0.5,"y":0.5}"#)
            #expect(try JSONDecoder().decode(ImageFitter.CropAnchor.self, from: face) == .face)
            #expect(
                try JSONDecoder().decode(ImageFitter.CropAnchor.self, from: Data(#"{"x":0.2,"y":0.3}"#.utf8))
                    == ImageFitter.CropAnchor(x: 0.2, y: 0.3))
            #expect(throws: DecodingError.self) {
                try JSONDecoder().decode(ImageFitter.CropAnchor.self, from: Data(#"{"x":2,"y":0.3}"#.utf8))
            }
        }

        @Test(.timeLimit(.minutes(1))) func fitImageSaysWhereTheFaceIs() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let (picture, placed) = try FramingPictures.place(on: (960, 540), faceCentre: 0.16, 0.45)
            let input = dir.path("left.png")
            try Data(try ImageCodec.encodePNG(picture)).write(to: URL(fileURLWithPath: input))
            let text = try runProcess(infinistitchBinary, ["fit-image", input, "--aspect", "9:16", "-o", dir.path("a.png")])
            #expect(text.status == 0)
            let out = String(decoding: text.stdout, as: UTF8.self)
            #expect(out.contains("face at ") && out.contains("crop anchor face"), "\(out)")

            let json = try runProcess(
                infinistitchBinary, ["fit-image", input, "--aspect", "9:16", "--json", "-o", dir.path("b.png")])
            #expect(json.status == 0)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout)) as? [String: Any])
            #expect(object["cropAnchor"] as? String == "face")
            let box = try #require(object["face"] as? [String: Int])
            let face = FaceDetector.Rect(
                x: box["x"] ?? -1, y: box["y"] ?? -1, width: box["width"] ?? 0, height: box["height"] ?? 0)
            #expect(face.overlap(placed) > 0.6)
            let crop = try #require(object["crop"] as? [String: Int])
            #expect((crop["x"] ?? 9999) <= face.x && (crop["x"] ?? 0) + (crop["width"] ?? 0) >= face.x + face.width)
            #expect((object["warnings"] as? [String])?.isEmpty == true)

            // No face: null, the centre, and the warning on stderr.
            let plain = dir.path("plain.png")
            try Data(try ImageCodec.encodePNG(FramingPictures.canvas(width: 480, height: 270))).write(
                to: URL(fileURLWithPath: plain))
            let none = try runProcess(infinistitchBinary, ["fit-image", plain, "--json", "-o", dir.path("c.png")])
            #expect(none.status == 0)
            let noFace = try #require(try JSONSerialization.jsonObject(with: Data(none.stdout)) as? [String: Any])
            #expect(noFace["face"] is NSNull)
            #expect(noFace["cropAnchor"] as? String == "center")
            #expect(String(decoding: none.stderr, as: UTF8.self) == "warning: \(plain): no face found; the crop is centred\n")

            // An explicit anchor is used as given, with no search.
            let given = try runProcess(
                infinistitchBinary, ["fit-image", input, "--crop-anchor", "center", "--json", "-o", dir.path("d.png")])
            let centred = try #require(try JSONSerialization.jsonObject(with: Data(given.stdout)) as? [String: Any])
            #expect(centred["face"] is NSNull && centred["cropAnchor"] as? String == "center")
            #expect(given.stderr.isEmpty)
            let help = try runProcess(infinistitchBinary, ["fit-image", "--help"])
            #expect(String(decoding: help.stdout, as: UTF8.self).contains("face|center|X,Y"))
        }
    }
}
