import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where one segment stands. Saved in the manifest at every change, so a new run knows what
/// was paid for and what is left.
enum SegmentState: String, Codable, Sendable, CaseIterable {
    /// Nothing done yet.
    case pending
    /// Its audio file is cut.
    case audioReady
    /// Its audio is uploaded (or otherwise staged).
    case uploaded
    /// A submit is being sent: if a run dies here, the request may or may not exist.
    case submitting
    /// Accepted by the queue: the request id is recorded. Never submitted again.
    case submitted
    /// The model finished; the result URL is recorded.
    case completed
    /// The clip is downloaded, inspected and checksummed.
    case done
    /// Generation failed more times than allowed.
    case failed
    /// A submit's answer never arrived: the request may exist and be billed. Never sent again
    /// unless ``PipelineOptions/resubmitUnknown`` says so.
    case unknown
}

/// One segment's record in the manifest.
struct SegmentRecord: Codable, Sendable, Equatable {
    /// Plan segment index.
    var index: Int
    /// Where it stands.
    var state: SegmentState = .pending
    /// The segment's audio file (in the work dir) and its SHA-256.
    var audioFile: String?
    var audioSHA256: String?
    /// The staged audio URL.
    var audioURL: String?
    /// The current request, when one is in the queue or done.
    var request: SubmittedRequest?
    /// The clip URL the model returned.
    var resultURL: String?
    /// The downloaded clip (in the work dir) and its SHA-256.
    var clipPath: String?
    var clipSHA256: String?
    /// Submits made for this segment (each may be billed).
    var submits: Int = 0
    /// Why earlier attempts failed.
    var failures: [String] = []
    /// Whether the clip came from the cache (nothing paid in this run).
    var fromCache: Bool = false

    init(index: Int) { self.index = index }
}

/// The work dir's record of a run: what the inputs were and where every segment stands.
struct Manifest: Codable, Sendable, Equatable {
    /// Format version.
    var version = 1
    /// Hash of the inputs and options that decide the clips; a work dir serves only this run.
    var runKey: String
    /// The audio file.
    var audio: String
    /// The image file.
    var image: String
    /// The backend identity ("fal-ai/infinitalk", "preview").
    var backend: String
    /// The plan being executed.
    var plan: Plan
    /// SHA-256 of the fitted PNG sent to the model.
    var imageSHA256: String
    /// The staged image URL: uploaded once per run.
    var imageURL: String?
    /// A multi-speaker run's staged portraits, by speaker name (each uploaded once per run).
    var speakerImageURLs: [String: String]?
    /// One record per segment.
    var segments: [SegmentRecord]
    /// The options of the last run that resume the job (absent in manifests of older versions).
    var settings: RunSettings?

    /// Where segment `index`'s clip and audio live in a work dir. A record naming any other
    /// file is not trusted: clips are only ever written here.
    static func clipPath(_ index: Int, workDir: URL) -> String {
        workDir.appendingPathComponent("clips").appendingPathComponent(String(format: "segment-%04d.mp4", index)).path
    }

    static func audioPath(_ index: Int, workDir: URL) -> String {
        workDir.appendingPathComponent("audio").appendingPathComponent(SegmentAudio.fileName(index)).path
    }

    /// The manifest as a run can trust it: one record per plan segment, in index order, each
    /// naming only its own files in `workDir`. A hand-edited or damaged manifest is mended
    /// where that costs nothing and loses no paid work: records are put back in order, a
    /// missing record starts afresh, and a finished clip or cut audio recorded under another
    /// path is made again (the clip cache usually has it). Each mend is reported.
    /// - Throws: an ``PipelineError/Kind/invalidWorkDir`` error naming the manifest when a record's index is
    ///   outside the plan or appears twice (which record holds the paid request is unknowable).
    func reconciled(workDir: URL, manifestPath: String) throws -> (Manifest, [String]) {
        var notes: [String] = []
        let count = plan.segments.count
        var byIndex = [SegmentRecord?](repeating: nil, count: count)
        for (position, record) in segments.enumerated() {
            guard (0..<count).contains(record.index) else {
                throw PipelineError(
                    .invalidWorkDir,
                    "\(manifestPath): segments[\(position)].index is \(record.index), but the plan has segments 0…\(count - 1); remove the work dir to start over"
                )
            }
            guard byIndex[record.index] == nil else {
                throw PipelineError(
                    .invalidWorkDir, "\(manifestPath): segment \(record.index) has two records; remove the work dir to start over"
                )
            }
            if record.index != position {
                notes.append(
                    "\(manifestPath): the record of segment \(record.index) was at position \(position); put back in order")
            }
            byIndex[record.index] = record
        }
        var mended = self
        mended.segments = []
        for index in 0..<count {
            guard var record = byIndex[index] else {
                notes.append("\(manifestPath): segment \(index) has no record; starting it afresh")
                mended.segments.append(SegmentRecord(index: index))
                continue
            }
            if let clip = record.clipPath, clip != Self.clipPath(index, workDir: workDir) {
                notes.append(
                    "segment \(index): the manifest names \(clip) as its clip, not this work dir's file; making it again")
                // A finished record without its clip is made again the usual way (cache first).
                record.clipPath = nil
                record.clipSHA256 = nil
            }
            if let audio = record.audioFile, audio != Self.audioPath(index, workDir: workDir) {
                notes.append(
                    "segment \(index): the manifest names \(audio) as its audio, not this work dir's file; cutting it again")
                record.audioFile = nil
                record.audioSHA256 = nil
                record.audioURL = nil
            }
            mended.segments.append(record)
        }
        return (mended, notes)
    }
}

/// Owns the manifest of a run and rewrites it atomically (temp file + rename) at every change.
actor ManifestStore {
    private(set) var manifest: Manifest
    let url: URL

    init(manifest: Manifest, url: URL) throws {
        self.manifest = manifest
        self.url = url
        try Self.write(manifest, to: url)
    }

    /// Loads a manifest, or nil when there is none.
    static func load(from url: URL) throws -> Manifest? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        do {
            try FileChecks.requireRegularFile(url.path)
        } catch let error as MediaError {
            throw PipelineError(.invalidWorkDir, error.description, file: url.path, underlying: error)
        }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw PipelineError(
                .failed, "\(url.path): cannot read the manifest (\(Pipeline.reason(error)))", file: url.path, underlying: error)
        }
        do {
            return try JSONDecoder().decode(Manifest.self, from: data)
        } catch let error as DecodingError {
            let problem = PlanFileError(decoding: error)
            throw PipelineError(
                .invalidWorkDir, "\(url.path): the manifest is damaged (\(problem)); remove the work dir to start over",
                file: url.path, underlying: error)
        }
    }

    static func write(_ manifest: Manifest, to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(manifest)
        // Whole or not at all, and on disk before the pipeline acts on it: a crash or a power
        // cut leaves the old manifest or the new one, so a submitted request's id or a finished
        // clip (both paid for) is never forgotten.
        do {
            try AtomicFile.write(data, to: url.path, durable: true)
        } catch {
            throw PipelineError(
                .failed, "\(url.path): cannot save the manifest (\(Pipeline.reason(error)))", file: url.path,
                underlying: error)
        }
    }

    /// Changes one segment's record and saves.
    @discardableResult
    func update(_ index: Int, _ change: (inout SegmentRecord) -> Void) throws -> SegmentRecord {
        change(&manifest.segments[index])
        try Self.write(manifest, to: url)
        return manifest.segments[index]
    }

    /// Records the staged image URL (of `speaker`'s portrait in a multi-speaker run) and saves.
    func setImageURL(_ url: String, speaker: String? = nil) throws {
        if let speaker {
            manifest.speakerImageURLs = (manifest.speakerImageURLs ?? [:]).merging([speaker: url]) { $1 }
        } else {
            manifest.imageURL = url
        }
        try Self.write(manifest, to: self.url)
    }

    /// The staged image URL of `speaker`'s portrait (the one portrait when `nil`), if recorded.
    func imageURL(speaker: String?) -> String? {
        speaker.map { manifest.speakerImageURLs?[$0] } ?? manifest.imageURL
    }

    func record(_ index: Int) -> SegmentRecord { manifest.segments[index] }
}
