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
//
// Threads of their own let every test run at once, and Swift Testing starts every test at once:
// some 400 test cases, most of them decoding or encoding, on two cores, in over a thousand
// threads. Everything then ran at a hundredth of its speed, the fake servers' answers too, and
// clients timed out (a 1-second render took longer than the client's 10-second read timeout).
// `.ownThreads` therefore also lets only ``TestTurns/width`` top-level suites run at a time: the
// cores stay as busy, and a test's requests are answered in the time they take on a busy machine.
// A suite waits for its turn before any of its tests starts, outside every test's time limit
// (Swift Testing counts a limit from inside the test case's own scope).

/// The suites whose tests start processes or render and stitch clips: one test at a time.
@Suite(.serialized, .ownThreads)
enum Serial {}

extension Trait where Self == OwnThreadsTrait {
    /// Runs each test on threads of its own, outside Swift's cooperative pool.
    static var ownThreads: Self { OwnThreadsTrait() }
}

/// Runs a test's body (synchronous parts included) with ``TestThreads/shared`` as its task
/// executor, so that blocking calls in tests never occupy the cooperative pool; and runs a
/// top-level suite only in a turn of ``TestTurns/shared``.
struct OwnThreadsTrait: SuiteTrait, TestTrait, TestScoping {
    var isRecursive: Bool { true }

    func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? { self }

    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        guard testCase != nil else { return try await TestTurns.shared.taking { try await function() } }
        try await withTaskExecutorPreference(TestThreads.shared) { try await function() }
    }
}

/// Lets at most ``width`` suites run at a time (see the top of this file); the others wait for a
/// turn, in the order they asked. What runs inside a suite (its tests, its nested suites) needs
/// no turn of its own.
final class TestTurns: @unchecked Sendable {
    /// The one gate the `.ownThreads` trait uses.
    static let shared = TestTurns(width: max(4, 2 * ProcessInfo.processInfo.activeProcessorCount))

    /// Whether this task runs in a turn already (inside a suite that has one).
    @TaskLocal static var holding = false

    /// Suites that may run at once.
    let width: Int
    private let lock = NSLock()
    // Guarded by `lock`.
    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(width: Int) {
        self.width = width
        free = width
    }

    /// Runs `body` in a turn, waiting for one first if all are taken (unless it holds one).
    func taking<T>(_ body: () async throws -> T) async rethrows -> T {
        if Self.holding { return try await body() }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = lock.withLock { () -> Bool in
                guard free > 0 else {
                    waiting.append(continuation)
                    return false
                }
                free -= 1
                return true
            }
            if now { continuation.resume() }
        }
        defer {
            // The turn passes to the suite that has waited longest, or is freed.
            let next = lock.withLock { () -> CheckedContinuation<Void, Never>? in
                guard !waiting.isEmpty else {
                    free += 1
                    return nil
                }
                return waiting.removeFirst()
            }
            next?.resume()
        }
        return try await Self.$holding.withValue(true) { try await body() }
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
