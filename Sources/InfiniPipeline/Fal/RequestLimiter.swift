// An async semaphore: the run-wide limit on fal requests in flight.

/// Limits how many fal requests are in flight at once, for a whole run.
///
/// A request is *in flight* from just before its submit until the client stops following it:
/// its result has been fetched, it failed, it was cancelled, or the task following it was
/// cancelled. Uploads before the submit and the download after the result do not count: they
/// cost no model time. A resumed request counts from the moment the client starts following it
/// again. Share one limiter (or one ``FalClient``) between everything in a run.
///
/// Waiters are served first come, first served. A task cancelled while waiting stops waiting
/// and throws `CancellationError`.
public actor RequestLimiter {
    /// The most permits out at once.
    public let limit: Int
    /// Permits out now.
    public private(set) var inFlight = 0
    /// The highest `inFlight` seen (tests and benchmarks read it).
    public private(set) var peakInFlight = 0

    private var waiters: [(id: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
    private var nextID: UInt64 = 0

    /// Creates a limiter for `limit` requests (at least 1).
    public init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Tasks waiting for a permit.
    public var waiting: Int { waiters.count }

    /// Waits for a permit.
    /// - Throws: `CancellationError` when the task is cancelled before it gets one.
    public func acquire() async throws {
        try Task.checkCancellation()
        if inFlight < limit && waiters.isEmpty {
            take()
            return
        }
        nextID &+= 1
        let id = nextID
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                } else {
                    waiters.append((id, continuation))
                }
            }
        } onCancel: {
            Task { await self.cancelWaiter(id) }
        }
    }

    /// Returns a permit and hands it to the longest waiter, if any.
    public func release() {
        precondition(inFlight > 0, "RequestLimiter.release() without a matching acquire()")
        inFlight -= 1
        if !waiters.isEmpty {
            let waiter = waiters.removeFirst()
            take()
            waiter.continuation.resume()
        }
    }

    /// Runs `body` holding a permit, and returns it afterwards whatever happens.
    public func withPermit<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        try await acquire()
        do {
            let value = try await body()
            release()
            return value
        } catch {
            release()
            throw error
        }
    }

    private func take() {
        inFlight += 1
        peakInFlight = max(peakInFlight, inFlight)
    }

    private func cancelWaiter(_ id: UInt64) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        let waiter = waiters.remove(at: index)
        waiter.continuation.resume(throwing: CancellationError())
    }
}
