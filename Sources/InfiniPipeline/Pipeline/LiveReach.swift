import Foundation

/// How far a run's live stream (``PipelineOptions/live``) reaches: the finished part of the
/// video it holds, from the start.
public struct LiveReach: Codable, Sendable, Equatable {
    /// The directory of the stream (`index.m3u8` in it).
    public var directory: String
    /// Seconds of video published.
    public var seconds: Double
    /// Seconds of video the job makes.
    public var totalSeconds: Double
    /// Whether the playlist is closed (`#EXT-X-ENDLIST`): the run finished.
    public var ended: Bool

    /// A reach.
    public init(directory: String, seconds: Double, totalSeconds: Double, ended: Bool) {
        self.directory = directory
        self.seconds = seconds
        self.totalSeconds = totalSeconds
        self.ended = ended
    }

    /// One line: `"live 00:12:30 of 01:02:10"` (`", ended"` when closed).
    public var summary: String {
        func clock(_ value: Double) -> String {
            let s = Int(value.rounded(.down))
            return String(format: "%02d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60)
        }
        return "live \(clock(seconds)) of \(clock(totalSeconds))" + (ended ? ", ended" : "")
    }

    /// The file in a work dir where a run records its stream's reach (for ``JobStatus``).
    static let fileName = "live.json"

    /// The reach a run recorded in `workDir`, if it had a live stream.
    static func read(workDir: URL) -> LiveReach? {
        guard let data = FileManager.default.contents(atPath: workDir.appendingPathComponent(fileName).path) else {
            return nil
        }
        return try? JSONDecoder().decode(LiveReach.self, from: data)
    }
}
