import Foundation
import NIOPosix
import Testing

@testable import InfiniPipeline

/// `runBlocking`: one bounded pool, cancellation seen by the work and only by its own work.
/// Each test runs its work on a pool of its own, the size of the package's, so that what it sees
/// does not depend on the other tests' blocking work.
@Suite("Blocking work", .timeLimit(.minutes(1)), .ownThreads)
struct BlockingWorkTests {
    /// A started pool of the package pool's size, shut down after `body`.
    static func withPool(_ body: (NIOThreadPool) async throws -> Void) async throws {
        let pool = NIOThreadPool(numberOfThreads: BlockingWork.threadCount)
        pool.start()
        do {
            try await body(pool)
        } catch {
            try? await pool.shutdownGracefully()
            throw error
        }
        try await pool.shutdownGracefully()
    }

    /// Counts how many bodies run at once. `@unchecked Sendable`: every access holds `lock`.
    final class Gauge: @unchecked Sendable {
        private let lock = NSLock()
        private var running = 0
        private(set) var peak = 0
        func enter() {
            lock.withLock {
                running += 1; peak = max(peak, running)
            }
        }
        func leave() { lock.withLock { running -= 1 } }
        var highest: Int { lock.withLock { peak } }
    }

    @Test
    func neverRunsMoreThanThePoolsThreads() async throws {
        try await Self.withPool { pool in
            let gauge = Gauge()
            let jobs = 3 * BlockingWork.threadCount
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<jobs {
                    group.addTask {
                        try await runBlocking(on: pool) {
                            gauge.enter()
                            defer { gauge.leave() }
                            Thread.sleep(forTimeInterval: 0.05)
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(gauge.highest >= 1)
            #expect(gauge.highest <= BlockingWork.threadCount)
        }
    }

    @Test
    func cancellationReachesRunningWork() async throws {
        try await Self.withPool { pool in
            let started = Gauge()
            let task = Task {
                try await runBlocking(on: pool) { () throws -> Bool in
                    started.enter()
                    // Spins until the task's cancellation arrives (or 20 s pass: then it says so).
                    let deadline = Date().addingTimeInterval(20)
                    while Date() < deadline {
                        try BlockingWork.checkCancellation()
                        Thread.sleep(forTimeInterval: 0.005)
                    }
                    return false
                }
            }
            try await waitUntil("the blocking work to start") { started.highest > 0 }
            task.cancel()
            await #expect(throws: CancellationError.self) { _ = try await task.value }
        }
    }

    @Test
    func aCancelledWorksFlagDoesNotStayOnItsThread() async throws {
        try await Self.withPool { pool in
            // Threads are reused: after cancelled work, later work on the same threads is not cancelled.
            for _ in 0..<(2 * BlockingWork.threadCount) {
                let task = Task {
                    withUnsafeCurrentTask { $0?.cancel() }
                    try await runBlocking(on: pool) { try BlockingWork.checkCancellation() }
                }
                await #expect(throws: CancellationError.self) { try await task.value }
            }
            for _ in 0..<(4 * BlockingWork.threadCount) {
                let sawFlag = try await runBlocking(on: pool) { () throws -> Bool in
                    try BlockingWork.checkCancellation()
                    return BlockingWork.currentFlag != nil
                }
                #expect(sawFlag)
            }
        }
    }

    @Test
    func aHelperThreadSharesItsWorksCancellation() async throws {
        try await Self.withPool { pool in
            let started = Gauge()
            let task = Task {
                try await runBlocking(on: pool) { () throws -> Bool in
                    let flag = BlockingWork.currentFlag
                    let done = DispatchSemaphore(value: 0)
                    let result = ResultBox()
                    Thread.detachNewThread {
                        defer { done.signal() }
                        result.set(
                            Result {
                                try BlockingWork.run(with: flag) {
                                    started.enter()
                                    let deadline = Date().addingTimeInterval(20)
                                    while Date() < deadline {
                                        try BlockingWork.checkCancellation()
                                        Thread.sleep(forTimeInterval: 0.005)
                                    }
                                }
                            })
                    }
                    done.wait()
                    try result.get()
                    return false
                }
            }
            try await waitUntil("the blocking work to start") { started.highest > 0 }
            task.cancel()
            await #expect(throws: CancellationError.self) { _ = try await task.value }
        }
    }

    /// One result handed from a helper thread. `@unchecked Sendable`: every access holds `lock`.
    final class ResultBox: @unchecked Sendable {
        private let lock = NSLock()
        private var result: Result<Void, any Error> = .success(())
        func set(_ value: Result<Void, any Error>) { lock.withLock { result = value } }
        func get() throws { try lock.withLock { result }.get() }
    }
}
