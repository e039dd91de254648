import FakeFal
import Foundation
import Logging
import Testing

@testable import InfiniPipeline
@testable import InfiniStitchCLI

extension Serial {
    /// What an app builds on: typed events with the run's progress, typed errors, one run per
    /// pipeline, and what it can inject (credentials, a logger, a fal client).
    @Suite("Library API", .timeLimit(.minutes(2)))
    struct PipelineAPITests {
        @Test func eventsCarryTheRunsProgress() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            // A backend that is billed (not the preview): money is committed per submit.
            let backend = ScriptedBackend(directory: dir.url.appendingPathComponent("b"))
            let pipeline = Pipeline(options: PipelineTests.options(dir), backend: backend)
            let (summary, events) = try await runCollectingEvents(pipeline)
            let segments = events.compactMap { event -> SegmentEvent? in
                if case .segment(let s) = event { return s }
                return nil
            }
            let last = try #require(segments.last)
            #expect(last.progress.framesDone == summary.frames && last.progress.framesTotal == summary.frames)
            #expect(last.progress.segmentsDone == summary.segments)
            #expect(abs(last.progress.committedCost - summary.cost) < 1e-9 && summary.cost > 0)
            // Frames done never go down; money is committed at each submit.
            #expect(zip(segments, segments.dropFirst()).allSatisfy { $0.progress.framesDone <= $1.progress.framesDone })
            for s in segments {
                if case .submitted = s.phase { #expect(s.progress.committedCost > 0) }
            }
            // Once a clip is made, the time left is estimated.
            let afterFirstDone = segments.drop { !$0.phase.isFinished }
            #expect(afterFirstDone.allSatisfy { $0.progress.estimatedRemainingSeconds != nil })
            #expect(segments.map(\.phase.name).contains("downloading"))
            // The stages in order, typed.
            let stages = events.compactMap { event -> PipelineStage? in
                if case .stage(let s) = event { return s }
                return nil
            }
            #expect(stages == [.cuttingAudio, .generating, .stitching])
        }

        @Test func segmentEventsKeepTheirNDJSONKeys() throws {
            let progress = RunProgress(
                segmentsDone: 1, segmentsTotal: 3, framesDone: 200, framesTotal: 600,
                committedCost: 1.64, elapsedSeconds: 2, estimatedRemainingSeconds: 4)
            let queued = PipelineEvent.segment(
                SegmentEvent(index: 2, phase: .queued(requestId: "r-2", position: 5), progress: progress))
            let object = try #require(try JSONSerialization.jsonObject(with: Data(queued.jsonLine().utf8)) as? [String: Any])
            #expect(object["event"] as? String == "segment")
            #expect(object["index"] as? Int == 2 && object["state"] as? String == "queued")
            #expect(object["queuePosition"] as? Int == 5 && object["requestId"] as? String == "r-2")
            #expect(object["framesDone"] as? Int == 200 && object["framesTotal"] as? Int == 600)
            #expect(object["committedCost"] as? Double == 1.64 && object["estimatedRemainingSeconds"] as? Double == 4)
            let failed = PipelineEvent.segment(SegmentEvent(index: 0, phase: .failed(reason: "boom"), progress: progress))
            #expect(failed.jsonLine().contains(#""detail":"boom""#) && failed.jsonLine().contains(#""state":"failed""#))
            let cached = PipelineEvent.segment(SegmentEvent(index: 0, phase: .done(.cache, requestId: nil), progress: progress))
            #expect(cached.jsonLine().contains(#""state":"cached""#))
            #expect(PipelineEvent.stage(.cuttingAudio).jsonLine() == #"{"event":"stage","message":"cutting segment audio"}"#)
        }

        @Test func aPipelineRunsOnce() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            var options = PipelineTests.options(dir)
            options.dryRun = true
            let pipeline = Pipeline(options: options)
            _ = try await pipeline.run()
            await #expect {
                try await pipeline.run()
            } throws: { error in
                guard let error = error as? PipelineError else { return false }
                return error.kind == .alreadyStarted
            }
        }

        @Test func anUnreadEventStreamStaysBounded() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            // Nobody reads the events while the run goes on; afterwards at most the limit is left,
            // the newest ones (the summary last).
            let pipeline = Pipeline(options: PipelineTests.options(dir), eventBufferLimit: 5)
            let summary = try await pipeline.run()
            var left: [PipelineEvent] = []
            for await event in pipeline.events { left.append(event) }
            #expect(left.count == 5)
            #expect(left.last == .summary(summary))
        }

        @Test func errorsAreTypedAndKeepTheirCause() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            func failure(_ change: (inout PipelineOptions) -> Void) async -> PipelineError? {
                var o = PipelineTests.options(dir)
                change(&o)
                do {
                    _ = try await Pipeline(options: o).run()
                    return nil
                } catch {
                    return error as? PipelineError
                }
            }
            let concurrency = await failure { $0.concurrency = 0 }
            #expect(concurrency?.kind == .invalidOption && concurrency?.option == "concurrency")
            #expect(concurrency?.description == "concurrency 0 must be between 1 and 64")
            let image = await failure { $0.image = Fixture.path("speech.mp3") }
            #expect(image?.kind == .invalidInput && image?.underlying != nil)
            #expect(image?.description.contains("speech.mp3") == true)
            let missing = await failure { $0.audio = dir.path("nothing.mp3") }
            #expect(missing?.kind == .invalidInput && missing?.file == dir.path("nothing.mp3"))
            let key = await failure { $0.backend = .fal }
            #expect(key?.kind == .missingCredentials && key?.description.contains("FAL_KEY") == true)
            // Kinds match in catch clauses too.
            do {
                var o = PipelineTests.options(dir)
                o.output = dir.path("no-such-dir/out.mp4")
                _ = try await Pipeline(options: o).run()
                Issue.record("the run should fail")
            } catch PipelineError.Kind.invalidOutput {
            } catch {
                Issue.record("unexpected \(error)")
            }
            // No library message names a command-line flag.
            for error in [concurrency, image, missing, key] { #expect(error?.description.contains("--") == false) }
        }

        @Test func credentialsAndLoggerAreInjected() async throws {
            let server = FakeFalServer(options: FakeFalServer.Options(expectedKey: "app-key-0123456789"))
            let url = try await server.start()
            let dir = try TempDir()
            defer { dir.cleanup() }
            var o = PipelineTests.options(dir)
            o.backend = .fal
            o.queueURL = url.absoluteString
            o.restURL = url.absoluteString
            o.credentials = try FalCredentials(key: "app-key-0123456789")  // not in the environment
            let lines = LogLines()
            let logger = Logger(label: "test") { _ in CapturingLogHandler(lines: lines) }
            let result: Result<PipelineSummary, any Error>
            do {
                result = .success(try await Pipeline(options: o, logger: logger).run())
            } catch {
                result = .failure(error)
            }
            await server.stop()
            let summary = try result.get()
            #expect(summary.segments == server.requests(to: .submit).count)
            #expect(!lines.all.isEmpty, "the fal client logs through the injected logger")
            #expect(!lines.all.joined().contains("app-key-0123456789"))
        }

        @Test func theCommandLineNamesFlags() throws {
            let error = PipelineError(.overBudget, "the estimated cost $3.00 is over maxCost $1.00", option: "maxCost")
            #expect(ErrorReport.line(for: error) == "the estimated cost $3.00 is over --max-cost $1.00")
            #expect(ErrorReport.exitCode(for: error) == 2)
            #expect(
                ErrorReport.withFlag("crossfadeFrames -3 must not be negative", option: "crossfadeFrames")
                    == "--crossfade -3 must not be negative")
            #expect(ErrorReport.exitCode(for: PipelineError(.interrupted, "x")) == 130)
            #expect(ErrorReport.exitCode(for: PipelineError(.generationFailed, "x")) == 1)
        }

        @Test func displayLinesFitTheTerminalAndSayWhereTheRunStands() throws {
            let long = String(repeating: "x", count: 300)
            #expect(ProgressReporter.fit(long, columns: 80).count == 79)
            #expect(ProgressReporter.fit("short", columns: 80) == "short")
            let progress = RunProgress(
                segmentsDone: 13, segmentsTotal: 29, framesDone: 4210, framesTotal: 17261,
                committedCost: 16.84, elapsedSeconds: 100, estimatedRemainingSeconds: 300)
            let event = SegmentEvent(index: 12, phase: .done(.generated, requestId: "r"), progress: progress)
            #expect(
                ProgressReporter.line(event, preview: false)
                    == "segment 12 done, 13/29 segments, 4210/17261 frames, $16.84 committed"
            )
            // A narrow terminal keeps the numbers and drops the bar first.
            let plan = try SegmentPlanner.plan(audioFile: Fixture.path("speech.mp3"))
            for columns in [40, 60, 80, 120, 200] {
                let lines = ProgressReporter.display(
                    plan: plan, progress: progress, progressAge: 0, elapsed: 100, stage: "generating",
                    phases: [12: .running(requestId: "r", log: nil)], preview: false, columns: columns
                )
                .map { ProgressReporter.fit($0, columns: columns) }
                #expect(lines.allSatisfy { $0.count < columns })
                if columns >= 60 { #expect(lines[0].contains("$16.84") && lines[0].contains("ETA 5:00"), "\(lines[0])") }
            }
        }
    }
}

/// Log lines kept for a test.
final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func add(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}

struct CapturingLogHandler: LogHandler {
    let lines: LogLines
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        lines.add("\(event.level) \(event.message) \(event.metadata ?? [:])")
    }
}
