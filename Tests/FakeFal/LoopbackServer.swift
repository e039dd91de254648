// The HTTP server under each fake (fal, WaveSpeed): Hummingbird on 127.0.0.1, started and
// stopped once, able to drop connections on a fault's demand.

import Foundation
import Hummingbird
import Logging
import NIOConcurrencyHelpers

/// A Hummingbird server on 127.0.0.1 that a fake runs: one at a time, stopped with ``stop()``.
public final class LoopbackServer: Sendable {
    private let running = NIOLockedValueBox<Task<Void, Never>?>(nil)
    private let name: String

    /// A server named `name` in its errors ("the fake fal server").
    public init(name: String) { self.name = name }

    /// Starts answering with `respond` on 127.0.0.1:`port` (0 picks a free port).
    /// - Returns: the base URL, e.g. `http://127.0.0.1:41234`.
    /// - Throws: when the server cannot bind or is already running.
    public func start(
        port: Int = 0, respond: @escaping @Sendable (Request) async throws -> Response
    ) async throws -> URL {
        let (ports, continuation) = AsyncStream<Result<Int, any Error>>.makeStream()
        let responder = CallbackResponder<BasicRequestContext> { request, _ in try await respond(request) }
        var logger = Logger(label: name)
        logger.logLevel = .critical
        let app = Application(
            responder: responder,
            server: .http1(configuration: .init(additionalChannelHandlers: [DropConnectionHandler()])),
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: nil),
            onServerRunning: { channel in
                continuation.yield(.success(channel.localAddress?.port ?? 0))
                continuation.finish()
            },
            logger: logger)
        // On threads of its own: never held up by blocking work on the cooperative pool.
        let task = Task(executorPreference: TestThreads.shared) {
            do {
                try await app.run()
            } catch {
                continuation.yield(.failure(error))
            }
            continuation.finish()
        }
        let alreadyRunning = running.withLockedValue { current -> Bool in
            if current != nil { return true }
            current = task
            return false
        }
        if alreadyRunning {
            task.cancel()
            throw LoopbackServerError("\(name) is already running")
        }
        var iterator = ports.makeAsyncIterator()
        switch await iterator.next() {
        case .success(let port)? where port > 0:
            return URL(string: "http://127.0.0.1:\(port)")!
        case .failure(let error)?:
            running.withLockedValue { $0 = nil }
            throw error
        default:
            running.withLockedValue { $0 = nil }
            task.cancel()
            throw LoopbackServerError("\(name) did not start")
        }
    }

    /// Stops listening and closes all connections; waits until the server is down.
    public func stop() async {
        let task = running.withLockedValue { current -> Task<Void, Never>? in
            defer { current = nil }
            return current
        }
        task?.cancel()
        await task?.value
    }
}

/// Why a fake's server could not start.
public struct LoopbackServerError: Error, CustomStringConvertible {
    /// What went wrong.
    public let description: String
    init(_ description: String) { self.description = description }
}
