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
    /// in (in ``captionStyle`` when given, kept off `face`) when ``burnCaptions`` is set.
    /// - Parameters:
    ///   - cues: the run's captions, on the output's timeline; nil when the run has none.
    ///   - face: the face the portrait's crop was anchored on, as fractions of the frame.
    public func stitchOptions(burning cues: [Caption]?, face: ColorRegion?) -> StitchOptions {
        var options = stitch
        if burnCaptions, let cues {
            options.burnedCaptions = StitchOptions.BurnedCaptions(
                cues: cues, styleFile: captionStyle.map { absolute($0) }, face: face)
        }
        return options
    }
}
