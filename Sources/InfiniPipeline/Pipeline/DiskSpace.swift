import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Room on disk for a run's clips and output, checked before the first request is paid for.
enum DiskSpace {
    /// Bits per second assumed for the model's clips and the stitched video: generous for
    /// InfiniTalk's H.264 (a talking head on a still background), so that a run refused here
    /// would really have run out.
    static func videoBitRate(_ resolution: InfiniTalk.Resolution) -> Double {
        resolution == .p720 ? 4_000_000 : 2_000_000
    }

    /// Bytes free for this user on the file system that holds `path`; nil when unknown.
    static func available(at path: String) -> Int64? {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }

    /// The file system that holds `path`.
    static func device(_ path: String) -> UInt64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return UInt64(info.st_dev)
    }

    /// Throws a ``PipelineError/Kind/insufficientDiskSpace`` error when the clips still to be made (in `workDir`) and
    /// the output (in `outputDirectory`) would not fit.
    static func check(plan: Plan, framesToMake: Int, workDir: String, outputDirectory: String, resolution: InfiniTalk.Resolution)
        throws
    {
        let rate = videoBitRate(resolution) / 8
        let clipBytes = Int64(Double(framesToMake) / Double(ModelLimits.fps) * rate)
        let outputBytes = Int64(Double(plan.totalFrames) / Double(ModelLimits.fps) * rate)
        var needs: [(path: String, bytes: Int64)] = [(workDir, clipBytes), (outputDirectory, outputBytes)]
        if let a = device(workDir), a == device(outputDirectory) {
            needs = [(outputDirectory, clipBytes + outputBytes)]
        }
        for need in needs {
            guard let free = available(at: need.path), free < need.bytes else { continue }
            throw PipelineError(
                .insufficientDiskSpace,
                String(
                    format: "%@: about %.0f MB of disk space is needed for this run's clips and output, but only %.0f MB is free",
                    need.path, Double(need.bytes) / 1e6, Double(free) / 1e6), file: need.path)
        }
    }
}
