// fake-wavespeed-server: FakeWaveSpeedServer as a process, for benchmarks (bench/run) and manual runs.
//
// Usage: fake-wavespeed-server [--port N] [--latency SECONDS] [--seconds-per-video-second S]
//                              [--clip-size WxH] [--no-clip-audio]
// Prints the base URL (use it as --provider-url, with any WAVESPEED_API_KEY) on one line of
// standard output, then serves until SIGTERM or SIGINT, stops the server and exits 0. A task
// completes --latency seconds after its submit plus --seconds-per-video-second for every second
// of its audio (WaveSpeed takes 10–30 s of wall time per second of video); its clip is rendered
// when the first poll after that finds it done. --no-clip-audio leaves the AAC track out of the
// clips (the stitcher never reads it), which saves the fake's CPU on a small machine.

import Dispatch
import FakeWaveSpeed
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("fake-wavespeed-server: \(message)\n".utf8))
    exit(2)
}

let usage =
    "usage: fake-wavespeed-server [--port N] [--latency SECONDS] [--seconds-per-video-second S] [--clip-size WxH] [--no-clip-audio]"
var port = 0
var latency = 0.0
var perSecond = 0.0
var width = 64, height = 64
var clipAudio = true
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    func value() -> String {
        guard let v = arguments.popFirst() else { fail("\(argument) needs a value") }
        return v
    }
    switch argument {
    case "--port":
        guard let p = Int(value()), (0...65535).contains(p) else { fail("--port must be 0…65535") }
        port = p
    case "--latency":
        guard let l = Double(value()), l.isFinite, l >= 0 else { fail("--latency must be seconds ≥ 0") }
        latency = l
    case "--seconds-per-video-second":
        guard let s = Double(value()), s.isFinite, s >= 0 else { fail("--seconds-per-video-second must be ≥ 0") }
        perSecond = s
    case "--clip-size":
        let parts = value().split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2, parts.allSatisfy({ $0 >= 32 && $0 % 2 == 0 }) else {
            fail("--clip-size must be WxH, even, each at least 32 (the frame barcode needs 32 rows)")
        }
        (width, height) = (parts[0], parts[1])
    case "--no-clip-audio":
        clipAudio = false
    case "-h", "--help":
        print(usage)
        exit(0)
    default:
        fail("unknown argument \(argument)\n\(usage)")
    }
}

/// SIGINT and SIGTERM, delivered through dispatch sources (their default actions turned off).
/// Not on the main actor: the handlers run on a global queue.
nonisolated func stopSignals() -> (AsyncStream<Int32>, [DispatchSourceSignal]) {
    let (stream, continuation) = AsyncStream<Int32>.makeStream()
    var sources: [DispatchSourceSignal] = []
    for sig in [SIGINT, SIGTERM] {
        signal(sig, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
        source.setEventHandler { @Sendable in continuation.yield(sig) }
        source.resume()
        sources.append(source)
    }
    return (stream, sources)
}
let (stops, signalSources) = stopSignals()

let server = FakeWaveSpeedServer(
    options: FakeWaveSpeedServer.Options(
        clipWidth: width, clipHeight: height, createdPolls: 1,
        processingTime: .milliseconds(Int((latency * 1000).rounded())), secondsPerVideoSecond: perSecond,
        clipAudio: clipAudio))
let url: URL
do {
    url = try await server.start(port: port)
} catch {
    fail("cannot start: \(error)")
}
// One line, written straight to the descriptor: a reader waiting for it must not wait on a buffer.
FileHandle.standardOutput.write(Data((url.absoluteString + "\n").utf8))

for await _ in stops { break }
await server.stop()
for source in signalSources { source.cancel() }
let submits = server.requests(to: .submit).count
FileHandle.standardError.write(
    Data(
        "fake-wavespeed-server: stopped after \(server.tasks.count) tasks (\(submits) submits), \(server.billedSeconds.reduce(0, +)) s billed\n"
            .utf8))
exit(0)
