import Foundation

// Burned captions in a run: the options that ask for them, their checks (before anything is
// paid for), and the stitch options that carry the run's cues to the stitcher.

extension PipelineOptions {
    /// Whether the run has captions to burn: a ``captions`` source (a user's file or `auto`).
    var hasRunCaptions: Bool { captions != nil }

    /// Checks ``burnCaptions`` and ``captionStyle``: burning needs the run's captions
    /// (`hasCaptions`), a style needs burning and must be an ASS file with a `[V4+ Styles]`
    /// section, and fontconfig must find a font to draw with. All before the first paid request.
    /// - Throws: ``PipelineError`` (``PipelineError/Kind/invalidOption``) naming `burnCaptions`
    ///   or `captionStyle`.
    func validateBurnedCaptions(hasCaptions: Bool) throws {
        func invalid(_ option: String, _ text: String, file: String? = nil) -> PipelineError {
            PipelineError(.invalidOption, text, option: option, file: file)
        }
        if captionStyle != nil && !burnCaptions {
            throw invalid("captionStyle", "captionStyle is only used with burnCaptions")
        }
        guard burnCaptions else { return }
        guard hasCaptions else {
            throw invalid("burnCaptions", "burnCaptions needs the run's captions: give captions (a transcript file, or auto)")
        }
        if let style = captionStyle {
            do {
                _ = try CaptionScript.UserStyle(file: absolute(style))
            } catch let error as CaptionBurnError {
                throw invalid("captionStyle", "captionStyle \(error.description)", file: error.file)
            }
        }
        do {
            _ = try CaptionScript.font()
        } catch {
            throw PipelineError.from(error)
        }
    }

    /// The stitch options of a run whose captions are `cues`: ``stitch``, with the cues burned
    /// in (in ``captionStyle`` when given, kept off `face`, or off the face of the shot on
    /// screen) when ``burnCaptions`` is set.
    /// - Parameters:
    ///   - cues: the run's captions, on the output's timeline; nil when the run has none.
    ///   - face: the face the portrait's crop was anchored on, as fractions of the frame.
    ///   - shots: in a multi-speaker run, who is on screen when, with the face each speaker's
    ///     portrait was anchored on (``StitchOptions/BurnedCaptions/shots``).
    public func stitchOptions(
        burning cues: [Caption]?, face: ColorRegion?, shots: [StitchOptions.BurnedCaptions.Shot] = []
    ) -> StitchOptions {
        var options = stitch
        if burnCaptions, let cues {
            options.burnedCaptions = StitchOptions.BurnedCaptions(
                cues: cues, styleFile: captionStyle.map { absolute($0) }, face: face, shots: shots)
        }
        return options
    }
}

extension RunInputs {
    /// The shots of a multi-speaker run, for its burned captions: the segments in order, each
    /// with the face of the portrait its request is made from (as the colour match finds it),
    /// neighbours showing the same face joined into one shot. With `window` (a sample's
    /// stretch, in seconds), the shots in it, cut to it and moved by `-window.lowerBound`.
    func captionShots(in window: Range<Double>? = nil) -> [StitchOptions.BurnedCaptions.Shot] {
        let fps = Double(ModelLimits.fps)
        var shots: [StitchOptions.BurnedCaptions.Shot] = []
        for segment in plan.segments {
            let face = (portraits.first { $0.speaker == segment.speaker } ?? portraits[0]).face
            let start = Double(segment.startFrame) / fps, end = Double(segment.endFrame) / fps
            if let last = shots.last, last.face == face, last.end == start {
                shots[shots.count - 1].end = end
            } else {
                shots.append(.init(start: start, end: end, face: face))
            }
        }
        guard let window else { return shots }
        return shots.compactMap { shot in
            let start = max(shot.start, window.lowerBound), end = min(shot.end, window.upperBound)
            guard end > start else { return nil }
            return .init(start: start - window.lowerBound, end: end - window.lowerBound, face: shot.face)
        }
    }
}
