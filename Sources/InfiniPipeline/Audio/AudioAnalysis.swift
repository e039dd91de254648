import Foundation

/// What the planner needs to know about an audio file: its exact length and its loudness
/// over time. Made in one streaming pass; the samples themselves are not kept.
public struct AudioAnalysis: Sendable, Equatable {
    /// The file analysed.
    public var source: String
    /// The decoded format (the source's own rate and channel count).
    public var format: AudioFormat
    /// Exact decoded sample frames (per channel), after encoder delay and padding are removed.
    public var samples: Int
    /// RMS loudness per 10 ms hop, all channels mixed.
    public var envelope: LoudnessEnvelope
    /// What decoding found odd but accepted, one line each (see ``AudioReader/warnings``).
    public var warnings: [String] = []

    /// Duration in seconds: samples / rate.
    public var duration: Double { Double(samples) / Double(format.sampleRate) }

    /// Decodes `path` (any container FFmpeg reads; a video's audio track) once and measures it.
    /// - Throws: `MediaError` naming the file: missing, empty, not audio, no audio stream, no
    ///   samples, or truncated.
    public static func analyze(path: String) throws -> AudioAnalysis {
        let reader = try AudioReader(path: path)
        var builder = LoudnessEnvelopeBuilder(sampleRate: reader.outputFormat.sampleRate)
        let channels = reader.outputFormat.channels
        let samples = try reader.read { chunk in builder.append(chunk, channels: channels) }
        return AudioAnalysis(source: path, format: reader.outputFormat, samples: samples, envelope: builder.finish(),
                             warnings: reader.warnings)
    }
}

/// Cuts the audio each segment's request carries (plan rule 4): it starts exactly at the
/// segment's first frame and runs `numFrames / 25` s plus `tailSeconds` more of the following
/// audio, digital silence past the end of the file, at the source's channel count and rate
/// (at most ``maximumSampleRate``), as 16-bit PCM WAV (lossless for 16-bit sources up to that
/// rate).
public enum SegmentAudio {
    /// Audio past the requested frames: the model refuses audio that is not longer than the
    /// frames requested, and the context helps the last frames' lip-sync.
    public static let tailSeconds = 0.2

    /// The highest rate of a segment's WAV. A source above it (a 192 kHz studio file, DSD
    /// decoded at 352.8 or 705.6 kHz) is cut at its own rate and each segment resampled to this
    /// rate: the model hears speech at 16 kHz, and a 29 s clip's audio stays a few MB to upload
    /// instead of tens.
    public static let maximumSampleRate = 48_000

    /// The name ``export(source:plan:segments:to:fileName:)`` gives segment `index`'s WAV.
    public static func fileName(_ index: Int) -> String { String(format: "segment-%04d.wav", index) }

    /// The rate of the segment WAVs cut from a source at `sourceRate`.
    public static func fileSampleRate(forSource sourceRate: Int) -> Int {
        min(sourceRate, maximumSampleRate)
    }

    /// The sample range (per channel) of a segment's audio in the source:
    /// from `startFrame × rate / 25` (rounded down) for `ceil((numFrames / 25 + tail) × rate)`
    /// samples. It may run past the end of the source, where it is silence.
    public static func sampleRange(startFrame: Int, numFrames: Int, sampleRate: Int) -> Range<Int> {
        let fps = ModelLimits.fps
        let start = startFrame * sampleRate / fps
        // numFrames / fps + tail, in samples, rounded up, computed in integers where exact.
        let tailSamples = Int((tailSeconds * Double(sampleRate)).rounded(.up))
        let count = (numFrames * sampleRate + fps - 1) / fps + tailSamples
        return start..<(start + count)
    }

    /// Writes the audio of the chosen segments of `plan` from `source` into `directory`, in one
    /// decoding pass, as `segment-NNNN.wav` (or names from `fileName`). Files are written under
    /// temporary names and renamed when complete.
    /// - Parameters:
    ///   - source: the audio file the plan was made from.
    ///   - plan: the plan; its `audio.samples` must match what the file decodes to.
    ///   - segments: indexes to export; all when nil.
    /// - Returns: the written file URLs, by segment index.
    /// - Throws: `MediaError` when the file cannot be decoded or no longer matches the plan.
    @discardableResult
    public static func export(source: String, plan: Plan, segments: [Int]? = nil, to directory: URL,
                              fileName: (Int) -> String = SegmentAudio.fileName) throws -> [Int: URL] {
        let wanted = Set(segments ?? plan.segments.map(\.index))
        let reader = try AudioReader(path: source)
        let format = reader.outputFormat
        guard format.sampleRate == plan.audio.sampleRate, format.channels == plan.audio.channels else {
            throw MediaError(.invalidData, file: source, "the file no longer matches the plan (\(format.sampleRate) Hz, \(format.channels) ch; the plan says \(plan.audio.sampleRate) Hz, \(plan.audio.channels) ch)")
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var writers: [SegmentWriter] = []
        defer { for w in writers { w.abandon() } }
        // The cut is made on the plan's timeline, in source samples (so the check against the
        // plan below stays exact); a segment is resampled on its own when the WAV's rate is
        // lower, to the length its frames need at that rate.
        let fileRate = fileSampleRate(forSource: format.sampleRate)
        for segment in plan.segments where wanted.contains(segment.index) {
            let range = sampleRange(startFrame: segment.startFrame, numFrames: segment.numFrames, sampleRate: format.sampleRate)
            let frames = sampleRange(startFrame: segment.startFrame, numFrames: segment.numFrames, sampleRate: fileRate).count
            writers.append(try SegmentWriter(index: segment.index, range: range, source: format,
                                             file: AudioFormat(sampleRate: fileRate, channels: format.channels),
                                             frames: frames, url: directory.appendingPathComponent(fileName(segment.index)),
                                             sourcePath: source))
        }
        var position = 0  // sample frames delivered so far
        var firstOpen = 0
        let channels = format.channels
        let total = try reader.read { chunk in
            let frames = chunk.count / channels
            let chunkRange = position..<(position + frames)
            while firstOpen < writers.count && writers[firstOpen].range.upperBound <= chunkRange.lowerBound { firstOpen += 1 }
            var i = firstOpen
            while i < writers.count && writers[i].range.lowerBound < chunkRange.upperBound {
                let w = writers[i]
                let lo = max(w.range.lowerBound, chunkRange.lowerBound), hi = min(w.range.upperBound, chunkRange.upperBound)
                if lo < hi {
                    try w.append(UnsafeBufferPointer(rebasing: chunk[((lo - position) * channels)..<((hi - position) * channels)]))
                }
                i += 1
            }
            position += frames
        }
        guard total == plan.audio.samples else {
            throw MediaError(.invalidData, file: source, "the file decodes to \(total) samples but the plan was made for \(plan.audio.samples): plan it again")
        }
        var result: [Int: URL] = [:]
        for w in writers {
            try w.finish()
            result[w.index] = w.url
        }
        writers.removeAll()
        return result
    }
}

/// Streams one segment's samples into a WAV file whose size is known in advance.
private final class SegmentWriter {
    let index: Int
    /// The segment's samples in the source, at the source's rate.
    let range: Range<Int>
    let url: URL
    let channels: Int
    /// Sample frames the file holds, at its own rate.
    let frames: Int
    private let temp: URL
    private let handle: FileHandle
    private let resampler: SampleConverter?
    private var written = 0
    private var buffer: [UInt8] = []

    init(index: Int, range: Range<Int>, source: AudioFormat, file: AudioFormat, frames: Int, url: URL,
         sourcePath: String) throws {
        self.index = index
        self.range = range
        self.url = url
        self.frames = frames
        channels = file.channels
        resampler = file.sampleRate == source.sampleRate ? nil
            : try SampleConverter(interleavedChannels: channels, from: source.sampleRate, to: file.sampleRate, file: sourcePath)
        temp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial")
        guard FileManager.default.createFile(atPath: temp.path, contents: nil),
              let h = FileHandle(forWritingAtPath: temp.path) else {
            throw MediaError(.writeFailed, file: temp.path, "cannot create the segment audio file")
        }
        handle = h
        try handle.write(contentsOf: WAV.header(sampleRate: file.sampleRate, channels: file.channels, frames: frames))
    }

    /// Takes the segment's next source samples.
    func append(_ samples: UnsafeBufferPointer<Float>) throws {
        if let resampler {
            try resampler.convert(interleaved: samples) { try write($0) }
        } else {
            try write(samples)
        }
    }

    /// Writes samples at the file's rate, up to the length the header declares.
    private func write(_ samples: UnsafeBufferPointer<Float>) throws {
        let take = min(samples.count / channels, frames - written)
        guard take > 0 else { return }
        WAV.appendPCM16(UnsafeBufferPointer(rebasing: samples[0..<(take * channels)]), to: &buffer)
        written += take
        if buffer.count >= 1 << 16 { try flush() }
    }

    private func flush() throws {
        try handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    func finish() throws {
        if let resampler { try resampler.flush { try write($0) } }
        // Past the end of the source: digital silence.
        let missing = frames - written
        if missing > 0 { buffer.append(contentsOf: [UInt8](repeating: 0, count: missing * channels * 2)) }
        try flush()
        try handle.close()
        _ = try? FileManager.default.removeItem(at: url)
        try FileManager.default.moveItem(at: temp, to: url)
    }

    func abandon() {
        try? handle.close()
        try? FileManager.default.removeItem(at: temp)
    }
}

/// Minimal 16-bit PCM WAV writing.
enum WAV {
    /// The 44-byte RIFF/WAVE header for `frames` sample frames of 16-bit PCM.
    static func header(sampleRate: Int, channels: Int, frames: Int) -> Data {
        let dataBytes = frames * channels * 2
        var d = Data()
        func u32(_ v: Int) { var x = UInt32(truncatingIfNeeded: v).littleEndian; d.append(Data(bytes: &x, count: 4)) }
        func u16(_ v: Int) { var x = UInt16(truncatingIfNeeded: v).littleEndian; d.append(Data(bytes: &x, count: 2)) }
        d.append(contentsOf: Array("RIFF".utf8)); u32(36 + dataBytes)
        d.append(contentsOf: Array("WAVE".utf8))
        d.append(contentsOf: Array("fmt ".utf8)); u32(16); u16(1); u16(channels); u32(sampleRate)
        u32(sampleRate * channels * 2); u16(channels * 2); u16(16)
        d.append(contentsOf: Array("data".utf8)); u32(dataBytes)
        return d
    }

    /// Appends float samples as little-endian signed 16-bit, rounded and clipped.
    static func appendPCM16(_ samples: UnsafeBufferPointer<Float>, to bytes: inout [UInt8]) {
        bytes.reserveCapacity(bytes.count + samples.count * 2)
        for s in samples {
            let v = Int16(max(-32768, min(32767, (s * 32768).rounded())))
            let u = UInt16(bitPattern: v)
            bytes.append(UInt8(u & 0xFF))
            bytes.append(UInt8(u >> 8))
        }
    }

    /// A whole WAV file in memory.
    static func file(_ samples: [Float], sampleRate: Int, channels: Int) -> Data {
        var d = header(sampleRate: sampleRate, channels: channels, frames: samples.count / channels)
        var bytes: [UInt8] = []
        samples.withUnsafeBufferPointer { appendPCM16($0, to: &bytes) }
        d.append(contentsOf: bytes)
        return d
    }
}

extension SegmentPlanner {
    /// Plans an analysed audio file. See ``plan(samples:sampleRate:channels:envelope:options:)``.
    public static func plan(_ analysis: AudioAnalysis, options: PlanningOptions = PlanningOptions()) throws -> Plan {
        try plan(samples: analysis.samples, sampleRate: analysis.format.sampleRate, channels: analysis.format.channels,
                 envelope: analysis.envelope, options: options)
    }

    /// Decodes and plans an audio file (any container FFmpeg reads, or a video's audio track).
    /// - Throws: `MediaError` for unreadable or non-audio input, `PlanningError` for bad options.
    public static func plan(audioFile path: String, options: PlanningOptions = PlanningOptions()) throws -> Plan {
        // Options are checked before the (possibly long) decode, so a typo fails fast.
        _ = try effectiveMaxFrames(options.maxFrames)
        return try plan(AudioAnalysis.analyze(path: path), options: options)
    }
}
