import Foundation
import Testing

@testable import InfiniPipeline

extension Serial {
    /// The spending cap holds during the run: failures and regenerations never take the money
    /// committed (by this run and earlier ones) over it, and a resumed run with a higher cap
    /// finishes without paying twice.
    @Suite("Spending cap and status", .timeLimit(.minutes(3)))
    struct BudgetTests {
        /// The plan of `o` (a dry run) and what one submit of each segment costs.
        static func prices(_ o: PipelineOptions) async throws -> (plan: Plan, costs: [Double]) {
            var dry = o
            dry.dryRun = true
            let pipeline = Pipeline(options: dry)
            let (_, events) = try await runCollectingEvents(pipeline)
            let plan = try #require(
                events.compactMap { event -> Plan? in
                    if case .plan(let p) = event { return p }
                    return nil
                }.first)
            let costs = plan.segments.map {
                Plan.cost(paidFrames: Budget.billedFrames(plan, $0.index), pricePerSecond: plan.pricePerSecond)
            }
            return (plan, costs)
        }

        /// What a backend's submits cost.
        static func billed(_ backend: ScriptedBackend, _ costs: [Double]) -> Double {
            backend.submits.reduce(0) { $0 + Double($1.value) * costs[$1.key] }
        }

        @Test func failuresStopAtTheCapAndAHigherCapResumesWithoutPayingTwice() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            var o = PipelineTests.options(dir)
            o.useCache = false
            let (_, costs) = try await Self.prices(o)
            #expect(costs.count >= 2)
            // Room for the plan and half a retry: the retries of segment 0 would cross it.
            let cap = costs.reduce(0, +) + costs[0] / 2
            o.maxCost = cap
            let first = ScriptedBackend(directory: dir.url.appendingPathComponent("b1"))
            first.failGenerations = [0: 2]
            var stop: PipelineError?
            do {
                _ = try await Pipeline(options: o, backend: first).run()
                Issue.record("the cap should stop the run")
            } catch let error as PipelineError {
                stop = error
            }
            let error = try #require(stop)
            #expect(error.kind == .budgetExceeded, "\(error)")
            #expect(error.fault == .budget && !error.isInputProblem)
            #expect(error.option == "maxCost" && error.description.contains("committed"))
            #expect(Self.billed(first, costs) <= cap + 1e-9, "billed \(Self.billed(first, costs)) over the cap \(cap)")
            let saved = try PipelineTests.savedManifest(dir)
            // The manifest counts every submit the backend saw; finished clips are kept.
            for record in saved.segments { #expect(record.submits == first.submits[record.index] ?? 0) }
            #expect(!FileManager.default.fileExists(atPath: dir.path("out.mp4")))
            let required = try #require(error.requiredMaxCost)
            let committed = Self.billed(first, costs)
            let left = saved.segments.filter { $0.state != .done }.reduce(0) { $0 + costs[$1.index] }
            #expect(abs(required - ((committed + left) * 100).rounded(.up) / 100) < 1e-9)

            // The status says the same, from the work dir alone.
            let status = try JobStatus.read(workDir: URL(fileURLWithPath: dir.path("work")))
            #expect(!status.running)
            #expect(abs(status.committedCost - committed) < 1e-6)
            #expect(status.segmentsDone == saved.segments.filter { $0.state == .done }.count)
            #expect(status.settings?.maxCost == cap)

            // With the cap it asked for, the job finishes; no finished segment is sent again.
            o.maxCost = required
            let second = ScriptedBackend(directory: dir.url.appendingPathComponent("b2"))
            let summary = try await Pipeline(options: o, backend: second).run()
            for record in saved.segments where record.state == .done { #expect(second.submits[record.index] == nil) }
            #expect(second.totalSubmits == saved.segments.filter { $0.state != .done }.count)
            #expect(Self.billed(first, costs) + Self.billed(second, costs) <= required + 1e-9)
            #expect(try VideoReader(path: dir.path("out.mp4")).countFrames() == summary.frames)
        }

        @Test func moneyCommittedByEarlierRunsCounts() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            var o = PipelineTests.options(dir)
            o.useCache = false
            o.concurrency = 1
            let (plan, costs) = try await Self.prices(o)
            let broken = ScriptedBackend(directory: dir.url.appendingPathComponent("b1"))
            broken.failGenerations = [1: 3]
            await #expect(throws: PipelineError.self) { try await Pipeline(options: o, backend: broken).run() }
            let spent = Self.billed(broken, costs)
            #expect(spent > plan.estimatedCost)
            // The estimate fits under this cap, but what the job has already committed does not
            // leave room for segment 1 again: nothing is sent.
            o.maxCost = spent
            let second = ScriptedBackend(directory: dir.url.appendingPathComponent("b2"))
            await #expect {
                try await Pipeline(options: o, backend: second).run()
            } throws: { error in
                (error as? PipelineError)?.kind == .budgetExceeded
            }
            #expect(second.totalSubmits == 0)
            // A submit recorded as unknown counts too (it may have been billed).
            let store = URL(fileURLWithPath: dir.path("work/manifest.json"))
            var manifest = try #require(try ManifestStore.load(from: store))
            manifest.segments[1].state = .submitting
            let committed = Budget.committedFrames(plan: plan, segments: manifest.segments)
            #expect(committed == (broken.submits[0] ?? 0) * Budget.billedFrames(plan, 0) + 4 * Budget.billedFrames(plan, 1))
        }

        /// `status` reads a work dir without changing a byte or a date in it, also while a run
        /// holds its lock.
        @Test func statusChangesNothing() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            var o = PipelineTests.options(dir)
            o.useCache = false
            o.maxCost = 100
            let backend = ScriptedBackend(directory: dir.url.appendingPathComponent("b1"))
            backend.breakWaits = [1]
            await #expect(throws: PipelineError.self) { try await Pipeline(options: o, backend: backend).run() }
            let work = dir.url.appendingPathComponent("work")
            func snapshot() throws -> [String: String] {
                var files: [String: String] = [:]
                let walker = FileManager.default.enumerator(at: work, includingPropertiesForKeys: nil)
                while let url = walker?.nextObject() as? URL {
                    var info = stat()
                    #expect(lstat(url.path, &info) == 0)
                    files[url.path] = "\(info.st_size) \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
                }
                return files
            }
            let before = try snapshot()
            let stopped = try runProcess(infinistitchBinary, ["status", work.path])
            #expect(stopped.status == 0, "\(String(decoding: stopped.stderr, as: UTF8.self))")
            let text = String(decoding: stopped.stdout, as: UTF8.self)
            #expect(text.contains("stopped") && text.contains("1 in flight") && text.contains("resume"), "\(text)")
            #expect(text.contains("--max-cost 100.00") && text.contains(Fixture.path("speech.mp3")), "\(text)")
            #expect(try snapshot() == before)

            // A run holds the lock (taken here, as a run does).
            let lock = try WorkDirLock(directory: work)
            defer { lock.release() }
            let held = try snapshot()
            let running = try runProcess(infinistitchBinary, ["status", work.path, "--json"])
            #expect(running.status == 0, "\(String(decoding: running.stderr, as: UTF8.self))")
            struct Line: Decodable { let status: JobStatus }
            let status = try JSONDecoder().decode(Line.self, from: running.stdout).status
            #expect(status.running, "\(String(decoding: running.stdout, as: UTF8.self))")
            #expect(status.segmentsInFlight == 1 && status.segmentsDone == 1)
            #expect(try snapshot() == held)
            // The run's own arguments name the same job.
            let byArguments = try runProcess(
                infinistitchBinary,
                [
                    "status", Fixture.path("speech.mp3"), "--image", Fixture.path("portrait.jpg"), "--work-dir", work.path,
                    "--json",
                ])
            #expect(byArguments.status == 0, "\(String(decoding: byArguments.stderr, as: UTF8.self))")
            #expect(try JSONDecoder().decode(Line.self, from: byArguments.stdout).status == status)
            #expect(try snapshot() == held)

            // The run's own arguments find the same work dir.
            let found = try await JobStatus.workDir(for: o)
            #expect(found.path == work.path)
            var derived = o
            derived.workDir = nil
            let location = try await JobStatus.workDir(for: derived)
            #expect(location.path.hasPrefix(dir.path("cache")))
        }
    }
}
