// The portrait staged once per run and shared by every segment that shows it.

import Foundation
import NIOConcurrencyHelpers

/// Stages each portrait once per run, for every segment that shows it.
///
/// The first segment to ask stages the image in its own task, a child of the run's, so
/// cancelling the run cancels the upload; segments asking meanwhile wait for it, and stop
/// waiting as soon as they are cancelled. A failed staging is given to the segments that waited
/// for it and forgotten, so the next segment to ask stages the image again; a staging that was
/// cancelled while a waiting segment was not is taken over by that segment.
final class ImageURLBox: Sendable {
    private enum Entry {
        case staged(String)
        /// Being staged; the waiting segments, by ticket.
        case staging(waiters: [Int: CheckedContinuation<Turn, any Error>])
    }

    /// What a segment asking for an image does next.
    private enum Turn {
        case use(String)
        case stage
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var nextTicket = 0
    }

    private let state = NIOLockedValueBox(State())

    /// The staged URL of image `key`: staged by `stage` if no other segment has staged it or is
    /// staging it now.
    /// - Throws: `stage`'s error, also to the segments that waited for it; `CancellationError`
    ///   when the calling task is cancelled.
    func get(_ key: String, stage: @Sendable () async throws -> String) async throws -> String {
        while true {
            let turn: Turn
            do {
                turn = try await next(key)
            } catch is CancellationError where !Task.isCancelled {
                continue  // the segment staging it was cancelled, this one was not: stage it here
            }
            switch turn {
            case .use(let url):
                return url
            case .stage:
                let result: Result<String, any Error>
                do { result = .success(try await stage()) } catch { result = .failure(error) }
                let waiters = state.withLockedValue { state -> [CheckedContinuation<Turn, any Error>] in
                    guard case .staging(let waiters) = state.entries[key] else { return [] }
                    state.entries[key] = (try? result.get()).map(Entry.staged)
                    return Array(waiters.values)
                }
                for waiter in waiters { waiter.resume(with: result.map(Turn.use)) }
                return try result.get()
            }
        }
    }

    /// The segments waiting for the staging of image `key` (tests).
    func waiting(for key: String) -> Int {
        state.withLockedValue { state in
            guard case .staging(let waiters) = state.entries[key] else { return 0 }
            return waiters.count
        }
    }

    /// The staged URL, or the turn to stage the image, or (while another segment stages it) the
    /// outcome of that staging.
    private func next(_ key: String) async throws -> Turn {
        let ticket = state.withLockedValue { state in
            defer { state.nextTicket += 1 }
            return state.nextTicket
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Turn, any Error>) in
                // Checked under the lock that the cancellation handler takes: either this sees the
                // cancellation, or the handler sees the waiter.
                state.withLockedValue { state in
                    if Task.isCancelled { return continuation.resume(throwing: CancellationError()) }
                    switch state.entries[key] {
                    case .staged(let url)?:
                        continuation.resume(returning: .use(url))
                    case .staging(var waiters)?:
                        waiters[ticket] = continuation
                        state.entries[key] = .staging(waiters: waiters)
                    case nil:
                        state.entries[key] = .staging(waiters: [:])
                        continuation.resume(returning: .stage)
                    }
                }
            }
        } onCancel: {
            let waiter = state.withLockedValue { state -> CheckedContinuation<Turn, any Error>? in
                guard case .staging(var waiters) = state.entries[key], let waiter = waiters.removeValue(forKey: ticket) else {
                    return nil
                }
                state.entries[key] = .staging(waiters: waiters)
                return waiter
            }
            waiter?.resume(throwing: CancellationError())
        }
    }
}
