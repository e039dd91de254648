import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Runs blocking work (decoding, encoding, stitching, hashing whole files) on the package's one
/// bounded pool of threads outside Swift's cooperative pool, so that long loops never starve
/// other tasks and never start more threads than ``BlockingWork/threadCount``.
///
/// The caller's task suspends (it does not block a cooperative thread) until the work is done.
/// When more work is submitted than there are threads, it waits in order for a free thread.
///
/// Cancelling the calling task is seen by the work: loops that call
/// ``BlockingWork/checkCancellation()`` (decoding, hashing, stitching) stop with a
/// `CancellationError` at their next step. Work that was queued when its task was cancelled still
/// runs, and stops at its first such check.
///
/// A body must not wait for other `runBlocking` work (there is none today): with every thread
/// of the pool waiting, the work it waits for would never start. Helper threads a body needs
/// for itself (the stitcher's decoding thread) are its own, not the pool's.
/// - Parameters:
///   - pool: where the work runs: the package's pool unless a test brings its own (so that what
///     it measures does not depend on the other work in the process).
///   - body: the blocking work.
package func runBlocking<T: Sendable>(
    on pool: NIOThreadPool = BlockingWork.pool, _ body: @escaping @Sendable () throws -> T
) async throws -> T {
    let flag = BlockingWork.Flag()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            pool.submit { state in
                guard case .active = state else {
                    // Only a pool that was shut down cancels work, and this one never is.
                    continuation.resume(throwing: CancellationError())
                    return
                }
                continuation.resume(with: Result { try BlockingWork.run(with: flag, body) })
            }
        }
    } onCancel: {
        flag.set()
    }
}

/// The pool behind ``runBlocking(_:)``, and cancellation for the work that runs on it.
enum BlockingWork {
    /// Threads in the pool: one per core, at least two (so that one long job, such as a stitch,
    /// does not hold up all other blocking work).
    static let threadCount = max(2, System.coreCount)

    /// Started on first use and never shut down: it lives as long as the process, like
    /// FFmpeg's own global state.
    static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: threadCount)
        pool.start()
        return pool
    }()

    private static let key = "InfiniPipeline.BlockingWork.cancelled"

    /// Set once, from any thread, when the task that submitted the work is cancelled.
    /// (A class, so that a thread's dictionary can hold it.)
    final class Flag: NSObject, Sendable {
        private let isSet = NIOLockedValueBox(false)
        func set() { isSet.withLockedValue { $0 = true } }
        var value: Bool { isSet.withLockedValue { $0 } }
    }

    /// The cancellation flag of the work running on this thread, if any.
    static var currentFlag: Flag? { Thread.current.threadDictionary[key] as? Flag }

    /// Runs `body` on this thread with `flag` as its cancellation flag (pool threads are reused:
    /// the flag is removed again afterwards). A helper thread of some blocking work passes the
    /// work's flag here, so that the helper sees the same cancellation.
    static func run<T>(with flag: Flag?, _ body: () throws -> T) rethrows -> T {
        let dictionary = Thread.current.threadDictionary
        let previous = dictionary[key]
        dictionary[key] = flag
        defer { dictionary[key] = previous }
        return try body()
    }

    /// Throws `CancellationError` when the task that started this thread's work was cancelled.
    /// Outside ``runBlocking(_:)`` it checks the current task, if any.
    static func checkCancellation() throws {
        if let flag = currentFlag {
            if flag.value { throw CancellationError() }
        } else {
            try Task.checkCancellation()
        }
    }
}
