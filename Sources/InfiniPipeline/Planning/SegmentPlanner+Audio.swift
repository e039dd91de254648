// InfiniPipeline: planning straight from an audio file or its analysis.

extension SegmentPlanner {
    /// Plans an analysed audio file. See ``plan(samples:sampleRate:channels:envelope:options:)``.
    /// - Parameters:
    ///   - analysis: The audio stage's result.
    ///   - options: The largest request, resolution, price and pause detection.
    /// - Throws: ``PlanningError`` for bad options or audio without samples.
    public static func plan(_ analysis: AudioAnalysis, options: PlanningOptions = PlanningOptions()) throws -> Plan {
        try plan(
            samples: analysis.samples, sampleRate: analysis.format.sampleRate, channels: analysis.format.channels,
            envelope: analysis.envelope, options: options)
    }

    /// Decodes and plans an audio file.
    /// - Parameters:
    ///   - path: Any container FFmpeg reads, or a video whose audio track is used.
    ///   - options: The largest request, resolution, price and pause detection.
    /// - Throws: ``PlanningError`` for bad options (checked before decoding), `MediaError` for
    ///   unreadable or non-audio input.
    public static func plan(audioFile path: String, options: PlanningOptions = PlanningOptions()) throws -> Plan {
        // Options are checked before the (possibly long) decode, so a typo fails fast.
        _ = try checked(options, totalFrames: 1)
        return try plan(AudioAnalysis.analyze(path: path), options: options)
    }
}
