import Foundation

extension FittedImage {
    /// The face the anchor found, as fractions of the fitted frame (clipped to it): where the
    /// stitcher's colour match measures a clip's colours; nil when no face placed the crop or
    /// the face lies outside the frame.
    public var faceRegion: ColorRegion? {
        guard let face, face.width > 0, face.height > 0 else { return nil }
        let window = geometry.sourceWindow
        guard window.width > 0, window.height > 0 else { return nil }
        let x0 = max(0, (Double(face.x) - window.x) / window.width)
        let y0 = max(0, (Double(face.y) - window.y) / window.height)
        let x1 = min(1, (Double(face.x + face.width) - window.x) / window.width)
        let y1 = min(1, (Double(face.y + face.height) - window.y) / window.height)
        let region = ColorRegion(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
        return region.isValid ? region : nil
    }
}
