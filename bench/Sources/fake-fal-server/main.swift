// fake-fal-server: FakeFalServer as a process, for benchmarks (bench/run) and manual runs.
//
// Usage: fake-fal-server [--port N] [--latency SECONDS] [--clip-size WxH] [--render-on-fetch] [--no-clip-audio]
// Prints the base URL (use it as --queue-url and --rest-url) on one line of standard output,
// then serves until SIGTERM or SIGINT, stops the server and exits 0. Clips are rendered while
// the simulated latency runs, as on the real service; --render-on-fetch keeps the library's
// default (render on the first result fetch), which adds the fake's encoding time to each clip.
// --no-clip-audio leaves the AAC track out of the clips (the stitcher never reads it), which
// saves most of the fake's CPU per clip: on a small machine it shares the cores with the client.

import Dispatch
import FakeFal
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("fake-fal-server: \(message)\n".utf8))
    exit(2)
}

var port = 0
var latency = 0.0
var width = 64, height = 64
var renderOnSubmit = true
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
    case "--clip-size":
        let parts = value().split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2, parts.allSatisfy({ $0 >= 32 && $0 % 2 == 0 }) else {
            fail("--clip-size must be WxH, even, each at least 32 (the frame barcode needs 32 rows)")
        }
        (width, height) = (parts[0], parts[1])
    case "--render-on-fetch":
        renderOnSubmit = false
    case "--no-clip-audio":
        clipAudio = false
    case "-h", "--help":
        print("usage: fake-fal-server [--port N] [--latency SECONDS] [--clip-size WxH] [--render-on-fetch] [--no-clip-audio]")
        exit(0)
    default:
        fail("unknown argument \(argument)")
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

let server = FakeFalServer(
    options: FakeFalServer.Options(
        clipWidth: width, clipHeight: height, processingTime: .milliseconds(Int((latency * 1000).rounded())),
        renderOnSubmit: renderOnSubmit, clipAudio: clipAudio))
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
FileHandle.standardError.write(
    Data(
        "fake-fal-server: stopped after \(server.requestIDs.count) generations (peak \(server.peakConcurrentRequests) at once)\n"
            .utf8))
exit(0)
