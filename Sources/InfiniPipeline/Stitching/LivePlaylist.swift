import Foundation

/// The playlist of a live stream (``LiveStream``): an HLS EVENT playlist of fragmented-MP4
/// segments that only ever grows. Its header never changes; each published stretch adds one
/// entry at its end; `#EXT-X-ENDLIST` closes it. Every earlier text of it is a prefix of every
/// later one.
struct LivePlaylist: Sendable, Equatable {
    /// One published segment.
    struct Entry: Sendable, Equatable {
        /// The stretch it holds (its position in the plan).
        var stretch: Int
        /// Its video frames.
        var frames: Int

        /// The segment's file name in the live directory.
        var uri: String { LivePlaylist.segmentName(stretch) }
    }

    /// The playlist's file name in the live directory.
    static let name = "index.m3u8"
    /// The initialization segment's file name (the `ftyp` and `moov` boxes every segment shares).
    static let initName = "init.mp4"
    /// The comment line that names the job the playlist belongs to.
    static let jobPrefix = "# infinistitch job "

    /// The file name of stretch `index`'s segment.
    static func segmentName(_ index: Int) -> String { String(format: "seg-%05d.m4s", index) }

    /// The job the stream belongs to (a hash of the run and the stitch options).
    var job: String
    /// `#EXT-X-TARGETDURATION`: whole seconds at least as long as any segment can be.
    var targetDuration: Int
    /// The published segments, in order.
    var entries: [Entry] = []
    /// Whether `#EXT-X-ENDLIST` closes it.
    var ended = false

    /// Frames published so far.
    var frames: Int { entries.reduce(0) { $0 + $1.frames } }

    /// The playlist as written.
    var text: String {
        var lines = [
            "#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-TARGETDURATION:\(targetDuration)", "#EXT-X-MEDIA-SEQUENCE:0",
            "#EXT-X-PLAYLIST-TYPE:EVENT", "#EXT-X-INDEPENDENT-SEGMENTS", Self.jobPrefix + job,
            "#EXT-X-MAP:URI=\"\(Self.initName)\"",
        ]
        for entry in entries {
            lines.append(String(format: "#EXTINF:%.3f,", Double(entry.frames) / Double(ModelLimits.fps)))
            lines.append(entry.uri)
        }
        if ended { lines.append("#EXT-X-ENDLIST") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Reads a playlist this type wrote; nil when `text` is not one (no job line, or an entry
    /// it cannot read).
    static func parse(_ text: String) -> LivePlaylist? {
        var job: String? = nil
        var target: Int? = nil
        var entries: [Entry] = []
        var pendingFrames: Int? = nil
        var ended = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) {
            if line.hasPrefix(jobPrefix) {
                job = String(line.dropFirst(jobPrefix.count))
            } else if line.hasPrefix("#EXT-X-TARGETDURATION:") {
                target = Int(line.dropFirst("#EXT-X-TARGETDURATION:".count))
            } else if line.hasPrefix("#EXTINF:") {
                let seconds = Double(line.dropFirst("#EXTINF:".count).split(separator: ",").first ?? "")
                guard let seconds else { return nil }
                pendingFrames = Int((seconds * Double(ModelLimits.fps)).rounded())
            } else if line == "#EXT-X-ENDLIST" {
                ended = true
            } else if !line.hasPrefix("#") {
                guard let frames = pendingFrames, line.hasPrefix("seg-"), line.hasSuffix(".m4s"),
                    let stretch = Int(line.dropFirst(4).dropLast(4))
                else { return nil }
                entries.append(Entry(stretch: stretch, frames: frames))
                pendingFrames = nil
            }
        }
        guard let job, let target else { return nil }
        return LivePlaylist(job: job, targetDuration: target, entries: entries, ended: ended)
    }
}
