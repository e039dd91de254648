// InfiniPipeline: turns any decoded portrait into exactly the frame the model renders.

import Foundation

/// Text helpers shared by the image-stage parsers.
enum ImageFitText {
    /// `text` without leading or trailing whitespace.
    static func trimmed(_ text: String) -> String {
        guard let first = text.firstIndex(where: { !$0.isWhitespace }),
            let last = text.lastIndex(where: { !$0.isWhitespace })
        else { return "" }
        return String(text[first...last])
    }

    /// A finite number, or `nil`; rejects "nan", "inf" and empty text.
    static func finiteNumber(_ text: String) -> Double? {
        let t = trimmed(text)
        guard !t.isEmpty, let v = Double(t), v.isFinite else { return nil }
        return v
    }
}

/// Fits a decoded portrait to the InfiniTalk frame size: upright, opaque rgb8, exactly one
/// of the model's aspect buckets.
///
/// The geometry is the reference's `resize_and_centercrop`: pick the bucket nearest the
/// image's height ÷ width (or a forced aspect), scale by `max(th/h, tw/w)` to a covering
/// size `ceil(scale·h) × ceil(scale·w)`, then cut the bucket out of it. The crop window is
/// placed by ``cropAnchor``: around the largest frontal face by default (found with
/// ``FaceDetector`` on the upright picture), else at given fractions (the centre matches
/// torchvision's `center_crop`); only that window is resampled, straight from the source.
public struct ImageFitter: Sendable {
    /// The smallest accepted image side, in pixels.
    public static let minimumSide = 64

    /// A forced aspect ratio, written width:height.
    public struct Aspect: Sendable, Hashable, Codable, CustomStringConvertible {
        /// The width part (> 0).
        public var width: Double
        /// The height part (> 0).
        public var height: Double

        /// Creates an aspect from its two positive parts.
        /// - Parameters:
        ///   - width: The width part.
        ///   - height: The height part.
        /// - Precondition: both parts are finite and positive.
        public init(width: Double, height: Double) {
            precondition(
                width > 0 && height > 0 && width.isFinite && height.isFinite,
                "ImageFitter.Aspect: parts must be positive")
            self.width = width
            self.height = height
        }

        /// Parses an aspect written `"W:H"`, e.g. `"16:9"`, `"2.39:1"`.
        /// - Parameter text: The aspect; spaces around the numbers are ignored.
        /// - Throws: ``ImageFitError`` of kind `invalidAspect`, option `aspect`.
        public init(parsing text: String) throws {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2,
                let w = ImageFitText.finiteNumber(String(parts[0])),
                let h = ImageFitText.finiteNumber(String(parts[1])),
                w > 0, h > 0
            else {
                throw ImageFitError.invalidAspect(text)
            }
            self.init(width: w, height: h)
        }

        /// The ratio buckets are keyed by: height ÷ width.
        public var heightOverWidth: Double { height / width }

        /// `"W:H"` with integral parts printed without a decimal point.
        public var description: String {
            func part(_ v: Double) -> String {
                v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v)
            }
            return "\(part(width)):\(part(height))"
        }
    }

    /// Where the crop window sits within the scaled, covering image.
    ///
    /// Either fractions of the slack on each axis (0 keeps the left/top edge, 1 the
    /// right/bottom edge), or ``face``: the window is placed around the largest frontal face
    /// (horizontally centred, the eyes about a third from the top when the crop allows),
    /// falling back to ``x`` and ``y`` (the centre) when no face is found.
    public struct CropAnchor: Sendable, Hashable, Codable, CustomStringConvertible {
        /// Horizontal fraction, 0…1 (for ``face``, the fallback when no face is found).
        public var x: Double
        /// Vertical fraction, 0…1 (for ``face``, the fallback when no face is found).
        public var y: Double
        /// Whether the window is placed around the largest frontal face found in the image.
        public private(set) var findsFace: Bool = false

        /// Creates an anchor from fractions.
        /// - Parameters:
        ///   - x: Horizontal fraction: 0 keeps the left edge, 1 the right edge.
        ///   - y: Vertical fraction: 0 keeps the top edge, 1 the bottom edge.
        /// - Precondition: both fractions are in 0…1.
        public init(x: Double, y: Double) {
            precondition(
                (0...1).contains(x) && (0...1).contains(y),
                "ImageFitter.CropAnchor: fractions must be in 0...1")
            self.x = x
            self.y = y
        }

        /// The centre, 0.5, 0.5: the reference's centre crop.
        public static let center = CropAnchor(x: 0.5, y: 0.5)

        /// Around the largest frontal face (the default): horizontally centred on it, its eyes
        /// about a third from the top when the crop allows, clamped to the image; the centre
        /// when no face is found (the fit then says so in ``FittedImage/warnings``).
        public static let face: CropAnchor = {
            var anchor = CropAnchor(x: 0.5, y: 0.5)
            anchor.findsFace = true
            return anchor
        }()

        /// Parses an anchor written `"face"`, `"center"` (or `"centre"`) or `"x,y"`, e.g. `"0.5,0.3"`.
        /// - Parameter text: The anchor; case and spaces around it are ignored.
        /// - Throws: ``ImageFitError`` of kind `malformedCropAnchor` or `cropAnchorOutOfRange`,
        ///   option `cropAnchor`.
        public init(parsing text: String) throws {
            switch ImageFitText.trimmed(text).lowercased() {
            case "face": self = .face; return
            case "center", "centre": self = .center; return
            default: break
            }
            let parts = text.split(separator: ",", omittingEmptySubsequences: false)
            guard parts.count == 2,
                let x = ImageFitText.finiteNumber(String(parts[0])),
                let y = ImageFitText.finiteNumber(String(parts[1]))
            else {
                throw ImageFitError.malformedCropAnchor(text)
            }
            guard (0...1).contains(x), (0...1).contains(y) else {
                throw ImageFitError.cropAnchorOutOfRange(text)
            }
            self.init(x: x, y: y)
        }

        private enum CodingKeys: String, CodingKey { case x, y, face }

        /// Decodes `{"x": …, "y": …}`, with `"face": true` for ``face``.
        /// - Throws: `DecodingError` when a fraction is outside 0…1.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            let x = try container.decode(Double.self, forKey: .x)
            let y = try container.decode(Double.self, forKey: .y)
            guard (0...1).contains(x), (0...1).contains(y) else {
                throw DecodingError.dataCorruptedError(
                    forKey: (0...1).contains(x) ? .y : .x, in: container,
                    debugDescription: "each fraction must be between 0 and 1")
            }
            self.init(x: x, y: y)
            findsFace = try container.decodeIfPresent(Bool.self, forKey: .face) ?? false
        }

        /// Encodes `{"x": …, "y": …}`, adding `"face": true` for ``face``.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(x, forKey: .x)
            try container.encode(y, forKey: .y)
            if findsFace { try container.encode(true, forKey: .face) }
        }

        /// `"face"`, `"center"`, or `"x,y"`: a form ``init(parsing:)`` reads back.
        public var description: String {
            if findsFace { return "face" }
            if x == 0.5 && y == 0.5 { return "center" }
            return "\(x),\(y)"
        }
    }

    /// Where the output comes from, for logs and dry runs.
    public struct Geometry: Sendable, Hashable {
        /// The chosen frame size.
        public var bucket: AspectBuckets.Bucket
        /// Width of the reference's covering resize, `ceil(scale·w)`.
        public var coverWidth: Int
        /// Height of the reference's covering resize, `ceil(scale·h)`.
        public var coverHeight: Int
        /// Left edge of the crop in the covering image.
        public var cropX: Int
        /// Top edge of the crop in the covering image.
        public var cropY: Int
        /// The crop in (upright) source pixels: what is actually resampled.
        var sourceWindow: Resampler.Window
    }

    /// Which bucket table to use.
    public var resolution: Resolution
    /// A forced aspect; `nil` picks the bucket nearest the image's own shape.
    public var aspect: Aspect?
    /// Where the crop window sits; around the face by default.
    public var cropAnchor: CropAnchor
    /// The colour transparent pixels are composited over; white by default.
    public var background: RGBColor
    /// The resampling kernel; Lanczos-3 by default.
    public var filter: ResamplingFilter
    /// The face cascade for ``CropAnchor/face``; `nil` looks in ``FaceDetector/defaultCascadePaths``.
    var faceCascadePath: String? = nil

    /// Creates a fitter.
    /// - Parameters:
    ///   - resolution: Which bucket table to use.
    ///   - aspect: A forced aspect; `nil` picks the bucket nearest the image's own shape.
    ///   - cropAnchor: Where the crop window sits; around the face by default.
    ///   - background: The colour transparent pixels are composited over; white by default.
    ///   - filter: The resampling kernel; Lanczos-3 by default.
    public init(
        resolution: Resolution, aspect: Aspect? = nil, cropAnchor: CropAnchor = .face,
        background: RGBColor = .white, filter: ResamplingFilter = .lanczos3
    ) {
        self.resolution = resolution
        self.aspect = aspect
        self.cropAnchor = cropAnchor
        self.background = background
        self.filter = filter
    }

    /// The bucket an upright image of this size gets: nearest the forced ``aspect`` if set,
    /// else nearest `height / width`.
    /// - Parameters:
    ///   - sourceWidth: The upright image's width in pixels.
    ///   - sourceHeight: The upright image's height in pixels.
    public func bucket(sourceWidth: Int, sourceHeight: Int) -> AspectBuckets.Bucket {
        let ratio = aspect?.heightOverWidth ?? Double(sourceHeight) / Double(sourceWidth)
        return AspectBuckets.bucket(forAspect: ratio, resolution: resolution)
    }

    /// The full fitting geometry for an upright image of this size, with the window placed by
    /// the anchor's fractions (for ``CropAnchor/face``, its fallback, the centre: no pixels
    /// are searched here; see ``geometry(sourceWidth:sourceHeight:face:)``).
    ///
    /// Reproduces the reference's arithmetic in `Double`, including `ceil(scale·h)` (which can
    /// exceed the bucket by a pixel when `scale·h` rounds up), and centres like torchvision's
    /// `center_crop` (`round((H − th) / 2)`, halves to even) when the anchor is 0.5.
    /// - Parameters:
    ///   - w: The upright image's width in pixels.
    ///   - h: The upright image's height in pixels.
    /// - Precondition: both sizes are positive.
    public func geometry(sourceWidth w: Int, sourceHeight h: Int) -> Geometry {
        geometry(sourceWidth: w, sourceHeight: h, face: nil)
    }

    /// The full fitting geometry for an upright image of this size, with the window placed
    /// around `face` when one is given, else by the anchor's fractions.
    ///
    /// Around a face, the window is centred on it horizontally and puts its eyes (taken as 40%
    /// down the face box) a third from the top; then it is moved as little as needed to keep
    /// the whole face inside (when the face fits), and clamped to the image.
    /// - Parameters:
    ///   - w: The upright image's width in pixels.
    ///   - h: The upright image's height in pixels.
    ///   - face: A face in upright source pixels, or `nil`.
    /// - Precondition: both sizes are positive.
    public func geometry(sourceWidth w: Int, sourceHeight h: Int, face: PixelRect?) -> Geometry {
        precondition(w > 0 && h > 0, "ImageFitter: empty image")
        let bucket = self.bucket(sourceWidth: w, sourceHeight: h)
        let th = bucket.height, tw = bucket.width
        let scale = max(Double(th) / Double(h), Double(tw) / Double(w))
        let coverH = max(Int((scale * Double(h)).rounded(.up)), th)
        let coverW = max(Int((scale * Double(w)).rounded(.up)), tw)
        let sx = Double(w) / Double(coverW), sy = Double(h) / Double(coverH)
        let cropX: Int, cropY: Int
        if let face {
            // The face in covering-image pixels.
            let left = Double(face.x) / sx, right = Double(face.x + face.width) / sx
            let top = Double(face.y) / sy, bottom = Double(face.y + face.height) / sy
            cropX = Self.place(
                ideal: (left + right) / 2 - Double(tw) / 2, keeping: left, right, span: tw, slack: coverW - tw)
            let eyes = top + 0.4 * (bottom - top)
            cropY = Self.place(
                ideal: eyes - Double(th) / 3, keeping: top, bottom, span: th, slack: coverH - th)
        } else {
            cropX = Int((cropAnchor.x * Double(coverW - tw)).rounded(.toNearestOrEven))
            cropY = Int((cropAnchor.y * Double(coverH - th)).rounded(.toNearestOrEven))
        }
        let window = Resampler.Window(
            x: Double(cropX) * sx, y: Double(cropY) * sy,
            width: Double(tw) * sx, height: Double(th) * sy)
        return Geometry(
            bucket: bucket, coverWidth: coverW, coverHeight: coverH,
            cropX: cropX, cropY: cropY, sourceWindow: window)
    }

    /// The start of a `span`-long window on one axis: `ideal`, moved as little as needed to
    /// hold `low…high` inside (centred on it when it is longer than the span), within `0…slack`.
    private static func place(ideal: Double, keeping low: Double, _ high: Double, span: Int, slack: Int) -> Int {
        var start = ideal
        if high - low <= Double(span) {
            start = min(max(start, high - Double(span)), low)
        } else {
            start = (low + high) / 2 - Double(span) / 2
        }
        return min(max(Int(start.rounded()), 0), max(slack, 0))
    }

    /// Fits a decoded image to its bucket.
    ///
    /// Steps: refuse images under ``minimumSide``; with ``CropAnchor/face``, search the upright
    /// picture (at most ``FaceDetector/searchSize`` pixels on its longer side) for the largest
    /// frontal face; compute the geometry on the upright image; resample the crop window
    /// straight to the bucket size, widening gray to rgb and compositing alpha over
    /// ``background`` as rows are read; orientation is applied to the small result, which is
    /// equivalent to applying it to the source first.
    ///
    /// A face anchor never fails a fit: with no face found, or no way to search (the cascade
    /// file is missing), the window falls back to the anchor's fractions (the centre) and
    /// ``FittedImage/warnings`` says why.
    ///
    /// - Parameters:
    ///   - image: The decoded image in any ``PixelBuffer/Format``, as stored in the file.
    ///   - orientation: The file's EXIF orientation.
    /// - Throws: ``ImageFitError`` of kind `imageTooSmall`, naming the upright size.
    public func fit(_ image: PixelBuffer, orientation: ExifOrientation = .up) throws -> FittedImage {
        let uprightW = orientation.swapsDimensions ? image.height : image.width
        let uprightH = orientation.swapsDimensions ? image.width : image.height
        guard uprightW >= Self.minimumSide, uprightH >= Self.minimumSide else {
            throw ImageFitError.imageTooSmall(width: uprightW, height: uprightH)
        }
        var face: PixelRect? = nil
        var anchorUsed = cropAnchor
        var warnings: [String] = []
        if cropAnchor.findsFace {
            let fallback = CropAnchor(x: cropAnchor.x, y: cropAnchor.y)
            let placed = fallback == .center ? "the crop is centred" : "the crop is placed at \(fallback)"
            do {
                let (faces, passedOver) = try FaceSearch.faces(
                    in: image, orientation: orientation, background: background, cascadePath: faceCascadePath)
                face = faces.first
                if let face, faces.count > 1 {
                    // A group picture: the largest face may not be the one meant.
                    warnings.append(
                        "\(faces.count) faces found; the crop is around the largest, at \(face) (WxH+X+Y); anchor the crop at X,Y to frame another"
                    )
                } else if face == nil {
                    anchorUsed = fallback
                    // A box without a face's eyes is said, so that a real face missed is understood.
                    let missed =
                        passedOver == 0
                        ? "" : " (\(passedOver) face-like area\(passedOver == 1 ? "" : "s") without a face's eyes passed over)"
                    warnings.append("no face found\(missed); \(placed)")
                }
            } catch let error as VisionError {
                anchorUsed = fallback
                warnings.append("cannot search for a face (\(error.description)); \(placed)")
            }
        }
        let geometry = self.geometry(sourceWidth: uprightW, sourceHeight: uprightH, face: face)
        // Resample the stored pixels directly and orient only the small result: the kernel is
        // symmetric and separable, so this equals orienting first, without copying the full image.
        let storedWindow = orientation.storedWindow(
            ofUpright: geometry.sourceWindow,
            storedWidth: image.width, storedHeight: image.height)
        let outW = orientation.swapsDimensions ? geometry.bucket.height : geometry.bucket.width
        let outH = orientation.swapsDimensions ? geometry.bucket.width : geometry.bucket.height
        // gray8 and rgba8 are converted (alpha flattened over the background) row by row as the
        // resampler reads them, so a large photo is never copied in full.
        let pixels = Resampler.resample(
            image, window: storedWindow, width: outW, height: outH,
            filter: filter, background: background
        )
        .applying(orientation)
        return FittedImage(
            pixels: pixels, bucket: geometry.bucket,
            sourceWidth: uprightW, sourceHeight: uprightH, geometry: geometry,
            face: face, cropAnchor: anchorUsed, warnings: warnings)
    }
}

/// A portrait ready for the model: upright, opaque, exactly one bucket in size.
public struct FittedImage: Sendable {
    /// rgb8 pixels, exactly `bucket.width × bucket.height`.
    public var pixels: PixelBuffer
    /// The frame size the model will render.
    public var bucket: AspectBuckets.Bucket
    /// Width of the source image after orientation was applied.
    public var sourceWidth: Int
    /// Height of the source image after orientation was applied.
    public var sourceHeight: Int
    /// How the source was scaled and cropped.
    public var geometry: ImageFitter.Geometry
    /// The largest frontal face found, in upright source pixels; `nil` when none was found or
    /// the anchor did not look for one.
    public var face: PixelRect?
    /// The anchor that placed the crop: ``ImageFitter/CropAnchor/face`` when a face placed
    /// it, its fallback (the centre) when none was found, else the anchor asked for.
    public var cropAnchor: ImageFitter.CropAnchor
    /// What the fit could not do as asked, one line each (no face found, no face cascade).
    public var warnings: [String]

    /// Bundles a fitted image with its provenance.
    /// - Parameters:
    ///   - pixels: rgb8 pixels, exactly `bucket.width × bucket.height`.
    ///   - bucket: The frame size the model will render.
    ///   - sourceWidth: Width of the source image after orientation was applied.
    ///   - sourceHeight: Height of the source image after orientation was applied.
    ///   - geometry: How the source was scaled and cropped.
    ///   - face: The face that placed the crop, in upright source pixels.
    ///   - cropAnchor: The anchor that placed the crop.
    ///   - warnings: What the fit could not do as asked.
    public init(
        pixels: PixelBuffer, bucket: AspectBuckets.Bucket, sourceWidth: Int, sourceHeight: Int,
        geometry: ImageFitter.Geometry, face: PixelRect? = nil, cropAnchor: ImageFitter.CropAnchor = .center,
        warnings: [String] = []
    ) {
        self.pixels = pixels
        self.bucket = bucket
        self.sourceWidth = sourceWidth
        self.sourceHeight = sourceHeight
        self.geometry = geometry
        self.face = face
        self.cropAnchor = cropAnchor
        self.warnings = warnings
    }

    /// The crop window in upright source pixels (rounded outward to whole pixels): what the
    /// fitted frame shows of the source.
    public var cropWindow: PixelRect {
        let w = geometry.sourceWindow
        let x0 = Int(w.x.rounded(.down)), y0 = Int(w.y.rounded(.down))
        let x1 = min(Int((w.x + w.width - 1e-6).rounded(.up)), sourceWidth)
        let y1 = min(Int((w.y + w.height - 1e-6).rounded(.up)), sourceHeight)
        return PixelRect(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
    }

    /// The fitted image as a PNG file's bytes, with no metadata: what the pipeline uploads.
    /// - Throws: `MediaError` (`.encodeFailed`) when libpng fails.
    public func pngData() throws -> Data {
        Data(try ImageCodec.encodePNG(pixels))
    }

    /// The fitted image as a baseline JPEG file's bytes, with no metadata.
    /// - Parameter quality: The JPEG quality, 1…100 (values outside are clamped).
    /// - Throws: `MediaError` (`.encodeFailed`) when libjpeg fails.
    public func jpegData(quality: Int = 92) throws -> Data {
        Data(try ImageCodec.encodeJPEG(pixels, quality: min(max(quality, 1), 100)))
    }
}

extension ErrorKind where Owner == ImageFitError {
    /// A colour that is not one of the accepted forms (see ``RGBColor/init(parsing:)``).
    public static var invalidColor: Self { Self("invalidColor") }
    /// An aspect that is not `W:H` with two positive numbers.
    public static var invalidAspect: Self { Self("invalidAspect") }
    /// A crop anchor that is not `face`, `center` or two comma-separated numbers.
    public static var malformedCropAnchor: Self { Self("malformedCropAnchor") }
    /// A crop anchor with a fraction outside 0…1.
    public static var cropAnchorOutOfRange: Self { Self("cropAnchorOutOfRange") }
    /// An image smaller than ``ImageFitter/minimumSide`` on some side.
    public static var imageTooSmall: Self { Self("imageTooSmall") }
}
