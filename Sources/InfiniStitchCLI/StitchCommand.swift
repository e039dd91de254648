import ArgumentParser
import Foundation
import InfiniPipeline

/// Options of the stitch stage, shared by `stitch` and the main command (the seams'
/// transitions are ``TransitionOptions``).
struct StitchArguments: ParsableArguments {
    @Flag(help: "Re-encode the video even when the clips could be joined without re-encoding.")
    var reencode = false

    @Option(parsing: .unconditional, help: "x264 quality for re-encoding (0 lossless … 51 worst).")
    var crf: Int = StitchOptions.defaultCRF

    @Option(help: "x264 preset for re-encoding.")
    var preset: String = StitchOptions.defaultPreset

    @Option(help: ArgumentHelp("AAC bit rate when the audio must be encoded, e.g. 192k.", valueName: "RATE"))
    var audioBitrate: String = "\(StitchOptions.defaultAudioBitRate / 1000)k"

    /// The library checks the values (and names them); the command line says the flags.
    func validate() throws {
        guard Self.bitRate(audioBitrate) != nil else {
            throw ValidationError("--audio-bitrate \(audioBitrate) is not a bit rate like 192k")
        }
        do {
            try options.validate()
        } catch let error as StitchError {
            throw ValidationError(ErrorReport.line(for: error))
        }
    }

    /// Parses "192k", "192000" or "0.2M" into bits per second.
    static func bitRate(_ text: String) -> Int? {
        let lower = text.lowercased()
        var multiplier = 1.0
        var number = Substring(lower)
        if lower.hasSuffix("k") {
            multiplier = 1000; number = number.dropLast()
        } else if lower.hasSuffix("m") {
            multiplier = 1_000_000; number = number.dropLast()
        }
        guard let value = Double(number), value > 0 else { return nil }
        let bits = Int(value * multiplier)
        return (8_000...1_536_000).contains(bits) ? bits : nil
    }

    var options: StitchOptions {
        StitchOptions(
            reencode: reencode, crf: crf, preset: preset,
            audioBitRate: Self.bitRate(audioBitrate) ?? StitchOptions.defaultAudioBitRate)
    }
}

/// What colour drift inside each clip is corrected against: `portrait` (the reference portrait
/// the requests were made from) or `off`.
enum ColorMatchMode: String, ExpressibleByArgument, CaseIterable, Sendable {
    case portrait, off
}

/// `infinistitch stitch`: join generated clips with the original audio.
struct StitchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stitch",
        abstract: "Join one clip per plan segment into one MP4 with the original audio.",
        discussion: """
            The plan is the JSON that `infinistitch plan --json` prints. The output has exactly the
            plan's totalFrames frames at 25 fps; the clips are joined without re-encoding when
            they allow it.

            With --color-match portrait, colour drift inside each clip (warmer, more saturated or
            darker as it goes on) is pulled back to where the clip started from the portrait, so the
            colours no longer jump at the seams; a clip that does not drift is left exactly as it is.
            It re-encodes the video and prints what it found per clip. The portraits are the
            --reference images, or those a multi-speaker plan names. --json prints the result,
            with each clip's colour figures, as one JSON object.

            Example:
              infinistitch plan talk.mp3 --json > plan.json
              infinistitch stitch --plan plan.json --audio talk.mp3 -o talk.mp4 seg0.mp4 seg1.mp4
              infinistitch stitch --plan plan.json --audio talk.mp3 -o talk.mp4 --color-match portrait \\
                --reference portrait.jpg seg0.mp4 seg1.mp4
              infinistitch stitch --plan plan.json --audio talk.mp3 -o talk.mp4 --captions talk.srt \\
                --burn-captions seg0.mp4 seg1.mp4
            """
    )

    @Option(help: "The plan JSON.")
    var plan: String

    @Option(help: "The original audio file.")
    var audio: String

    @Option(name: .shortAndLong, help: "The MP4 to write.")
    var output: String

    @OptionGroup var stitching: StitchArguments

    @OptionGroup var transitions: TransitionOptions

    @Option(
        help: ArgumentHelp(
            "Correct colour drift inside each clip against the portrait (portrait, re-encodes the video; needs --reference or a plan that names the portraits) or not (off).",
            valueName: "MODE"))
    var colorMatch: ColorMatchMode = .off

    @Option(
        help: ArgumentHelp(
            "The portrait the clips were made from, for --color-match portrait: once for every clip, or once per segment in order.",
            valueName: "IMAGE"))
    var reference: [String] = []

    @Option(
        help: ArgumentHelp(
            "The transcript to burn into the picture with --burn-captions: SRT, WebVTT or Whisper/fal JSON.",
            valueName: "FILE"))
    var captions: String?

    @OptionGroup var captionBurning: CaptionBurnArguments

    @Flag(help: "Print the result as one JSON object (with each clip's colour figures).")
    var json = false

    @Argument(help: "One clip per segment, in segment order.")
    var clips: [String] = []

    func validate() throws {
        if colorMatch == .off && !reference.isEmpty {
            throw ValidationError("--reference is only used with --color-match portrait")
        }
        if captionBurning.burnCaptions && captions == nil {
            throw ValidationError("--burn-captions needs --captions FILE (the transcript to draw)")
        }
        if captions != nil && !captionBurning.burnCaptions {
            throw ValidationError("--captions is only used with --burn-captions here")
        }
    }

    /// The stitch options the flags ask for (the colour match's references from `--reference`).
    var options: StitchOptions {
        var options = transitions.applied(to: stitching.options, default: .cut)
        if colorMatch == .portrait { options.colorMatch = StitchOptions.ColorMatch(references: reference) }
        return options
    }

    /// The reference portraits of `plan`'s segments: the `--reference` images, or else the
    /// portraits a multi-speaker plan names, one per segment. A portrait the plan names by a
    /// relative path (as `plan --speaker` was given it) is looked for from the current folder,
    /// then from the plan file's.
    /// - Throws: `CLIError.badInput` when there are none, or a portrait is in neither place.
    func references(for plan: Plan) throws -> [String] {
        if !reference.isEmpty { return reference }
        let folder = URL(fileURLWithPath: self.plan).deletingLastPathComponent()
        var images: [String: String] = [:]
        let speaking = Set(plan.segments.compactMap(\.speaker))
        for speaker in plan.speakers ?? [] where images[speaker.name] == nil && speaking.contains(speaker.name) {
            let candidates =
                speaker.image.hasPrefix("/")
                ? [speaker.image] : [speaker.image, folder.appendingPathComponent(speaker.image).path]
            guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
                throw CLIError.badInput(
                    "\(self.plan): the portrait of speaker \(speaker.name), \(speaker.image), is not there (looked in \(candidates.joined(separator: " and ")))"
                )
            }
            images[speaker.name] = found
        }
        let named = plan.segments.map { $0.speaker.flatMap { images[$0] } }
        guard !named.isEmpty, named.allSatisfy({ $0 != nil }) else {
            throw CLIError.badInput(
                "--color-match portrait needs --reference IMAGE: the plan \(plan.segments.isEmpty ? "has no segments" : "names no portraits")"
            )
        }
        return named.map { $0! }
    }

    func run() async throws {
        // Nothing given to read is ever written over.
        try FileChecks.requireNotAnInput(
            output,
            inputs: [(plan, "plan"), (audio, "audio")] + clips.enumerated().map { ($1, "clip for segment \($0)") })
        // A plan is a small regular file: never read a device or a pipe (it may never end).
        let attributes = try? FileManager.default.attributesOfItem(atPath: plan)
        guard let attributes else { throw CLIError.badInput("\(plan): no such plan file") }
        guard attributes[.type] as? FileAttributeType == .typeRegular else {
            throw CLIError.badInput("\(plan): the plan is not a regular file")
        }
        guard ((attributes[.size] as? NSNumber)?.intValue ?? 0) <= 64 << 20 else {
            throw CLIError.badInput("\(plan): over 64 MB, too large for a plan")
        }
        guard let data = FileManager.default.contents(atPath: plan) else {
            throw CLIError.badInput("\(plan): cannot read the plan")
        }
        let parsed: Plan
        do {
            parsed = try Plan.from(json: data)
        } catch let error as PlanFileError {
            throw CLIError.badInput("\(plan): \(error)")
        }
        guard clips.count == parsed.segments.count else {
            throw CLIError.badInput("\(plan) has \(parsed.segments.count) segments but \(clips.count) clips were given")
        }
        guard reference.count <= 1 || reference.count == parsed.segments.count else {
            throw CLIError.badInput(
                "\(reference.count) --reference images for \(parsed.segments.count) segments: give one, or one per segment")
        }
        var options = self.options
        if colorMatch == .portrait { options.colorMatch?.references = try references(for: parsed) }
        if let captions, captionBurning.burnCaptions {
            // Cues made from the transcript, which must fit the plan's audio.
            let transcript = try Transcript.read(file: URL(fileURLWithPath: captions), audioDuration: parsed.audio.duration)
            options.burnedCaptions = StitchOptions.BurnedCaptions(
                cues: transcript.captions(), styleFile: captionBurning.captionStyle)
        }
        let (clips, audio, output, stitchOptions) = (self.clips, self.audio, self.output, options)
        let work = Task {
            try await runBlocking {
                try Stitcher.stitch(
                    plan: parsed, clips: clips, audio: audio, output: output, options: stitchOptions,
                    warning: { writeStderr("warning: \($0)\n") })
            }
        }
        // Ctrl-C or SIGTERM: the stitch stops at its next frame and removes its temporary files.
        let signals = SignalWatcher(
            notice: "stopping the stitch (removing its temporary files); press Ctrl-C again to quit at once"
        ) { work.cancel() }
        defer { signals.stop() }
        let result: StitchResult
        do {
            result = try await work.value
        } catch  where work.isCancelled {
            throw CLIError(message: "interrupted: nothing was written at \(output)", exitCode: 130)
        }
        if json {
            writeStdout(Self.json(result) + "\n")
            return
        }
        var line =
            "\(result.output): \(result.totalFrames) frames, \(result.width)x\(result.height), video \(result.videoPath.rawValue)"
        if let reason = result.reencodeReason { line += " (\(reason))" }
        line += ", audio: \(result.audio.summary)\n"
        for report in result.colorMatch { line += "  \(Self.describe(report))\n" }
        writeStdout(line)
    }

    /// The result as one JSON object: `output`, `totalFrames`, `width`, `height`, `videoPath`,
    /// `reencodeReason`, `audio`, `warnings`, `trimmedClips`, `paddedClips`, and `colorMatch`
    /// (per clip: `segment`, `largestDrift`, `largestCorrection`, `largestResidual`,
    /// `correctedFrames`, `lightingChanges`, `referenceDifference`, `note`).
    static func json(_ result: StitchResult) -> String {
        struct Body: Encodable {
            let output: String
            let totalFrames: Int
            let width: Int
            let height: Int
            let videoPath: StitchResult.VideoPath
            let reencodeReason: String?
            let audio: OutputAudio
            let warnings: [String]
            let trimmedClips: [Int]
            let paddedClips: [Int]
            let colorMatch: [ColorMatchReport]
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = Body(
            output: result.output, totalFrames: result.totalFrames, width: result.width, height: result.height,
            videoPath: result.videoPath, reencodeReason: result.reencodeReason, audio: result.audio,
            warnings: result.warnings, trimmedClips: result.trimmedClips, paddedClips: result.paddedClips,
            colorMatch: result.colorMatch)
        return (try? encoder.encode(body)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// One line on what colour matching found in a clip and did to it.
    static func describe(_ report: ColorMatchReport) -> String {
        var text = "colour, segment \(report.segment): drift ΔE \(String(format: "%.1f", report.largestDrift))"
        if report.corrected {
            text += String(
                format: ", corrected by up to ΔE %.1f on %d frames (ΔE %.1f left)", report.largestCorrection,
                report.correctedFrames, report.largestResidual)
        } else if report.note == nil {
            text += ", left as it is"
        }
        if !report.lightingChanges.isEmpty {
            text += ", lighting changes kept at frame\(report.lightingChanges.count == 1 ? "" : "s") "
            text += report.lightingChanges.map(String.init).joined(separator: ", ")
        }
        if let note = report.note {
            text += "; \(note)"
        } else if let difference = report.referenceDifference {
            text += String(format: "; starts ΔE %.1f from the portrait", difference)
        }
        return text
    }
}
