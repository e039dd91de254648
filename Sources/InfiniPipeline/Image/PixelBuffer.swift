// InfiniPipeline: PixelBuffer, the plain value every image stage passes along.

/// An 8-bit image held in memory, rows tightly packed, top row first.
///
/// The value crosses task boundaries freely: it owns a Swift array, never a C pointer.
public struct PixelBuffer: Sendable, Equatable {
    /// The channel layout of each pixel.
    public enum Format: String, Sendable, Codable {
        /// One luma byte per pixel.
        case gray8
        /// Red, green, blue.
        case rgb8
        /// Red, green, blue, straight (non-premultiplied) alpha.
        case rgba8

        /// Bytes per pixel.
        public var channels: Int {
            switch self {
            case .gray8: return 1
            case .rgb8: return 3
            case .rgba8: return 4
            }
        }
    }

    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int
    /// The channel layout.
    public var format: Format
    /// `height` rows of `width * format.channels` bytes.
    public var bytes: [UInt8]

    /// Bytes from one row to the next.
    public var rowStride: Int { width * format.channels }

    /// Wraps existing pixel bytes.
    /// - Precondition: `bytes.count == width * height * format.channels`.
    public init(width: Int, height: Int, format: Format, bytes: [UInt8]) {
        precondition(
            width >= 0 && height >= 0 && bytes.count == width * height * format.channels,
            "PixelBuffer: \(bytes.count) bytes do not make a \(width)x\(height) \(format) image")
        self.width = width
        self.height = height
        self.format = format
        self.bytes = bytes
    }

    /// A buffer of the given size with every byte set to `fill`.
    public init(width: Int, height: Int, format: Format, fill: UInt8 = 0) {
        self.init(
            width: width, height: height, format: format,
            bytes: [UInt8](repeating: fill, count: width * height * format.channels))
    }
}
