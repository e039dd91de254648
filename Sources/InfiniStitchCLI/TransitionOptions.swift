import ArgumentParser
import InfiniPipeline

extension StitchOptions.Transition: ExpressibleByArgument {}

/// How the seams look: `--transition`, `--transition-frames`, and `--crossfade N`, the older
/// spelling of `--transition crossfade --transition-frames N`. Shared by `stitch` (default
/// `cut`) and the main command (default `morph`), which say their own default.
struct TransitionOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "How each seam looks: cut, crossfade, morph (optical-flow morph cut) or zoom (alternate segments punched in). Only cut keeps the lossless copy path; a change of speaker is always a cut. (default: cut for stitch, morph for the main command)",
            valueName: "KIND"))
    var transition: StitchOptions.Transition?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Frames each crossfade or morph lasts, kept inside the pause at the seam. (default: \(StitchOptions.defaultTransitionFrames), 0.32 s)",
            valueName: "N"))
    var transitionFrames: Int?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Blend N frames across each seam: the same as --transition crossfade --transition-frames N (re-encodes the video).",
            valueName: "N"))
    var crossfade: Int = 0

    /// The library checks the values (and names them); the command line says the flags.
    func validate() throws {
        if crossfade > 0, let transition, transition != .crossfade {
            throw ValidationError(
                "--crossfade \(crossfade) asks for a crossfade but --transition is \(transition.rawValue): give one of them")
        }
        do {
            try applied(to: StitchOptions(), default: .cut).validate()
        } catch let error as StitchError {
            throw ValidationError(ErrorReport.line(for: error))
        }
    }

    /// `options` with these transition settings, `defaultTransition` when none is given.
    /// `--crossfade N` (N > 0) is a crossfade of N frames, whatever else is given.
    func applied(to options: StitchOptions, default defaultTransition: StitchOptions.Transition) -> StitchOptions {
        var o = options
        o.transition = transition ?? defaultTransition
        if let transitionFrames { o.transitionFrames = transitionFrames }
        o.crossfadeFrames = crossfade
        return o
    }
}
