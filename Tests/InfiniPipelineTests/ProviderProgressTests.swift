// The provider's own state of each request, in events, NDJSON and the command line's display.

import Foundation
import Testing

@testable import InfiniPipeline
@testable import InfiniStitchCLI

@Suite("Provider progress", .ownThreads)
struct ProviderProgressTests {
    static let progress = RunProgress(
        segmentsDone: 1, segmentsTotal: 4, framesDone: 100, framesTotal: 400, committedCost: 1.2, elapsedSeconds: 130,
        estimatedRemainingSeconds: nil)

    @Test func linesNameTheProvidersStateAndHowLongTheRequestHasRun() throws {
        let running = SegmentEvent(
            index: 3, phase: .running(requestId: "t1", log: nil), progress: Self.progress,
            providerState: ProviderState(name: "processing", elapsedSeconds: 125.4))
        #expect(
            ProgressReporter.line(running, preview: false)
                == "segment 3 running (processing for 2:05), 1/4 segments, 100/400 frames, $1.20 committed")
        let waiting = SegmentEvent(
            index: 0, speaker: "A", phase: .queued(requestId: "t0", position: nil), progress: Self.progress,
            providerState: ProviderState(name: "created", elapsedSeconds: 4))
        #expect(
            ProgressReporter.line(waiting, preview: false)
                == "segment 0 (A) queued (created for 0:04), 1/4 segments, 100/400 frames, $1.20 committed")
        // fal's events say nothing more than before.
        let fal = SegmentEvent(index: 2, phase: .queued(requestId: "f", position: 3), progress: Self.progress)
        #expect(
            ProgressReporter.line(fal, preview: false)
                == "segment 2 queued (queue position 3), 1/4 segments, 100/400 frames, $1.20 committed")

        // The NDJSON event carries the state and the seconds (to a tenth).
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(PipelineEvent.segment(running).jsonLine().utf8)) as? [String: Any])
        #expect(json["state"] as? String == "running" && json["providerState"] as? String == "processing")
        #expect(json["requestElapsedSeconds"] as? Double == 125.4 && json["queuePosition"] == nil)
        let falJSON = try #require(
            try JSONSerialization.jsonObject(with: Data(PipelineEvent.segment(fal).jsonLine().utf8)) as? [String: Any])
        #expect(
            falJSON["providerState"] == nil && falJSON["requestElapsedSeconds"] == nil && falJSON["queuePosition"] as? Int == 3)
    }

    @Test func theLiveDisplayShowsEachRequestsStateAndTime() throws {
        let plan = try SegmentPlanner.plan(audioFile: Fixture.path("speech.mp3"))
        let lines = ProgressReporter.display(
            plan: plan, progress: Self.progress, progressAge: 0, elapsed: 130, stage: "generating",
            phases: [
                1: .queued(requestId: "a", position: nil), 2: .running(requestId: "b", log: nil),
                3: .running(requestId: "c", log: nil),
            ],
            providerStates: [
                1: ProviderState(name: "created", elapsedSeconds: 3), 2: ProviderState(name: "processing", elapsedSeconds: 3725),
            ],
            preview: false, columns: 200)
        #expect(lines.count == 2, "\(lines)")
        #expect(lines[1].contains("seg   1 created 0:03"), "\(lines[1])")
        #expect(lines[1].contains("seg   2 processing 1:02:05"), "\(lines[1])")
        #expect(lines[1].contains("seg   3 running"), "\(lines[1])")
    }
}
