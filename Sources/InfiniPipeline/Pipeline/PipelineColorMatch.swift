import Foundation

extension PipelineOptions {
    /// What the colours of each clip are corrected against (``StitchOptions/ColorMatch``).
    public enum ColorMatch: String, Sendable, Codable, CaseIterable {
        /// Colour drift inside each clip (warmer, more saturated or darker as it goes on) is
        /// pulled back, measured against the fitted portrait the clip's request was made from
        /// (each speaker's own) over the face its fit found; a clip that does not drift is left
        /// exactly as it is. It needs the re-encode path.
        case portrait
        /// The clips' colours are left as they are.
        case off
    }
}

extension RunInputs {
    /// The stitch's colour match for this run: the clip of each segment against the fitted
    /// portrait its request was made from, measured around the face that portrait's fit found
    /// (the whole frame when none was). The fitted portraits are written to `portraits/` in
    /// the work dir (named by their content, so a resumed run reads the same pictures). Nil
    /// when ``PipelineOptions/colorMatch`` is off; the stitch options' own colour match when
    /// they set one.
    /// - Throws: a file system error when the work dir cannot take the portraits.
    func stitchColorMatch(_ o: PipelineOptions, workDir: URL) throws -> StitchOptions.ColorMatch? {
        if let given = o.stitch.colorMatch { return given }
        guard o.colorMatch == .portrait else { return nil }
        let directory = workDir.appendingPathComponent("portraits")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var files: [String: String] = [:]
        for portrait in portraits where files[portrait.sha] == nil {
            let file = directory.appendingPathComponent("portrait-\(portrait.sha.prefix(16)).png")
            try Data(portrait.png).write(to: file, options: .atomic)
            files[portrait.sha] = file.path
        }
        let chosen = plan.segments.map { segment in portraits.first { $0.speaker == segment.speaker } ?? portraits[0] }
        return StitchOptions.ColorMatch(
            references: chosen.map { files[$0.sha]! }, regions: chosen.map { $0.face.map(Self.aroundFace) })
    }

    /// The face and half a face on every side (the head, the hair, the neck), inside the frame:
    /// the statistics weight its centre most and fade to nothing at its edges, so the face
    /// itself counts whole and what moves in and out at the edges barely counts.
    static func aroundFace(_ face: ColorRegion) -> ColorRegion {
        let x0 = max(0, face.x - face.width / 2), y0 = max(0, face.y - face.height / 2)
        let x1 = min(1, face.x + face.width * 1.5), y1 = min(1, face.y + face.height * 1.5)
        return ColorRegion(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
    }
}
