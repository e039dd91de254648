import FakeFal
import Foundation
import Testing

@testable import InfiniPipeline

#if canImport(Glibc)
import Glibc
#endif

/// Paths of the committed fixtures (Fixtures/ at the repository root).
enum Fixture {
    static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    static func path(_ name: String) -> String {
        directory.appendingPathComponent(name).path
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
    }
}

/// A fresh temporary directory, removed by the caller with `cleanup()`.
struct TempDir {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("infinipipeline-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    func cleanup() { try? FileManager.default.removeItem(at: url) }
}

/// Runs a program and returns its exit status and standard output / error. A program still
/// running after `timeout` is killed and the test fails (a hung child must not hang the suite).
@discardableResult
func runProcess(
    _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
    currentDirectory: String? = nil, timeout: Duration = .seconds(180),
    sourceLocation: SourceLocation = #_sourceLocation
) throws -> (status: Int32, stdout: Data, stderr: Data) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let watchdog = DispatchWorkItem {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        Issue.record(
            "\(URL(fileURLWithPath: executable).lastPathComponent) \(arguments.joined(separator: " ")) ran longer than \(timeout); killed",
            sourceLocation: sourceLocation)
    }
    let (seconds, attoseconds) = timeout.components
    DispatchQueue.global().asyncAfter(deadline: .now() + Double(seconds) + Double(attoseconds) / 1e18, execute: watchdog)
    defer { watchdog.cancel() }
    // Read both pipes concurrently so a chatty child cannot block on a full pipe.
    // On a thread of its own: a Dispatch thread blocked here for the child's lifetime is one of
    // the few (one per core) that the rest of the process shares.
    nonisolated(unsafe) var errData = Data()
    let errRead = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
        errData = err.fileHandleForReading.readDataToEndOfFile()
        errRead.signal()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    errRead.wait()
    process.waitUntilExit()
    return (process.terminationStatus, outData, errData)
}

/// Waits until `condition` holds, checking every few milliseconds; fails the test (and stops
/// waiting) after `timeout`.
func waitUntil(
    _ what: String, timeout: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("waited \(timeout) for \(what)", sourceLocation: sourceLocation)
            return
        }
        try await Task.sleep(for: .milliseconds(2))
    }
}

/// The ffmpeg command-line tool, when installed (CI installs it; comparisons with it run then).
let ffmpegTool: String? = ["/usr/bin/ffmpeg", "/usr/local/bin/ffmpeg", "/opt/homebrew/bin/ffmpeg"]
    .first { FileManager.default.isExecutableFile(atPath: $0) }

/// The built `infinistitch` binary next to the test bundle.
let infinistitchBinary: String = {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = dir.appendingPathComponent("infinistitch").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/debug/infinistitch").path
}()

/// Peak signal-to-noise ratio between two equally sized byte arrays, in dB.
func psnr(_ a: [UInt8], _ b: [UInt8]) -> Double {
    precondition(a.count == b.count)
    var sum = 0.0
    for i in 0..<a.count {
        let d = Double(a[i]) - Double(b[i])
        sum += d * d
    }
    if sum == 0 { return .infinity }
    let mse = sum / Double(a.count)
    return 10 * log10(255 * 255 / mse)
}

/// The top-level MP4 boxes of a file, in order (e.g. ["ftyp", "moov", "mdat"]).
func mp4TopLevelBoxes(_ path: String) throws -> [String] {
    let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    var boxes: [String] = []
    var offset = 0
    while offset + 8 <= data.count {
        var size = Int(data[offset]) << 24 | Int(data[offset + 1]) << 16 | Int(data[offset + 2]) << 8 | Int(data[offset + 3])
        let type = String(decoding: data[offset + 4..<offset + 8], as: UTF8.self)
        if size == 1, offset + 16 <= data.count {
            size = data[offset + 8..<offset + 16].reduce(0) { $0 << 8 | Int($1) }
        } else if size == 0 {
            size = data.count - offset
        }
        boxes.append(type)
        if size < 8 { break }
        offset += size
    }
    return boxes
}

/// Reads the frame-index barcode the fixture clips carry in their top 16 rows (8 cells).
func barcodeIndex(_ frame: VideoFrame) -> Int {
    precondition(frame.pixelFormat == .rgb24)
    let cell = frame.width / 8
    var index = 0
    for k in 0..<8 {
        let x = k * cell + cell / 2, y = 8
        let v = Int(frame.planes[0][(y * frame.width + x) * 3 + 1])
        if v > 128 { index |= 1 << k }
    }
    return index
}

/// The mean RGB of the area below the barcode (identifies which fixture clip a frame is from).
func lowerAreaColor(_ frame: VideoFrame) -> (Double, Double, Double) {
    var r = 0.0, g = 0.0, b = 0.0, n = 0.0
    for y in (frame.height / 2)..<frame.height {
        for x in 0..<frame.width {
            let i = (y * frame.width + x) * 3
            r += Double(frame.planes[0][i]); g += Double(frame.planes[0][i + 1]); b += Double(frame.planes[0][i + 2])
            n += 1
        }
    }
    return (r / n, g / n, b / n)
}

/// The tests' deterministic generator: FakeFal's SplitMix64, so every random case reproduces
/// from its seed.
typealias TestRandom = SplitMix64

extension SplitMix64 {
    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(UInt64(1) << 53) }

    mutating func uniform(_ range: ClosedRange<Double>) -> Double {
        range.lowerBound + (range.upperBound - range.lowerBound) * unit()
    }

    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.upperBound - range.lowerBound + 1))
    }

    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }
}

/// Runs a pipeline and returns its summary with every event it sent, in order.
func runCollectingEvents(_ pipeline: Pipeline) async throws -> (summary: PipelineSummary, events: [PipelineEvent]) {
    let collected = Task { () -> [PipelineEvent] in
        var all: [PipelineEvent] = []
        for await event in pipeline.events { all.append(event) }
        return all
    }
    let summary = try await pipeline.run()
    return (summary, await collected.value)
}
