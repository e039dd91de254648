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
    public var resolution: InfiniTalk.Resolution
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
        resolution: InfiniTalk.Resolution, aspect: Aspect? = nil, cropAnchor: CropAnchor = .face,
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
    public func geometry(sourceWidth w: Int, sourceHeight h: Int, face: FaceDetector.Rect?) -> Geometry {
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
        var face: FaceDetector.Rect? = nil
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
    public var face: FaceDetector.Rect?
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
        geometry: ImageFitter.Geometry, face: FaceDetector.Rect? = nil, cropAnchor: ImageFitter.CropAnchor = .center,
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
    public var cropWindow: FaceDetector.Rect {
        let w = geometry.sourceWindow
        let x0 = Int(w.x.rounded(.down)), y0 = Int(w.y.rounded(.down))
        let x1 = min(Int((w.x + w.width - 1e-6).rounded(.up)), sourceWidth)
        let y1 = min(Int((w.y + w.height - 1e-6).rounded(.up)), sourceHeight)
        return FaceDetector.Rect(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
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
