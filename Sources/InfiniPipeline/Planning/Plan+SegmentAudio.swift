// InfiniPipeline: the audio cuts a plan asks for, handed to the audio stage.

import Foundation

extension Plan {
    /// The audio each chosen segment's request carries: from the segment's first frame for its
    /// `numFrames`, with ``SegmentAudio`` 's tail when the provider is asked for its frames (not
    /// when the clip is as long as its audio).
    /// - Parameter segments: Segment indexes; all segments when `nil`. Indexes the plan does not
    ///   have are ignored.
    func audioCuts(segments: [Int]? = nil) -> [SegmentAudio.Cut] {
        let wanted = segments.map(Set.init)
        let tail = providerRules.lengths.setBy == .audio ? 0 : SegmentAudio.tailSeconds
        return self.segments.compactMap { segment in
            guard wanted?.contains(segment.index) ?? true else { return nil }
            return SegmentAudio.Cut(
                index: segment.index, startFrame: segment.startFrame, numFrames: segment.numFrames, tail: tail)
        }
    }
}

extension SegmentAudio {
    /// Writes the audio of the chosen segments of `plan` from `source` into `directory`, in one
    /// decoding pass (see ``export(source:format:samples:cuts:to:fileName:)``).
    /// - Parameters:
    ///   - source: The audio file the plan was made from.
    ///   - plan: The plan; its `audio` must match what the file decodes to.
    ///   - segments: Indexes to export; all when `nil`.
    ///   - directory: Where the files go.
    ///   - fileName: The name of segment `index`'s file.
    /// - Returns: The written file URLs, by segment index.
    /// - Throws: `MediaError` when the file cannot be decoded or no longer matches the plan.
    @discardableResult
    static func export(
        source: String, plan: Plan, segments: [Int]? = nil, to directory: URL,
        fileName: (Int) -> String = SegmentAudio.fileName
    ) throws -> [Int: URL] {
        try export(
            source: source, format: AudioFormat(sampleRate: plan.audio.sampleRate, channels: plan.audio.channels),
            samples: plan.audio.samples, cuts: plan.audioCuts(segments: segments), to: directory,
            fileName: fileName)
    }
}

extension Plan {
    /// Writes each chosen segment's request audio (a WAV of `numFrames / 25` seconds from the
    /// segment's first frame, at most 48 kHz) from `source` into `directory`, in one decoding
    /// pass: what a ``ClipBackend`` sends the model with each segment.
    /// - Parameters:
    ///   - source: The audio file the plan was made from.
    ///   - segments: Segment indexes; all segments when nil.
    ///   - directory: Where the files go (`segment-0000.wav`, …); it must exist.
    /// - Returns: The written files, by segment index.
    /// - Throws: `MediaError` when the file cannot be decoded or no longer matches the plan.
    @discardableResult
    public func writeSegmentAudio(from source: String, segments: [Int]? = nil, to directory: URL) throws -> [Int: URL] {
        try SegmentAudio.export(source: source, plan: self, segments: segments, to: directory)
    }
}
