import Foundation
import Testing

@testable import InfiniPipeline

/// What the segment tasks of a run share: the progress every event carries.
@Suite("Run concurrency", .timeLimit(.minutes(1)), .ownThreads)
struct RunConcurrencyTests {
    /// Many threads reporting at once: the events arrive in the order the tracker recorded
    /// them, so each one's progress is the one after the event before it (here, one more
    /// submit's money committed every time).
    @Test func segmentEventsArriveInTheOrderTheyWereRecorded() async throws {
        let plan = try SegmentPlanner.plan(audioFile: Fixture.path("speech.mp3"))
        #expect(plan.pricePerSecond > 0)
        let (events, continuation) = AsyncStream.makeStream(of: SegmentEvent.self)
        let tracker = ProgressTracker(plan: plan, billed: true, started: Date()) { continuation.yield($0) }
        let threads = 8, reportsPerThread = 4000
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            for _ in 0..<reportsPerThread { tracker.report(0, .submitted(requestId: "request-\(thread)")) }
        }
        continuation.finish()
        var costs: [Double] = []
        for await event in events { costs.append(event.progress.committedCost) }
        let frames = plan.segments[0].numFrames
        let expected = (1...threads * reportsPerThread).map {
            Plan.cost(paidFrames: $0 * frames, pricePerSecond: plan.pricePerSecond)
        }
        #expect(costs.count == expected.count)
        let outOfOrder = zip(costs, expected).filter { $0 != $1 }.count
        #expect(outOfOrder == 0, "\(outOfOrder) of \(costs.count) events are not where the tracker's order puts them")
        #expect(costs.last == tracker.progress().committedCost)
    }
}
