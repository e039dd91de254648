import Foundation

// Where our style puts a burned cue: its size from the frame, and its place kept off the faces
// on screen while it shows.

extension CaptionScript {
    /// Sizes and places for our style on a `width`×`height` picture.
    struct Layout {
        /// A rectangle in pixels of the picture.
        typealias Box = (x0: Double, y0: Double, x1: Double, y1: Double)
        /// Where a cue goes: `marginV` 0 keeps the style's place (centred, above the bottom
        /// margin); otherwise the event's vertical margin, from the bottom, or from the top when
        /// `above` (the cue then sits above a face, with `\an8`).
        typealias Placement = (marginV: Int, above: Bool)

        let width: Int
        let height: Int
        let fontSize: Int
        let outline: Int
        let shadow: Int
        let sideMargin: Int
        let bottomMargin: Int
        /// The face of ``placement(lines:)`` in pixels, when known.
        let face: Box?

        init(width: Int, height: Int, cues: [Caption], face: ColorRegion? = nil) {
            self.width = width
            self.height = height
            // 1/18 of the height, unless the longest line would then not fit 90 % of the width.
            let longest = max(1, cues.flatMap(\.lines).map(\.count).max() ?? 1)
            let byWidth = 0.9 * Double(width) / (Double(longest) * CaptionScript.charWidth)
            fontSize = max(8, Int(min((Double(height) / 18).rounded(), byWidth.rounded(.down))))
            outline = max(1, Int((Double(fontSize) * 0.08).rounded()))
            shadow = max(0, outline / 2)
            sideMargin = max(4, width / 20)
            bottomMargin = max(4, Int((Double(height) * 0.08).rounded()))
            self.face = face.map { Self.box($0, width: width, height: height) }
        }

        /// `region` (fractions of the frame) in pixels of a `width`×`height` picture.
        static func box(_ region: ColorRegion, width: Int, height: Int) -> Box {
            (
                region.x * Double(width), region.y * Double(height), (region.x + region.width) * Double(width),
                (region.y + region.height) * Double(height)
            )
        }

        /// Where a cue of `lines` goes when ``face`` is the face on screen.
        func placement(lines: [String]) -> Placement {
            placement(lines: lines, boxes: face.map { [$0] } ?? [])
        }

        /// Where a cue of `lines` goes while `faces` are on screen (fractions of the frame, the one
        /// shown longest first): the style's place when it covers none of them; else just below
        /// or just above one of them (the longest shown first, below before above) where it
        /// covers none; else where it goes with the longest shown alone (the style's place when
        /// neither fits).
        func placement(lines: [String], faces: [ColorRegion]) -> Placement {
            placement(lines: lines, boxes: faces.map { Self.box($0, width: width, height: height) })
        }

        private func placement(lines: [String], boxes: [Box]) -> Placement {
            guard let longest = boxes.first else { return (0, false) }
            let block = self.block(lines)
            let clear = { (place: Placement) in boxes.allSatisfy { !overlaps(self.area(of: block, at: place), $0) } }
            if clear((0, false)) { return (0, false) }
            let candidates = boxes.flatMap { [below($0, block: block), above($0, block: block)].compactMap { $0 } }
            if let place = candidates.first(where: clear) { return place }
            return boxes.count > 1 ? placement(lines: lines, boxes: [longest]) : (0, false)
        }

        /// The width and height of a cue of `lines`, in pixels (guessed from the characters).
        private func block(_ lines: [String]) -> (width: Double, height: Double) {
            let fs = Double(fontSize)
            return (
                Double(lines.map(\.count).max() ?? 0) * fs * CaptionScript.charWidth + 2 * Double(outline),
                Double(lines.count) * fs * CaptionScript.lineHeight + 2 * Double(outline)
            )
        }

        /// The pixels a block covers, centred, at `place`.
        private func area(of block: (width: Double, height: Double), at place: Placement) -> Box {
            let x0 = (Double(width) - block.width) / 2
            let top =
                place.above
                ? Double(place.marginV) : Double(height - (place.marginV == 0 ? bottomMargin : place.marginV)) - block.height
            return (x0, top, x0 + block.width, top + block.height)
        }

        private func overlaps(_ a: Box, _ b: Box) -> Bool {
            a.x0 < b.x1 && a.x1 > b.x0 && a.y0 < b.y1 && a.y1 > b.y0
        }

        /// The gap kept between a face and a cue, and the least margin a cue keeps from the
        /// frame's edge.
        private var gap: Double { max(4, Double(fontSize) * 0.25) }
        private var minimumMargin: Double { max(2, Double(height) * 0.02) }

        /// The block's top just under the face's bottom, when that leaves the least margin below.
        private func below(_ face: Box, block: (width: Double, height: Double)) -> Placement? {
            let margin = Double(height) - (face.y1 + gap) - block.height
            return margin >= minimumMargin ? (Int(margin.rounded(.down)), false) : nil
        }

        /// The block's bottom just over the face's top, when that leaves the least margin above.
        private func above(_ face: Box, block: (width: Double, height: Double)) -> Placement? {
            let margin = face.y0 - gap - block.height
            return margin >= minimumMargin ? (Int(margin.rounded(.down)), true) : nil
        }
    }
}
