import Foundation
import Testing

@testable import InfiniPipeline
@testable import InfiniStitchCLI

#if canImport(Glibc)
import Glibc
#endif

extension Serial {
    /// `infinistitch status` on a job while a pipeline runs it (its lock held by the run itself),
    /// and once that run has stopped: segments done, in flight and left, the money committed,
    /// and the command that resumes it, in text and in `--json`.
    @Suite("Status of a running job", .timeLimit(.minutes(3)))
    struct StatusTests {
        struct Line: Decodable {
            let event: String
            let status: JobStatus
            let resume: String
        }

        static func status(_ work: String) throws -> (text: String, json: Line) {
            let text = try runProcess(infinistitchBinary, ["status", work])
            #expect(text.status == 0, "\(String(decoding: text.stderr, as: UTF8.self))")
            let json = try runProcess(infinistitchBinary, ["status", work, "--json"])
            #expect(json.status == 0, "\(String(decoding: json.stderr, as: UTF8.self))")
            return (String(decoding: text.stdout, as: UTF8.self), try JSONDecoder().decode(Line.self, from: json.stdout))
        }

        @Test func aRunningJobAndThenTheStoppedOne() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            var o = PipelineTests.options(dir)
            o.useCache = false
            o.maxFrames = 61
            o.concurrency = 2
            o.maxCost = 50
            let (plan, costs) = try await BudgetTests.prices(o)
            #expect(plan.segments.count == 4)
            // Every request waits in the queue until the run is stopped.
            let backend = ScriptedBackend(directory: dir.url.appendingPathComponent("b"))
            backend.stall = true
            let run = Task { try await Pipeline(options: o, backend: backend).run() }
            try await waitUntil("two requests wait") { backend.waits.count == 2 }
            let work = dir.path("work")

            let running = try Self.status(work)
            let status = running.json.status
            #expect(running.json.event == "status" && status.running && status.pid == Int(getpid()))
            #expect(status.segmentsInFlight == 2 && status.segmentsDone == 0 && status.segmentsLeft == 2)
            #expect(abs(status.committedCost - costs[0] - costs[1]) < 1e-6, "\(status.committedCost)")
            #expect(abs(status.remainingCost - costs.reduce(0, +)) < 1e-6)
            #expect(running.json.resume.hasPrefix("infinistitch ") && running.json.resume.contains("--max-cost 50.00"))
            #expect(running.text.contains("running (process \(getpid()))"), "\(running.text)")
            #expect(running.text.contains("0 done, 2 in flight, 0 unknown, 0 failed, 2 left, of 4"), "\(running.text)")
            #expect(running.text.contains(String(format: "$%.2f committed", status.committedCost)), "\(running.text)")
            #expect(running.text.contains("after it   " + running.json.resume), "\(running.text)")

            // Stopped: the queued requests were cancelled (not billed), nothing is in flight.
            run.cancel()
            await #expect(throws: (any Error).self) { try await run.value }
            let stopped = try Self.status(work)
            #expect(!stopped.json.status.running && stopped.json.status.segmentsInFlight == 0)
            #expect(stopped.json.status.segmentsLeft == 4 && stopped.json.status.committedCost == 0)
            #expect(
                stopped.text.contains("stopped") && stopped.text.contains("resume     " + stopped.json.resume), "\(stopped.text)")
            #expect(stopped.json.resume == running.json.resume)
        }
    }
}
