import CFFmpeg
import Foundation

/// How to stitch.
public struct StitchOptions: Sendable, Equatable {
    /// The default x264 CRF of the re-encode path: 18, visually transparent.
    public static let defaultCRF = 18
    /// The default x264 preset of the re-encode path.
    public static let defaultPreset = "veryfast"
    /// The default AAC bit rate, in bits per second, when the audio must be encoded.
    public static let defaultAudioBitRate = 192_000
    /// The default length of a seam transition: 8 frames, 0.32 s.
    public static let defaultTransitionFrames = 8
    /// The transition lengths accepted, in frames (up to 2 s).
    public static let transitionFrameRange = 0...50
    /// The CRFs libx264 takes (8-bit video).
    public static let crfRange = 0...51
    /// libx264's presets, fastest first.
    public static let presets = [
        "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
        "veryslow", "placebo",
    ]

    /// Re-encode the video even when the clips could be joined losslessly.
    public var reencode: Bool
    /// x264 CRF for the re-encode path (``crfRange``).
    public var crf: Int
    /// x264 preset for the re-encode path (one of ``presets``).
    public var preset: String
    /// AAC bit rate in bits per second when the original audio is neither AAC nor MP3 and must
    /// be encoded.
    public var audioBitRate: Int
    /// Frames blended across each seam (re-encode path; 0 = hard cut; at most the top of
    /// ``transitionFrameRange``, as for ``transitionFrames``): the older spelling of a
    /// crossfade. When it is above 0 it takes precedence over ``transition`` and
    /// ``transitionFrames``: the seams are crossfaded over this many frames.
    public var crossfadeFrames: Int
    /// How each seam looks (``Transition``); ``Transition/cut`` by default. A seam where the
    /// plan's ``Plan/Segment/speaker`` changes is always a hard cut.
    public var transition: Transition
    /// Frames each seam's transition lasts (``transitionFrameRange``; 8 = 0.32 s by default),
    /// kept inside the pause the seam sits in when the plan records it (shortened when the
    /// pause is shorter). Ignored by ``Transition/cut`` and ``Transition/zoom``.
    public var transitionFrames: Int
    /// A clip short by at most this many frames is padded by repeating its last frame.
    public var maxPaddedFrames: Int
    /// Colour matching of each clip against its reference portrait (``ColorMatch``); off when
    /// nil. It needs the re-encode path.
    public var colorMatch: ColorMatch?
    /// Soft subtitles (a `mov_text` track) to carry in the MP4, on both paths; none when nil.
    public var subtitles: SubtitleTrack? = nil
    /// Captions drawn into the picture (``BurnedCaptions``); none when nil. They need the
    /// re-encode path.
    public var burnedCaptions: BurnedCaptions? = nil

    /// Options; every default is the one the command line uses.
    /// - Parameters:
    ///   - reencode: re-encode even when the clips could be copied.
    ///   - crf: x264 CRF, ``defaultCRF`` by default.
    ///   - preset: x264 preset, ``defaultPreset`` by default.
    ///   - audioBitRate: AAC bit rate, ``defaultAudioBitRate`` by default.
    ///   - crossfadeFrames: frames blended across each seam; 0 cuts.
    ///   - maxPaddedFrames: how many missing frames a clip may have (padded by repeating its last).
    ///   - transition: how each seam looks, ``Transition/cut`` by default.
    ///   - transitionFrames: how long a transition lasts, ``defaultTransitionFrames`` by default.
    ///   - colorMatch: colour matching against the portraits; off by default.
    public init(
        reencode: Bool = false, crf: Int = StitchOptions.defaultCRF, preset: String = StitchOptions.defaultPreset,
        audioBitRate: Int = StitchOptions.defaultAudioBitRate, crossfadeFrames: Int = 0, maxPaddedFrames: Int = 2,
        transition: Transition = .cut, transitionFrames: Int = StitchOptions.defaultTransitionFrames,
        colorMatch: ColorMatch? = nil
    ) {
        self.reencode = reencode
        self.crf = crf
        self.preset = preset
        self.audioBitRate = audioBitRate
        self.crossfadeFrames = crossfadeFrames
        self.maxPaddedFrames = maxPaddedFrames
        self.transition = transition
        self.transitionFrames = transitionFrames
        self.colorMatch = colorMatch
    }

    /// The transition the seams get and its length in frames, after the ``crossfadeFrames``
    /// alias: a crossfade of `crossfadeFrames` when that is above 0, otherwise ``transition``
    /// over ``transitionFrames``.
    public var effectiveTransition: (transition: Transition, frames: Int) {
        crossfadeFrames > 0 ? (.crossfade, crossfadeFrames) : (transition, transitionFrames)
    }

    /// Checks every value, as ``Stitcher``'s `stitch` does
    /// before it reads anything; call it to refuse bad options before generating clips.
    /// - Throws: ``StitchError`` `.invalidOption` naming the first property out of range.
    public func validate() throws {
        guard Self.crfRange.contains(crf) else {
            throw StitchError.invalidOption("crf", "\(crf) is outside \(Self.crfRange.lowerBound)…\(Self.crfRange.upperBound)")
        }
        guard Self.presets.contains(preset) else {
            throw StitchError.invalidOption(
                "preset", "\"\(preset)\" is not an x264 preset (\(Self.presets.joined(separator: ", ")))")
        }
        guard audioBitRate > 0 else {
            throw StitchError.invalidOption("audioBitRate", "\(audioBitRate) must be positive")
        }
        // One rule for both spellings of a transition's length (`crossfadeFrames` is the older one).
        for (option, frames) in [("crossfadeFrames", crossfadeFrames), ("transitionFrames", transitionFrames)] {
            guard Self.transitionFrameRange.contains(frames) else {
                throw StitchError.invalidOption(
                    option,
                    "\(frames) is outside \(Self.transitionFrameRange.lowerBound)…\(Self.transitionFrameRange.upperBound)")
            }
        }
        guard maxPaddedFrames >= 0 else {
            throw StitchError.invalidOption("maxPaddedFrames", "\(maxPaddedFrames) must not be negative")
        }
        try colorMatch?.validate()
        try burnedCaptions?.validate()
    }
}

/// What a stitch produced.
public struct StitchResult: Sendable, Equatable {
    /// How the video was made.
    @nonexhaustive
    public enum VideoPath: String, Sendable, Codable {
        /// Packets copied from the clips, no re-encoding.
        case copy
        /// Decoded and encoded again with libx264.
        case reencode
    }

    /// The output file.
    public var output: String
    /// Video frames in the output (always the plan's `totalFrames`).
    public var totalFrames: Int
    /// Copy or re-encode.
    public var videoPath: VideoPath
    /// Why the copy path was not taken, when it was not (e.g. `"reencode was requested"`).
    public var reencodeReason: String?
    /// How the output carries the audio (see ``OutputAudio``).
    public var audio: OutputAudio
    /// Whether the original audio packets were copied (AAC or MP3) rather than encoded.
    public var audioCopied: Bool { audio.strategy == .copy }
    /// Output frame width.
    public var width: Int
    /// Output frame height.
    public var height: Int
    /// Warnings (e.g. padded clips), one line each.
    public var warnings: [String]
    /// What colour matching found and did, one report per clip in segment order; empty when
    /// it was off.
    public var colorMatch: [ColorMatchReport] = []
    /// Segments whose clip came back longer than requested (a provider whose clip follows the
    /// audio): the frames past its audio were dropped from its end.
    public var trimmedClips: [Int] = []
    /// Segments whose clip came back a little short: its last frame was held.
    public var paddedClips: [Int] = []
}

/// Joins one clip per plan segment into one MP4 with exactly `plan.totalFrames` frames at
/// 25 fps, and the original audio, whole and from its start, in sync with frame 0.
///
/// Output frames `[startFrame, startFrame + frameCount)` are clip *i*'s first `frameCount`
/// frames, in order. The clips' own audio is never used (the model's copy is resampled and
/// loudness-normalised). The MP4 has its moov atom in front and is written to a temporary file
/// beside `output`, renamed at the end: after an error nothing is left at `output`.
///
/// The video is joined by copying the clips' packets when they allow it (same H.264
/// parameters, cuts that keep frames intact), and re-encoded with libx264 otherwise or when
/// asked (`reencode`, a crossfade).
public enum Stitcher {
    /// Stitches, on the library's pool for blocking work (never Swift's cooperative pool);
    /// cancelling the task stops the work at the next frame or packet.
    /// - Parameters:
    ///   - plan: the plan the clips were generated for.
    ///   - clips: one clip path per segment, in segment order.
    ///   - audio: the original audio file (or a video carrying it).
    ///   - output: the MP4 to write.
    ///   - options: how to stitch; checked first (``StitchOptions/validate()``).
    ///   - warning: called with each warning as it arises (also in the result).
    /// - Throws: ``StitchError`` for options out of range or a clip count that is not the
    ///   plan's; `PlanFileError` for an inconsistent plan; ``ClipError`` naming the segment and
    ///   clip when a clip is unusable (the pipeline re-requests it); `MediaError` for the audio
    ///   or the output (also when the output is the audio or a clip: it is never overwritten).
    public static func stitch(
        plan: Plan, clips: [String], audio: String, output: String,
        options: StitchOptions = StitchOptions(),
        warning: @escaping @Sendable (String) -> Void = { _ in }
    ) async throws -> StitchResult {
        try await runBlocking {
            try stitch(plan: plan, clips: clips, audio: audio, output: output, options: options, warning: warning)
        }
    }

    /// Stitches on the calling thread, blocking until the output is written (it decodes and
    /// encodes for as long as the video takes): for callers on a thread of their own. The
    /// parameters, result and errors are the asynchronous `stitch`'s.
    public static func stitch(
        plan: Plan, clips: [String], audio: String, output: String,
        options: StitchOptions = StitchOptions(),
        warning: (String) -> Void = { _ in }
    ) throws -> StitchResult {
        try stitch(plan: plan, clips: clips, audio: audio, output: output, options: options, seams: nil, warning: warning)
    }

    /// Stitches as the public `stitch` does, with the seams given instead of the ones `plan`
    /// has (a sample: a stretch of a longer plan, whose seams and zoomed segments are the
    /// longer plan's); nil takes the plan's.
    static func stitch(
        plan: Plan, clips: [String], audio: String, output: String, options: StitchOptions,
        seams: SeamTransitions?, warning: (String) -> Void
    ) throws -> StitchResult {
        try options.validate()
        // A plan built in code gets the same checks as one read from a file (no trap on a
        // negative or huge frame count).
        _ = try plan.checkedSegments()
        try FileChecks.requireReplaceableFile(output)
        try FileChecks.requireNotAnInput(
            output, inputs: [(audio, "audio")] + clips.enumerated().map { ($1, "clip for segment \($0)") })
        guard clips.count == plan.segments.count, !clips.isEmpty else {
            throw StitchError.clipCountMismatch(segments: plan.segments.count, clips: clips.count)
        }
        var warnings: [String] = []
        func warn(_ text: String) {
            warnings.append(text)
            warning(text)
        }

        // 1. Inspect every clip before writing anything.
        let inspections = try inspect(clips: clips, plan: plan, options: options, warn: warn)
        let lengths = zip(plan.segments, inspections)
        let trimmed = lengths.filter { $1.frameCount > $0.numFrames }.map(\.0.index)
        let padded = lengths.filter { $1.frameCount < $0.frameCount }.map(\.0.index)
        let first = inspections[0]

        // 2. Copy or re-encode? The reference portraits of a colour match are measured now, so a
        //    missing one stops the stitch before anything is written.
        var reason = try copyPathObstacle(plan: plan, inspections: inspections, options: options)
        if reason == nil, let seams, !seams.allCuts {
            reason = "a \(options.effectiveTransition.transition.rawValue) needs re-encoding"
        }
        if reason != nil { try requireEvenSize(first, segment: plan.segments[0].index) }
        let colorMatch = try options.colorMatch.map {
            try StitchColorMatch(options: $0, plan: plan, width: first.width, height: first.height)
        }

        let directory = URL(fileURLWithPath: output).deletingLastPathComponent()
        guard FileManager.default.fileExists(atPath: directory.path) else {
            throw MediaError(.writeFailed, file: output, "the directory \(directory.path) does not exist")
        }
        // Burned captions: the ASS script libass draws from, in a temporary file beside the output.
        let captionScript = try options.burnedCaptions.map {
            try writeCaptionScript($0, width: first.width, height: first.height, output: output)
        }
        defer { if let captionScript { try? FileManager.default.removeItem(atPath: captionScript) } }
        // 3. The audio: copied when AAC or MP3 that MP4 takes, otherwise encoded to AAC (at a
        //    rate and channel count AAC and MP4 take) in a temporary file.
        let outputAudio = try OutputAudio.decide(audio: audio, scratchDirectory: directory.path, bitRate: options.audioBitRate)
        var encodedAudio: String? = nil
        defer { if let encodedAudio { try? FileManager.default.removeItem(atPath: encodedAudio) } }
        if outputAudio.strategy == .encode {
            // Named with the process id, like AtomicFile's temporary files, so that a later
            // stitch removes what a killed one left.
            let prefix = ".\(URL(fileURLWithPath: output).lastPathComponent).audio-"
            AtomicFile.removeLeftovers(in: directory.path, prefixes: [prefix])
            let path = directory.appendingPathComponent("\(prefix)\(getpid()).m4a").path
            encodedAudio = path
            for note in try encodeAudio(from: audio, to: path, as: outputAudio, bitRate: options.audioBitRate, plan: plan) {
                warn(note)
            }
        }
        let audioFile = encodedAudio ?? audio
        // A copied original is checked while it is copied (see AudioPump.drain).
        let checking = outputAudio.strategy == .copy ? audio : nil

        // 4. The MP4, under a temporary name until it is complete.
        var path: StitchResult.VideoPath = reason == nil ? .copy : .reencode
        var reports: [ColorMatchReport] = []
        try AtomicFile.produce(output) { temp in
            do {
                reports = try write(
                    plan: plan, inspections: inspections, path: path, audio: audioFile, checking: checking,
                    to: temp, options: options, colorMatch: colorMatch, seams: seams, captions: captionScript)
            } catch is CopyPathUnsafe {
                // Timestamps that cannot be joined as they are: fall back to re-encoding.
                reason = "the clips' timestamps cannot be joined without re-encoding"
                path = .reencode
                try? FileManager.default.removeItem(atPath: temp)
                reports = try write(
                    plan: plan, inspections: inspections, path: path, audio: audioFile, checking: checking,
                    to: temp, options: options, colorMatch: colorMatch, seams: seams, captions: captionScript)
            }
        }
        for report in reports {
            if let note = report.note { warn("clip for segment \(report.segment) \(note)") }
        }
        return StitchResult(
            output: output, totalFrames: plan.totalFrames, videoPath: path, reencodeReason: reason,
            audio: outputAudio, width: first.width, height: first.height, warnings: warnings, colorMatch: reports,
            trimmedClips: trimmed, paddedClips: padded)
    }

    /// Inspects every clip (several at a time: each is a read of the whole file and one decoded
    /// frame) and checks it fits its segment; problems are reported in segment order.
    private static func inspect(
        clips: [String], plan: Plan, options: StitchOptions,
        warn: (String) -> Void
    ) throws -> [ClipInspection] {
        var inspections: [ClipInspection] = []
        for (segment, (path, result)) in zip(plan.segments, zip(clips, ClipInspection.inspectAll(paths: clips))) {
            let info: ClipInspection
            switch result {
            case .success(let value): info = value
            case .failure(let error): throw ClipError(segment: segment.index, clip: path, reason: error.reason)
            }
            guard info.isModelFrameRate else {
                throw ClipError(
                    segment: segment.index, clip: path,
                    reason: String(format: "runs at %.3f fps, not %d", info.frameRate.value, ModelLimits.fps))
            }
            if let first = inspections.first, first.width != info.width || first.height != info.height {
                throw ClipError(
                    segment: segment.index, clip: path,
                    reason: "is \(info.width)x\(info.height) but the clip for segment 0 is \(first.width)x\(first.height)")
            }
            let missing = segment.frameCount - info.frameCount
            if missing > options.maxPaddedFrames {
                throw ClipError(
                    segment: segment.index, clip: path,
                    reason: "has \(info.frameCount) frames, needs \(segment.frameCount)")
            }
            if info.frameCount > segment.numFrames {
                warn(
                    "clip for segment \(segment.index) has \(info.frameCount) frames, \(info.frameCount - segment.numFrames) more than requested: the frames past its audio are dropped from its end"
                )
            }
            if missing > 0 {
                warn(
                    "clip for segment \(segment.index) has \(info.frameCount) frames, \(missing) short of \(segment.frameCount): repeating its last frame"
                )
            }
            inspections.append(info)
        }
        return inspections
    }

    /// Why the clips cannot be joined by copying their packets, or nil when they can: the
    /// options ask for re-encoding, a clip is not H.264 or differs in codec parameters, a clip
    /// must be padded, or cutting a clip's tail would change the frames it keeps.
    static func copyPathObstacle(plan: Plan, inspections: [ClipInspection], options: StitchOptions) throws -> String? {
        if options.reencode { return "reencode was requested" }
        if options.colorMatch != nil { return "colour matching needs re-encoding" }
        if options.burnedCaptions != nil { return "burned captions need re-encoding" }
        if let transition = SeamTransitions.reencodingTransition(plan: plan, options: options) {
            return "a \(transition.rawValue) needs re-encoding"
        }
        let first = inspections[0]
        if let bad = inspections.first(where: { $0.codecName != "h264" }) { return "\(bad.path) is \(bad.codecName), not H.264" }
        if let bad = inspections.first(where: {
            $0.extradata != first.extradata || $0.timeBase != first.timeBase || $0.pixelFormat != first.pixelFormat
        }) {
            return "\(bad.path) has different codec parameters from \(first.path)"
        }
        if let i = Array(zip(plan.segments, inspections)).firstIndex(where: { $0.1.frameCount < $0.0.frameCount }) {
            return "the clip for segment \(i) must be padded"
        }
        for (segment, info) in zip(plan.segments, inspections) where info.frameCount > segment.frameCount {
            if try !tailCutKeepsFramesIdentical(info, keep: segment.frameCount) {
                return
                    "cutting the clip for segment \(segment.index) to \(segment.frameCount) frames would change its kept frames"
            }
        }
        return nil
    }

    /// Checks that `clip` (all clips have its size) can be re-encoded.
    /// - Throws: `MediaError` `.unsupported` naming the clip for an odd width or height, which
    ///   H.264 4:2:0 cannot take (not a ``ClipError``: the same request would give the same size).
    private static func requireEvenSize(_ clip: ClipInspection, segment: Int) throws {
        guard clip.width % 2 != 0 || clip.height % 2 != 0 else { return }
        throw MediaError(
            .unsupported, file: clip.path,
            "the clip for segment \(segment) is \(clip.width)x\(clip.height), and re-encoding it (H.264 4:2:0) needs an even width and height"
        )
    }

    /// Writes the MP4 to `temp`, its video by `path` and its audio copied from `audio`.
    /// `checking` names the original audio when its packets are copied: the copy then applies
    /// the acceptance rule and checks the audio is the plan's. Returns the colour match's
    /// reports (none without one).
    private static func write(
        plan: Plan, inspections: [ClipInspection], path: StitchResult.VideoPath,
        audio: String, checking: String?, to temp: String, options: StitchOptions, colorMatch: StitchColorMatch?,
        seams: SeamTransitions?, captions: String? = nil
    ) throws -> [ColorMatchReport] {
        let muxer = try Muxer(path: temp, format: "mp4")
        let videoOut: Int
        var encoder: VideoEncoder? = nil
        switch path {
        case .copy:
            // The clips share codec parameters (checked): the first clip's describe the stream.
            let d = try Demuxer(path: inspections[0].path)
            videoOut = try muxer.addStream(copying: try d.bestStream(.video).index, of: d)
        case .reencode:
            try requireEvenSize(inspections[0], segment: plan.segments[0].index)
            // Tagged as the first clip is: its frames go through as they are, any other clip's
            // are converted to its colours.
            let e = try VideoEncoder(
                VideoEncoderSettings(
                    width: inspections[0].width, height: inspections[0].height,
                    frameRate: ModelLimits.fps, crf: options.crf, preset: options.preset, color: inspections[0].color),
                globalHeader: muxer.wantsGlobalHeader)
            encoder = e
            videoOut = try muxer.addStream(encoder: e)
        }
        let audioDemuxer = try Demuxer(path: audio)
        let audioIndex = try audioDemuxer.bestStream(.audio).index
        let audioOut = try muxer.addStream(copying: audioIndex, of: audioDemuxer)
        let subtitleOut = try options.subtitles.map { try muxer.addSubtitleStream(language: $0.languageTag) }
        try muxer.writeHeader(fastStart: true)
        // The cues are few and small: all of them are queued now, and the muxer interleaves them.
        if let track = options.subtitles, let subtitleOut {
            for cue in track.cues(within: ModelLimits.seconds(forFrames: plan.totalFrames)) {
                try muxer.writeSubtitle(cue.text, start: cue.start, end: cue.end, stream: subtitleOut)
            }
        }
        let pump = try AudioPump(
            demuxer: audioDemuxer, index: audioIndex, muxer: muxer, outStream: audioOut,
            checking: checking.map { (file: $0, plan: plan) })

        let written: Int
        let reports = ColorMatchReports()
        if let encoder {
            written = try reencodeVideo(
                plan: plan, inspections: inspections, encoder: encoder, muxer: muxer, stream: videoOut,
                pump: pump, seams: seams ?? SeamTransitions(plan: plan, options: options),
                colorMatch: colorMatch.map { ($0, reports) }, captions: captions)
        } else {
            written = try copyVideo(plan: plan, inspections: inspections, muxer: muxer, stream: videoOut, pump: pump)
        }
        // Every output frame is one video packet: the count must be the plan's exactly.
        guard written == plan.totalFrames else {
            throw MediaError(.writeFailed, file: temp, "internal error: wrote \(written) frames instead of \(plan.totalFrames)")
        }
        try pump.drain()
        try muxer.finish()
        return reports.all
    }
}
