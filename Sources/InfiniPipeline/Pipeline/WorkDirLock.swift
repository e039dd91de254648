import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive lock on a work dir: `flock` on its `lock` file, which holds the owner's pid.
///
/// Two runs of the same job would otherwise both submit the same segments and pay twice. The
/// kernel drops the lock when its process dies, however it dies, so a crashed run never
/// leaves a stale lock behind. Locks are per open file, so a second ``Pipeline`` in the same
/// process is refused too.
final class WorkDirLock: Sendable {
    /// The lock file's descriptor, -1 once released.
    private let descriptor: NIOLockedValueBox<Int32>

    /// Takes the lock, or throws a ``PipelineError/Kind/workDirInUse`` error naming the process that holds it.
    init(directory: URL) throws {
        let path = directory.appendingPathComponent("lock").path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw PipelineError(
                .invalidWorkDir, "\(path): cannot create the work dir's lock file (\(String(cString: strerror(errno))))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let error = errno
            var bytes = [UInt8](repeating: 0, count: 32)
            let count = pread(fd, &bytes, bytes.count, 0)
            close(fd)
            guard error == EWOULDBLOCK else {
                throw PipelineError(.failed, "\(path): cannot lock the work dir (\(String(cString: strerror(error))))")
            }
            let pid =
                count > 0 ? String(decoding: bytes[0..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : ""
            let holder = Int(pid).map { "process \($0)" } ?? "another process"
            throw PipelineError(
                .workDirInUse,
                "\(directory.path): the work dir is in use by another run of this job (\(holder)); wait for it to finish or stop it, then run again"
            )
        }
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, text, text.count, 0)
        descriptor = NIOLockedValueBox(fd)
    }

    /// Whether a run holds the lock of the work dir at `directory`, and the pid it wrote, found
    /// without taking the lock for longer than a probe and without creating or writing anything
    /// (no lock file: nobody ever ran there).
    static func holder(directory: URL) -> (held: Bool, pid: Int?) {
        let path = directory.appendingPathComponent("lock").path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return (false, nil) }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 32)
        let count = pread(fd, &bytes, bytes.count, 0)
        let text = count > 0 ? String(decoding: bytes[0..<count], as: UTF8.self) : ""
        let pid = Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
        // A shared lock is refused while a run holds the exclusive one; when granted it is
        // dropped at once.
        guard flock(fd, LOCK_SH | LOCK_NB) == 0 else { return (errno == EWOULDBLOCK, pid) }
        _ = flock(fd, LOCK_UN)
        return (false, pid)
    }

    /// Releases the lock (also done when the process ends).
    func release() {
        descriptor.withLockedValue { descriptor in
            guard descriptor >= 0 else { return }
            _ = flock(descriptor, LOCK_UN)
            close(descriptor)
            descriptor = -1
        }
    }

    deinit { release() }
}
