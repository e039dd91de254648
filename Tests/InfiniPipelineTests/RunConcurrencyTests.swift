import Foundation
import Testing

@testable import InfiniPipeline

/// What the segment tasks of a run share: the progress every event carries, and the portrait
/// staged once for all of them.
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

    /// How often a test's staging ran.
    actor Stagings {
        private(set) var count = 0
        func add() { count += 1 }
    }

    struct StagingFailed: Error {}

    /// Waits (at most 30 s) until `count` segments wait for the staging of `key`.
    static func waitForWaiters(_ box: ImageURLBox, key: String, count: Int) async throws {
        try await waitUntil("\(count) segments waiting") { box.waiting(for: key) == count }
    }

    @Test func concurrentSegmentsStageThePortraitOnce() async throws {
        let box = ImageURLBox(), stagings = Stagings()
        let urls = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    try await box.get("portrait") {
                        await stagings.add()
                        try await Task.sleep(for: .milliseconds(50))
                        return "https://storage/portrait.png"
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(urls == Array(repeating: "https://storage/portrait.png", count: 16))
        #expect(try await box.get("portrait") { "another" } == "https://storage/portrait.png")
        #expect(await stagings.count == 1)
    }

    /// A failed staging fails the segments that waited for it, as it fails the one that ran
    /// it; the next segment to ask stages the image again.
    @Test func aFailedStagingReachesItsWaitersAndIsTriedAgain() async throws {
        let box = ImageURLBox(), stagings = Stagings()
        let (gate, open) = AsyncStream.makeStream(of: Void.self)
        let stager = Task {
            try await box.get("portrait") {
                await stagings.add()
                for await _ in gate { break }
                throw StagingFailed()
            }
        }
        try await waitUntil("the staging starts") { await stagings.count == 1 }
        let waiter = Task { try await box.get("portrait") { "never" } }
        try await Self.waitForWaiters(box, key: "portrait", count: 1)
        open.yield()
        await #expect(throws: StagingFailed.self) { try await stager.value }
        await #expect(throws: StagingFailed.self) { try await waiter.value }
        let url = try await box.get("portrait") {
            await stagings.add()
            return "https://storage/portrait.png"
        }
        #expect(url == "https://storage/portrait.png")
        #expect(await stagings.count == 2)
    }

    /// A cancelled segment stops waiting at once; when the segment staging the image is
    /// cancelled, one still waiting stages it instead.
    @Test func cancellingStopsWaitingAndAnotherSegmentTakesTheStagingOver() async throws {
        let box = ImageURLBox(), stagings = Stagings()
        let stager = Task {
            try await box.get("portrait") {
                await stagings.add()
                try await Task.sleep(for: .seconds(60))
                return "never"
            }
        }
        try await waitUntil("the staging starts") { await stagings.count == 1 }
        let impatient = Task { try await box.get("portrait") { "never" } }
        let patient = Task {
            try await box.get("portrait") { "https://storage/portrait.png" }
        }
        try await Self.waitForWaiters(box, key: "portrait", count: 2)
        let start = ContinuousClock.now
        impatient.cancel()
        await #expect(throws: CancellationError.self) { try await impatient.value }
        #expect(ContinuousClock.now - start < .seconds(10))
        #expect(box.waiting(for: "portrait") == 1)
        stager.cancel()
        await #expect(throws: CancellationError.self) { try await stager.value }
        #expect(try await patient.value == "https://storage/portrait.png")
        #expect(ContinuousClock.now - start < .seconds(10))
    }
}
