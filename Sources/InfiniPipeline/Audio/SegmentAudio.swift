// InfiniPipeline: the audio each request carries, cut from the source in one decoding pass.

import Foundation

/// Cuts the audio each segment's request carries: it starts exactly at the segment's first
/// frame and runs `numFrames / 25` s plus ``tailSeconds`` more of the following audio, digital
/// silence past the end of the file, at the source's channel count and rate (at most
/// ``maximumSampleRate``), as 16-bit PCM WAV (lossless for 16-bit sources up to that rate).
///
/// The cuts are plain descriptions (``Cut``); the planning stage makes them from a plan.
enum SegmentAudio {
    /// Audio past the requested frames: the model refuses audio that is not longer than the
    /// frames requested, and the context helps the last frames' lip-sync.
    static let tailSeconds = 0.2

    /// The highest rate of a segment's WAV. A source above it (a 192 kHz studio file, DSD
    /// decoded at 352.8 or 705.6 kHz) is cut at its own rate and each segment resampled to this
    /// rate: the model hears speech at 16 kHz, and a 29 s clip's audio stays a few MB to upload
    /// instead of tens.
    static let maximumSampleRate = 48_000

    /// One request's audio: where on the model's timeline it starts and how many frames it
    /// must cover (``tailSeconds`` are added).
    struct Cut: Sendable, Hashable {
        /// Names the file (`fileName(index)`) and keys the result.
        var index: Int
        /// The first output frame (at ``ModelLimits/fps``) the audio accompanies, ≥ 0.
        var startFrame: Int
        /// The frames the request renders (`num_frames`), ≥ 1.
        var numFrames: Int
        /// Only this channel of the source (from 0), written as mono; all channels when `nil`.
        var channel: Int? = nil
        /// Stretches of the source's timeline, in seconds, written as silence (another voice's
        /// turns, so that an avatar does not mouth them); the edges fade over ``fadeSeconds``.
        var silenced: [Range<Double>] = []
        /// Audio past the frames: ``tailSeconds`` for a model that is asked for its frames; none
        /// for a provider whose clip is as long as the audio (a tail would lengthen, and bill,
        /// every clip).
        var tail: Double = SegmentAudio.tailSeconds
    }

    /// The ramp at each edge of a silenced stretch (no click where a voice is cut out).
    static let fadeSeconds = 0.01

    /// The name ``export(source:format:samples:cuts:to:fileName:)`` gives cut `index`'s WAV.
    static func fileName(_ index: Int) -> String { String(format: "segment-%04d.wav", index) }

    /// The rate of the segment WAVs cut from a source at `sourceRate`.
    static func fileSampleRate(forSource sourceRate: Int) -> Int {
        min(sourceRate, maximumSampleRate)
    }

    /// The sample range (per channel) of a request's audio in the source:
    /// from `startFrame × rate / 25` (rounded down) for `ceil((numFrames / 25 + tail) × rate)`
    /// samples. It may run past the end of the source, where it is silence.
    static func sampleRange(startFrame: Int, numFrames: Int, sampleRate: Int, tail: Double = tailSeconds) -> Range<Int> {
        let fps = ModelLimits.fps
        let start = startFrame * sampleRate / fps
        // numFrames / fps + tail, in samples, rounded up, computed in integers where exact.
        let tailSamples = Int((tail * Double(sampleRate)).rounded(.up))
        let count = (numFrames * sampleRate + fps - 1) / fps + tailSamples
        return start..<(start + count)
    }

    /// Writes the audio of `cuts` from `source` into `directory` in one decoding pass, as
    /// `segment-NNNN.wav` (or names from `fileName`). Each file appears whole or not at all
    /// (written under a temporary name and renamed when complete, see `AtomicFile`).
    /// - Parameters:
    ///   - source: The audio file.
    ///   - format: The rate and channel count the file must decode to; any when `nil` (a
    ///     speaker's own track, which has its own format).
    ///   - samples: The sample frames the file must decode to: the cuts were made for that
    ///     length; any when `nil`.
    ///   - cuts: The pieces to write, in any order; indexes must differ.
    ///   - directory: Where the files go; created when missing.
    /// - Returns: The written file URLs, by cut index.
    /// - Throws: `MediaError` when the file cannot be decoded or no longer matches `format`
    ///   and `samples`, `.misuse` for a cut that is empty, negative or given twice.
    @discardableResult
    static func export(
        source: String, format expected: AudioFormat?, samples expectedSamples: Int?, cuts: [Cut],
        to directory: URL, fileName: (Int) -> String = SegmentAudio.fileName
    ) throws -> [Int: URL] {
        guard Set(cuts.map(\.index)).count == cuts.count else {
            throw MediaError(.misuse, file: source, "the same segment's audio was asked for twice")
        }
        if let bad = cuts.first(where: { $0.startFrame < 0 || $0.numFrames < 1 }) {
            throw MediaError(
                .misuse, file: source,
                "segment \(bad.index)'s audio cut (frame \(bad.startFrame), \(bad.numFrames) frames) is empty or negative")
        }
        let reader = try AudioReader(path: source)
        let format = reader.outputFormat
        if let expected, format != expected {
            throw MediaError(
                .invalidData, file: source,
                "the file no longer matches the plan (\(format.sampleRate) Hz, \(format.channels) ch; the plan says \(expected.sampleRate) Hz, \(expected.channels) ch)"
            )
        }
        if let bad = cuts.first(where: { ($0.channel ?? 0) < 0 || ($0.channel ?? 0) >= format.channels }) {
            throw MediaError(
                .invalidData, file: source,
                "segment \(bad.index) asks for channel \(bad.channel ?? 0), but the file has \(format.channels) (0…\(format.channels - 1))"
            )
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var writers: [SegmentWriter] = []
        defer { for w in writers { w.abandon() } }
        // The cut is made on the plan's timeline, in source samples (so the check against the
        // plan below stays exact); a segment is resampled on its own when the WAV's rate is
        // lower, to the length its frames need at that rate.
        let fileRate = fileSampleRate(forSource: format.sampleRate)
        for cut in cuts.sorted(by: { $0.startFrame < $1.startFrame }) {
            let range = sampleRange(
                startFrame: cut.startFrame, numFrames: cut.numFrames, sampleRate: format.sampleRate, tail: cut.tail)
            let frames = sampleRange(
                startFrame: cut.startFrame, numFrames: cut.numFrames, sampleRate: fileRate, tail: cut.tail
            ).count
            writers.append(
                try SegmentWriter(
                    index: cut.index, range: range, source: format, channel: cut.channel,
                    silenced: cut.silenced.map {
                        Int(
                            ($0.lowerBound * Double(format.sampleRate)).rounded())..<Int(
                                ($0.upperBound * Double(format.sampleRate)).rounded())
                    },
                    file: AudioFormat(sampleRate: fileRate, channels: cut.channel == nil ? format.channels : 1),
                    frames: frames, url: directory.appendingPathComponent(fileName(cut.index)),
                    sourcePath: source))
        }
        var position = 0  // sample frames delivered so far
        var firstOpen = 0  // writers before it are complete (the writers are in order of start)
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
                    try w.append(
                        UnsafeBufferPointer(rebasing: chunk[((lo - position) * channels)..<((hi - position) * channels)]), at: lo)
                }
                i += 1
            }
            position += frames
        }
        if let expectedSamples, total != expectedSamples {
            throw MediaError(
                .invalidData, file: source,
                "the file decodes to \(total) samples but the plan was made for \(expectedSamples): plan it again")
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
///
/// The file is written under ``AtomicFile``'s temporary name and moved into place by
/// ``finish()``; the decoding pass feeds many files at once, so the body-style
/// `AtomicFile.produce` does not fit, but the naming and the rename are its.
private final class SegmentWriter {
    let index: Int
    /// The segment's samples in the source, at the source's rate.
    let range: Range<Int>
    let url: URL
    let channels: Int
    /// The source's channels per sample frame.
    let sourceChannels: Int
    /// The one source channel written, or all when `nil`.
    let channel: Int?
    /// Source sample ranges written as silence (with ramps), sorted.
    let silenced: [Range<Int>]
    /// Samples of each ramp at the source's rate.
    let ramp: Int
    /// Sample frames the file holds, at its own rate.
    let frames: Int
    private let temp: String
    private let handle: FileHandle
    private let resampler: SampleConverter?
    private var written = 0
    private var buffer: [UInt8] = []

    init(
        index: Int, range: Range<Int>, source: AudioFormat, channel: Int? = nil, silenced: [Range<Int>] = [],
        file: AudioFormat, frames: Int, url: URL, sourcePath: String
    ) throws {
        self.index = index
        self.range = range
        self.sourceChannels = source.channels
        self.channel = channel
        self.silenced = silenced.filter { !$0.isEmpty && $0.overlaps(range) }.sorted { $0.lowerBound < $1.lowerBound }
        self.ramp = max(1, Int((SegmentAudio.fadeSeconds * Double(source.sampleRate)).rounded()))
        self.url = url
        self.frames = frames
        channels = file.channels
        resampler =
            file.sampleRate == source.sampleRate
            ? nil
            : try SampleConverter(interleavedChannels: channels, from: source.sampleRate, to: file.sampleRate, file: sourcePath)
        temp = AtomicFile.temporaryPath(for: url.path)
        guard FileManager.default.createFile(atPath: temp, contents: nil),
            let h = FileHandle(forWritingAtPath: temp)
        else {
            throw MediaError(.writeFailed, file: url.path, "cannot create the segment audio file")
        }
        handle = h
        do {
            try handle.write(contentsOf: WAV.header(sampleRate: file.sampleRate, channels: file.channels, frames: frames))
        } catch {
            abandon()
            throw MediaError(.writeFailed, file: url.path, "cannot write the segment audio file (\(error.localizedDescription))")
        }
    }

    /// Takes the segment's next source samples, the first of which is source sample frame `position`.
    func append(_ input: UnsafeBufferPointer<Float>, at position: Int) throws {
        guard channel != nil || !silenced.isEmpty else { return try append(input) }
        let frameCount = input.count / sourceChannels
        var picked = [Float](repeating: 0, count: frameCount * channels)
        for f in 0..<frameCount {
            let gain = self.gain(at: position + f)
            if let channel {
                picked[f] = input[f * sourceChannels + channel] * gain
            } else {
                for c in 0..<channels { picked[f * channels + c] = input[f * channels + c] * gain }
            }
        }
        try picked.withUnsafeBufferPointer { try append($0) }
    }

    /// 0 inside a silenced stretch, 1 away from one, a linear ramp over ``ramp`` samples at
    /// each edge (outside the stretch, so the silence itself is whole).
    private func gain(at sample: Int) -> Float {
        var gain: Float = 1
        for r in silenced {
            if r.lowerBound - ramp > sample { break }
            if r.contains(sample) { return 0 }
            let distance = sample < r.lowerBound ? r.lowerBound - sample : sample - r.upperBound + 1
            if distance < ramp { gain = min(gain, Float(distance) / Float(ramp)) }
        }
        return gain
    }

    /// Takes samples laid out as the file's channels.
    private func append(_ samples: UnsafeBufferPointer<Float>) throws {
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

    /// Pads the file with silence to its declared length, closes it and moves it into place.
    func finish() throws {
        if let resampler { try resampler.flush { try write($0) } }
        // Past the end of the source: digital silence.
        let missing = frames - written
        if missing > 0 { buffer.append(contentsOf: [UInt8](repeating: 0, count: missing * channels * 2)) }
        try flush()
        try handle.close()
        try FileChecks.replace(url.path, with: temp)
    }

    /// Closes and removes the temporary file (after a failure, or a finished writer: then
    /// there is nothing left to remove).
    func abandon() {
        try? handle.close()
        try? FileManager.default.removeItem(atPath: temp)
    }
}
