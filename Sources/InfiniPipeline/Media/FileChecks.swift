import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks on paths given to us before they are read.
enum FileChecks {
    /// Throws unless `path` is a regular file (after following links): devices such as
    /// `/dev/zero` never end and pipes can be read only once, so neither is read as input.
    static func requireRegularFile(_ path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let reason = errno == ENOENT ? "no such file" : String(cString: strerror(errno))
            throw MediaError(.cannotOpen, file: path, reason)
        }
        let type = info.st_mode & S_IFMT
        if type == S_IFDIR { throw MediaError(.cannotOpen, file: path, "is a directory, not a file") }
        guard type == S_IFREG else {
            throw MediaError(.cannotOpen, file: path, "is not a regular file (a device, pipe or socket); save it to a file first")
        }
    }
}
