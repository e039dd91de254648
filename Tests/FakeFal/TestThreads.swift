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

    /// Runs blocking `body` on a thread of the pool (one of its own when every thread is busy)
    /// and returns its result, suspending the caller meanwhile. For the fake servers' renders:
    /// Dispatch's global queues have one thread per core, which other work in the process
    /// (`concurrentPerform` in the resampler, child-process pipes) can hold for seconds.
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await Task(executorPreference: shared) { try body() }.value
    }

    /// Starts blocking `body` on a thread of the pool and returns at once.
    public static func start(_ body: @escaping @Sendable () -> Void) {
        Task(executorPreference: shared) { body() }
    }

    // Every stored property below is guarded by `condition`.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    /// Threads inside `condition.wait`, including those signalled that have not woken yet.
    private var waiting = 0
    /// Signals sent that no thread has woken to yet: each is a thread on its way to the queue.
    private var wakeups = 0
    private var started = 0

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        // Each job gets a thread on its way: a waiting one nobody has woken yet, or a new one.
        // A waiting thread counts once it is woken, not once it has taken the lock again: under
        // load that takes long, and counting it as idle until then started a thread for every
        // job queued meanwhile (over a thousand threads, all contending for this lock).
        if waiting > wakeups {
            wakeups += 1
            condition.signal()
        } else {
            started += 1
            let thread = Thread { [self] in work() }
            thread.name = "test-thread-\(started)"
            thread.stackSize = 8 << 20
            thread.start()
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
            waiting += 1
            let signalled = condition.wait(until: Date().addingTimeInterval(10))
            waiting -= 1
            if wakeups > 0 { wakeups -= 1 }
            // Signalled or not, a thread that wakes looks at the queue before it ends.
            if !signalled && jobs.isEmpty { break }
        }
        condition.unlock()
    }
}
