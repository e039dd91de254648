// How a fit is asked for: the aspect to force and where the crop window sits.

import Foundation

extension ImageFitter {
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
}
