import Foundation
import Testing

@testable import InfiniPipeline

/// `runBlocking`: one bounded pool, cancellation seen by the work and only by its own work.
@Suite("Blocking work", .timeLimit(.minutes(3)))
struct BlockingWorkTests {
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

    @Test(.timeLimit(.minutes(1)))
    func neverRunsMoreThanThePoolsThreads() async throws {
        let gauge = Gauge()
        let jobs = 3 * BlockingWork.threadCount
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<jobs {
                group.addTask {
                    try await runBlocking {
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

    @Test(.timeLimit(.minutes(1)))
    func cancellationReachesRunningWork() async throws {
        let started = Gauge()
        let task = Task {
            try await runBlocking { () throws -> Bool in
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

    @Test(.timeLimit(.minutes(1)))
    func aCancelledWorksFlagDoesNotStayOnItsThread() async throws {
        // Threads are reused: after cancelled work, later work on the same threads is not cancelled.
        for _ in 0..<(2 * BlockingWork.threadCount) {
            let task = Task {
                withUnsafeCurrentTask { $0?.cancel() }
                try await runBlocking { try BlockingWork.checkCancellation() }
            }
            await #expect(throws: CancellationError.self) { try await task.value }
        }
        for _ in 0..<(4 * BlockingWork.threadCount) {
            let sawFlag = try await runBlocking { () throws -> Bool in
                try BlockingWork.checkCancellation()
                return BlockingWork.currentFlag != nil
            }
            #expect(sawFlag)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aHelperThreadSharesItsWorksCancellation() async throws {
        let started = Gauge()
        let task = Task {
            try await runBlocking { () throws -> Bool in
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

    /// One result handed from a helper thread. `@unchecked Sendable`: every access holds `lock`.
    final class ResultBox: @unchecked Sendable {
        private let lock = NSLock()
        private var result: Result<Void, any Error> = .success(())
        func set(_ value: Result<Void, any Error>) { lock.withLock { result = value } }
        func get() throws { try lock.withLock { result }.get() }
    }
}
