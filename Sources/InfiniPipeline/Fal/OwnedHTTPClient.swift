// The `HTTPClient` a FalClient made for itself, and its one owner.

import AsyncHTTPClient
import Foundation
import NIOConcurrencyHelpers

/// Owns an `HTTPClient` the library made, so that dropping the client that holds it is harmless.
///
/// AsyncHTTPClient traps (in debug builds) when an `HTTPClient` that was never shut down is
/// released. ``shutdown()`` shuts it down once; when the owner goes away without that call
/// (an app that forgets it, a test or a task that throws first), `deinit` starts the shutdown
/// instead, which keeps the `HTTPClient` alive until its connections are closed.
final class OwnedHTTPClient: Sendable {
    let http: HTTPClient
    /// Whether a shutdown was started (by ``shutdown()`` or `deinit`).
    private let shutDown = NIOLockedValueBox(false)

    init(configuration: HTTPClient.Configuration) {
        http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// Shuts the `HTTPClient` down, waiting for its connections to close.
    /// - Throws: AsyncHTTPClient's `alreadyShutdown` when it was shut down already.
    func shutdown() async throws {
        shutDown.withLockedValue { $0 = true }
        try await http.shutdown()
    }

    deinit {
        guard !shutDown.withLockedValue({ $0 }) else { return }
        http.shutdown(queue: .global()) { _ in }
    }
}
