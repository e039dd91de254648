import Foundation

/// Clips kept by content, so the same input never pays twice, across work dirs too.
struct ClipCache: Sendable {
    let directory: URL

    /// `$XDG_CACHE_HOME/infinistitch` or `~/.cache/infinistitch`.
    static func defaultRoot(environment: [String: String]) -> URL {
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty, xdg.hasPrefix("/") {
            return URL(fileURLWithPath: xdg).appendingPathComponent("infinistitch")
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return URL(fileURLWithPath: home).appendingPathComponent(".cache/infinistitch")
    }

    func url(for key: String) -> URL { directory.appendingPathComponent("\(key).mp4") }

    /// The cached clip for `key`, if present.
    func lookup(_ key: String) -> URL? {
        let url = url(for: key)
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    /// Copies a clip into the cache (temp + rename, so a reader never sees half a file).
    func store(_ clip: URL, key: String) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try AtomicFile.produce(url(for: key).path) { temp in
            try FileManager.default.copyItem(atPath: clip.path, toPath: temp)
        }
    }
}
