// Finds faces in a picture with OpenCV's frontal-face Haar cascade (through CVision).
import CVision
import Foundation

extension FaceDetector {
    /// A rectangle in an image's pixels, e.g. where a face was found.
    public struct Rect: Sendable, Hashable, Codable, CustomStringConvertible {
        /// Left edge.
        public var x: Int
        /// Top edge.
        public var y: Int
        /// Width in pixels.
        public var width: Int
        /// Height in pixels.
        public var height: Int

        /// A rectangle.
        public init(x: Int, y: Int, width: Int, height: Int) {
            self.x = x
            self.y = y
            self.width = width
            self.height = height
        }

        /// Its area in pixels.
        public var area: Int { width * height }
        /// Its centre.
        public var center: (x: Double, y: Double) { (Double(x) + Double(width) / 2, Double(y) + Double(height) / 2) }

        /// `WxH+X+Y`, as image tools write geometry.
        public var description: String { "\(width)x\(height)+\(x)+\(y)" }
    }
}

/// The old name of ``FaceDetector/Rect``.
@available(*, deprecated, renamed: "FaceDetector.Rect")
public typealias PixelRect = FaceDetector.Rect

/// Finds frontal faces in a grayscale picture with OpenCV's Haar cascade
/// (`haarcascade_frontalface_default.xml`, from Debian's `opencv-data`), keeping only boxes
/// that hold a face's pair of eyes (`haarcascade_eye.xml`, beside it).
///
/// The face cascade alone sometimes boxes a small person's head several times too large (a box
/// larger than a nearer person's face, so the crop went to the wrong person), or a texture:
/// such a box has no eyes of a face's proportions where a face has them, and is dropped.
public struct FaceDetector: Sendable {
    /// Where the cascade is looked for, in order, when no path is given:
    /// `$INFINIPIPELINE_FACE_CASCADE`, then Debian's and Homebrew's `opencv-data` locations.
    public static var defaultCascadePaths: [String] {
        let name = "haarcascades/haarcascade_frontalface_default.xml"
        var paths: [String] = []
        if let override = ProcessInfo.processInfo.environment["INFINIPIPELINE_FACE_CASCADE"], !override.isEmpty {
            paths.append(override)
        }
        for base in ["/usr/share/opencv4", "/usr/share/opencv", "/usr/local/share/opencv4", "/opt/homebrew/share/opencv4"] {
            paths.append("\(base)/\(name)")
        }
        return paths
    }

    /// The cascade file in use.
    public let cascadePath: String
    /// The eye cascade that confirms each face (see ``faces(gray:width:height:stride:)``):
    /// `haarcascade_eye.xml` beside ``cascadePath`` when it is there; `nil` keeps every box
    /// the face cascade finds.
    public var eyeCascadePath: String?
    /// The longer side, in pixels, at which pictures are searched (larger ones are scaled down).
    public var searchSize: Int = 640
    /// Faces smaller than this fraction of the picture's shorter side are ignored.
    public var minimumFaceFraction: Double = 0.08

    /// A detector over the cascade at `cascadePath`, or the first of ``defaultCascadePaths`` that exists.
    /// - Throws: ``VisionError`` `.cascadeNotFound` when there is no such file.
    public init(cascadePath: String? = nil) throws {
        let candidates = cascadePath.map { [$0] } ?? Self.defaultCascadePaths
        guard let found = candidates.first(where: { FileManager.default.isReadableFile(atPath: $0) }) else {
            throw VisionError.cascadeNotFound(candidates)
        }
        self.cascadePath = found
        let eyes = URL(fileURLWithPath: found).deletingLastPathComponent().appendingPathComponent("haarcascade_eye.xml").path
        eyeCascadePath = FileManager.default.isReadableFile(atPath: eyes) ? eyes : nil
    }

    /// The faces in a grayscale picture, largest first (boxes without a face's eyes dropped,
    /// when there is an ``eyeCascadePath``).
    /// - Parameters:
    ///   - gray: `height` rows of `stride` bytes, one luma byte per pixel.
    ///   - width: Width in pixels.
    ///   - height: Height in pixels.
    ///   - stride: Bytes from one row to the next (`width` when `nil`).
    /// - Throws: ``VisionError`` `.failed` when OpenCV cannot read a cascade or fails.
    public func faces(gray: [UInt8], width: Int, height: Int, stride: Int? = nil) throws -> [FaceDetector.Rect] {
        try search(gray: gray, width: width, height: height, stride: stride).faces
    }

    /// ``faces(gray:width:height:stride:)``, and how many boxes of the face cascade were dropped
    /// for want of a face's eyes.
    func search(gray: [UInt8], width: Int, height: Int, stride: Int? = nil) throws -> (faces: [FaceDetector.Rect], rejected: Int)
    {
        let rowBytes = stride ?? width
        guard width > 0, height > 0, rowBytes >= width, gray.count >= rowBytes * (height - 1) + width,
            let w = Int32(exactly: width), let h = Int32(exactly: height), let s = Int32(exactly: rowBytes)
        else {
            throw VisionError.failed("a \(width)×\(height) picture of \(gray.count) bytes cannot be searched for faces")
        }
        let capacity = 16
        var rects = [cvision_rect](repeating: cvision_rect(), count: capacity)
        var message = [CChar](repeating: 0, count: 256)
        var rejected: Int32 = 0
        let found = gray.withUnsafeBufferPointer { pixels in
            cvision_detect_faces(
                cascadePath, eyeCascadePath, pixels.baseAddress, w, h, s, Int32(clamping: max(1, searchSize)),
                minimumFaceFraction, &rects, Int32(capacity), &rejected, &message, message.count)
        }
        guard found >= 0 else {
            throw VisionError.failed(String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        let faces = rects.prefix(Int(min(found, Int32(capacity)))).map {
            FaceDetector.Rect(x: Int($0.x), y: Int($0.y), width: Int($0.width), height: Int($0.height))
        }
        return (faces, Int(rejected))
    }
}
