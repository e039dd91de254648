import Foundation

/// SHA-256 helpers (libavutil's, through ``SHA256``) for cache keys, checksums and work-dir names.
enum Hashing {
    /// Hex SHA-256 of bytes.
    static func sha256(_ data: some DataProtocol) -> String {
        let hasher = SHA256()
        hasher.update(data)
        return hasher.hexDigest()
    }

    /// Hex SHA-256 of a file, read in 1 MiB chunks (never whole in memory).
    /// Only regular files are read (a device such as `/dev/zero` never ends), and the work
    /// stops at the next chunk when its task is cancelled.
    static func sha256(file path: String) throws -> String {
        try FileChecks.requireRegularFile(path)
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw MediaError(.cannotOpen, file: path, "cannot open to compute its checksum")
        }
        defer { try? handle.close() }
        let hasher = SHA256()
        while true {
            try BlockingWork.checkCancellation()
            let chunk = try handle.read(upToCount: 1 << 20) ?? Data()
            if chunk.isEmpty { break }
            hasher.update(chunk)
        }
        return hasher.hexDigest()
    }

    /// ``sha256(file:)`` off the cooperative pool (through ``runBlocking(_:)``).
    static func sha256(fileAt path: String) async throws -> String {
        try await runBlocking { try sha256(file: path) }
    }

    /// Hex SHA-256 of labelled parts (each part length-prefixed so no two lists collide).
    static func key(_ parts: [String]) -> String {
        var data = Data()
        for part in parts {
            let bytes = Array(part.utf8)
            data.append(contentsOf: "\(bytes.count):".utf8)
            data.append(contentsOf: bytes)
        }
        return sha256(data)
    }
}
