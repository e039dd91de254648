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

    /// Throws unless `path` may receive an output file: nothing there yet, or a regular file
    /// (which the finished output replaces). A device, pipe, socket or directory is never
    /// written over: renaming a finished file onto `/dev/zero` would replace the device.
    static func requireReplaceableFile(_ path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else { return }  // nothing there yet (or a dangling link)
        let type = info.st_mode & S_IFMT
        if type == S_IFREG { return }
        if type == S_IFDIR { throw MediaError(.unsupported, file: path, "is a directory; name the file to write") }
        throw MediaError(.unsupported, file: path, "is not a regular file (a device, pipe or socket); name a file to write")
    }

    /// Moves a finished temporary file onto `path` in one step (rename(2)): readers see the old
    /// file or the new one, never none or half of one.
    static func replace(_ path: String, with temp: String) throws {
        try requireReplaceableFile(path)
        guard rename(temp, path) == 0 else {
            throw MediaError(.writeFailed, file: path, "cannot move the finished file into place (\(String(cString: strerror(errno))))")
        }
    }
}
