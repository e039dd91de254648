import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks on paths given to us before they are read.
package enum FileChecks {
    /// Throws unless `path` is a regular file (after following links): devices such as
    /// `/dev/zero` never end and pipes can be read only once, so neither is read as input.
    package static func requireRegularFile(_ path: String) throws {
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

    /// Throws unless `path` is an input file we can read: it exists, is a regular file (not a
    /// directory, device or pipe) and is readable. `role` names it in the error, e.g.
    /// `"ann.jpg: no such image file"`.
    package static func requireInputFile(_ path: String, role: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw MediaError(.cannotOpen, file: path, "no such \(role) file")
        }
        let article = "aeiou".contains(role.first ?? "x") ? "an" : "a"
        guard !isDirectory.boolValue else {
            throw MediaError(.cannotOpen, file: path, "is a directory, not \(article) \(role) file")
        }
        try requireRegularFile(path)
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw MediaError(.cannotOpen, file: path, "the \(role) file is not readable")
        }
    }

    /// Throws unless `path` may receive an output file: nothing there yet, or a regular file
    /// (which the finished output replaces). A device, pipe, socket or directory is never
    /// written over: renaming a finished file onto `/dev/zero` would replace the device.
    package static func requireReplaceableFile(_ path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else { return }  // nothing there yet (or a dangling link)
        let type = info.st_mode & S_IFMT
        if type == S_IFREG { return }
        if type == S_IFDIR { throw MediaError(.unsupported, file: path, "is a directory; name the file to write") }
        throw MediaError(.unsupported, file: path, "is not a regular file (a device, pipe or socket); name a file to write")
    }

    /// Whether two paths name one file: the same path, or the same file reached by another
    /// name (`./`, `..`, a symbolic or hard link).
    package static func sameFile(_ a: String, _ b: String) -> Bool {
        if URL(fileURLWithPath: a).standardizedFileURL.path == URL(fileURLWithPath: b).standardizedFileURL.path {
            return true
        }
        var infoA = stat(), infoB = stat()
        guard stat(a, &infoA) == 0, stat(b, &infoB) == 0 else { return false }
        return infoA.st_dev == infoB.st_dev && infoA.st_ino == infoB.st_ino
    }

    /// Throws when writing `output` would replace one of `inputs` (see ``sameFile(_:_:)``).
    /// Each input is a path and its role in words (`"audio"`, `"plan"`), which the error names.
    package static func requireNotAnInput(_ output: String, inputs: [(path: String, role: String)]) throws {
        if let input = inputs.first(where: { sameFile(output, $0.path) }) {
            throw MediaError(.unsupported, file: output, "the output would overwrite an input (the \(input.role))")
        }
    }

    /// Moves a finished temporary file onto `path` in one step (rename(2)): readers see the old
    /// file or the new one, never none or half of one.
    package static func replace(_ path: String, with temp: String) throws {
        try requireReplaceableFile(path)
        guard rename(temp, path) == 0 else {
            throw MediaError(
                .writeFailed, file: path, "cannot move the finished file into place (\(String(cString: strerror(errno))))")
        }
    }
}

/// Files that appear whole or not at all: everything the package writes where a user or a later
/// run expects a finished file (outputs, clips, manifests, cache entries) is made under a hidden
/// temporary name beside its destination and renamed into place (rename(2) is atomic within a
/// directory). The only write-temp-then-rename in the package.
package enum AtomicFile {
    /// A hidden temporary path beside `path`, unique to this process and call:
    /// `.NAME.partial-PID-N`. The process id in the name tells a later run whether the file is
    /// still being written or was left by a process that no longer exists (see
    /// ``removeLeftovers(in:prefixes:)``), which it removes first.
    package static func temporaryPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent()
        removeLeftovers(in: directory.path, prefixes: [".\(url.lastPathComponent).partial-"])
        let name = ".\(url.lastPathComponent).partial-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        return directory.appendingPathComponent(name).path
    }

    /// Removes the temporary files in `directory` left by processes that no longer exist (a
    /// `kill -9`, a crash, a power cut): the names that start with one of `prefixes` followed
    /// by the process id of their writer (`.talk.mp4.partial-` then `4242-…`). A file whose
    /// process is alive (or whose id cannot be read) is never touched. Returns the paths removed.
    @discardableResult
    package static func removeLeftovers(in directory: String, prefixes: [String]) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var removed: [String] = []
        for name in names {
            guard let prefix = prefixes.first(where: { name.hasPrefix($0) }) else { continue }
            let digits = name.dropFirst(prefix.count).prefix { $0.isASCII && $0.isNumber }
            guard let pid = pid_t(digits), pid > 0, !isAlive(pid) else { continue }
            let path = URL(fileURLWithPath: directory).appendingPathComponent(name).path
            if (try? FileManager.default.removeItem(atPath: path)) != nil { removed.append(path) }
        }
        return removed
    }

    /// Whether process `pid` exists (one we may not signal exists too).
    package static func isAlive(_ pid: pid_t) -> Bool {
        kill(pid, 0) == 0 || errno != ESRCH
    }

    /// Makes the file at `path` with `body`, which writes the temporary path it is given. The
    /// file is moved into place only when `body` returns; when it throws, the temporary file is
    /// removed and `path` is untouched.
    /// With `durable`, the file and then its directory are flushed to disk (`fsync`) around the
    /// rename, so that a power cut after this returns cannot lose the file: for files that stand
    /// for money (a paid clip), before a record says they exist.
    package static func produce<T>(_ path: String, durable: Bool = false, _ body: (String) throws -> T) throws -> T {
        let temp = temporaryPath(for: path)
        do {
            let result = try body(temp)
            if durable { try syncFile(temp, naming: path) }
            try FileChecks.replace(path, with: temp)
            if durable { try syncDirectory(of: path) }
            return result
        } catch {
            try? FileManager.default.removeItem(atPath: temp)
            throw error
        }
    }

    /// ``produce(_:_:)`` for asynchronous writers (downloads).
    package static func produce<T>(
        _ path: String, durable: Bool = false, _ body: (String) async throws -> T
    ) async throws -> T {
        let temp = temporaryPath(for: path)
        do {
            let result = try await body(temp)
            if durable { try syncFile(temp, naming: path) }
            try FileChecks.replace(path, with: temp)
            if durable { try syncDirectory(of: path) }
            return result
        } catch {
            try? FileManager.default.removeItem(atPath: temp)
            throw error
        }
    }

    /// Writes `data` to `path` whole or not at all.
    /// - Parameter durable: also on disk before returning: the bytes are flushed (`fsync`)
    ///   before the rename and the directory after it, so that even a power cut leaves the old
    ///   file or the new one, never an empty one or none. For records that stand for money.
    package static func write(_ data: Data, to path: String, durable: Bool = false) throws {
        try produce(path, durable: durable) { temp in
            guard FileManager.default.createFile(atPath: temp, contents: data) else {
                throw MediaError(.writeFailed, file: path, "cannot write the file (\(String(cString: strerror(errno))))")
            }
        }
    }

    /// Flushes the file at `temp` to disk; errors name `path`, the file it becomes.
    private static func syncFile(_ temp: String, naming path: String) throws {
        let fd = open(temp, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw MediaError(.writeFailed, file: path, "cannot open the file to flush it (\(String(cString: strerror(errno))))")
        }
        defer { _ = close(fd) }
        guard fsync(fd) == 0 else {
            throw MediaError(.writeFailed, file: path, "cannot flush the file (\(String(cString: strerror(errno))))")
        }
    }

    /// Flushes the directory that holds `path`, so that a rename into it is on disk.
    private static func syncDirectory(of path: String) throws {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            throw MediaError(
                .writeFailed, file: path, "cannot open its directory to flush it (\(String(cString: strerror(errno))))")
        }
        defer { _ = close(fd) }
        guard fsync(fd) == 0 else {
            throw MediaError(.writeFailed, file: path, "cannot flush its directory (\(String(cString: strerror(errno))))")
        }
    }
}
