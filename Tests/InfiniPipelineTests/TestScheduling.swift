import FakeFal
import Foundation
import Testing

// Where and when tests run, so that a busy machine makes the suite slower but never fails it.
//
// Swift's cooperative pool has one thread per core: two on the machines we test on. A test that
// blocks its thread (decoding, encoding, waiting for a child process) takes that thread from every
// other test, and from the fake servers' handlers and the HTTP client's callbacks, whose requests
// then time out although nothing is wrong. Two rules keep that from happening:
//
// - Every suite has the `.ownThreads` trait: its tests run on threads of their own, outside the
//   cooperative pool, so blocking work never holds up async work.
// - Suites that start processes (`infinistitch`, the ffmpeg tool) or render, stitch or run whole
//   pipelines are nested in `Serial`, which runs one test at a time: they do not compete with each
//   other for the cores, and each one's time limit starts when it starts (a limit counts from the
//   test's start, so a test must never wait for a turn inside its limit).

/// The suites whose tests start processes or render and stitch clips: one test at a time.
@Suite(.serialized, .ownThreads)
enum Serial {}

extension Trait where Self == OwnThreadsTrait {
    /// Runs each test on threads of its own, outside Swift's cooperative pool.
    static var ownThreads: Self { OwnThreadsTrait() }
}

/// Runs a test's body (synchronous parts included) with ``TestThreads/shared`` as its task
/// executor, so that blocking calls in tests never occupy the cooperative pool.
struct OwnThreadsTrait: SuiteTrait, TestTrait, TestScoping {
    var isRecursive: Bool { true }

    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        guard testCase != nil else { return try await function() }
        try await withTaskExecutorPreference(TestThreads.shared) { try await function() }
    }
}

/// The rules above, checked on the test sources, so that a new suite cannot break them quietly.
@Suite("Test rules", .ownThreads)
struct TestRuleTests {
    static var testSources: [(name: String, lines: [String])] {
        get throws {
            let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            return try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
                .filter { $0.hasSuffix(".swift") }
                .map { name in
                    let text = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
                    return (name, text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init))
                }
        }
    }

    /// The minutes of a `.timeLimit(.minutes(N))` on a line, if any.
    static func minutes(_ line: String) -> Int? {
        guard let range = line.range(of: ".timeLimit(.minutes(") else { return nil }
        return Int(line[range.upperBound...].prefix { $0.isNumber })
    }

    @Test func everySuiteRunsOnItsOwnThreadsOrInSerial() throws {
        var suites = 0
        for (name, lines) in try Self.testSources {
            var inSerial = false
            for (number, line) in lines.enumerated() {
                if line.hasPrefix("extension Serial {") { inSerial = true }
                if line == "}" { inSerial = false }
                guard line.trimmingCharacters(in: .whitespaces).hasPrefix("@Suite") else { continue }
                suites += 1
                #expect(
                    line.contains(".ownThreads") || (inSerial && line.hasPrefix("    @Suite")),
                    "\(name):\(number + 1): a suite outside Serial without .ownThreads")
            }
        }
        #expect(suites > 40)
    }

    /// A test's time limit longer than its suite's never applies (the shorter one wins).
    @Test func noTestLimitIsLongerThanItsSuites() throws {
        var limits = 0
        for (name, lines) in try Self.testSources {
            var suiteLimit: Int?
            for (number, line) in lines.enumerated() {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.hasPrefix("@Suite") { suiteLimit = Self.minutes(line) }
                guard trimmed.hasPrefix("@Test"), let limit = Self.minutes(line) else { continue }
                limits += 1
                if let suiteLimit {
                    #expect(limit <= suiteLimit, "\(name):\(number + 1): \(limit) min inside a suite limited to \(suiteLimit)")
                }
            }
        }
        #expect(limits > 10)
    }
}
