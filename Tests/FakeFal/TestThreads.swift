// Threads outside Swift's cooperative pool, for the tests and for the fake servers they talk to.
//
// A fake server whose handlers ran on the cooperative pool (two threads on our machines) stops
// answering whenever two jobs there block, and the client under test then times out although
// nothing is wrong with it: the servers run on these threads instead, as every test does (see
// Tests/InfiniPipelineTests/TestScheduling.swift).

import Foundation

/// A task executor that runs each job on a thread of its own pool, starting a thread whenever
/// every thread it has is busy (so a job never waits behind a blocked one) and ending threads
/// that stay idle for 10 s.
public final class TestThreads: TaskExecutor, @unchecked Sendable {
    /// The one pool the tests and the fake servers share.
    public static let shared = TestThreads()

    // Every stored property below is guarded by `condition`.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var idle = 0
    private var started = 0

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        // Each queued job needs a waiting thread to take it; start one when there are too few.
        if jobs.count > idle {
            started += 1
            let thread = Thread { [self] in work() }
            thread.name = "test-thread-\(started)"
            thread.stackSize = 8 << 20
            thread.start()
        } else {
            condition.signal()
        }
        condition.unlock()
    }

    private func work() {
        condition.lock()
        while true {
            if !jobs.isEmpty {
                let job = jobs.removeFirst()
                condition.unlock()
                job.runSynchronously(on: asUnownedTaskExecutor())
                condition.lock()
                continue
            }
            idle += 1
            let signalled = condition.wait(until: Date().addingTimeInterval(10))
            idle -= 1
            if !signalled && jobs.isEmpty { break }
        }
        condition.unlock()
    }
}
