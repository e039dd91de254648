import ArgumentParser
import Foundation
import InfiniPipeline

/// Burned captions, shared by `stitch` and the main command: draw the captions into the
/// picture, optionally in a user's ASS style.
struct CaptionBurnArguments: ParsableArguments {
    @Flag(
        help:
            "Also draw the captions into the picture (bold white text in the lower third, off the face; re-encodes the video)."
    )
    var burnCaptions = false

    @Option(
        help: ArgumentHelp(
            "An ASS file whose [V4+ Styles] the burned captions use instead of ours (with --burn-captions).",
            valueName: "FILE.ass"))
    var captionStyle: String?

    /// `--caption-style` means nothing without `--burn-captions`.
    func validate() throws {
        if captionStyle != nil && !burnCaptions {
            throw ValidationError("--caption-style is only used with --burn-captions")
        }
    }
}
