import CFFmpeg
import Foundation

/// Decoded frames passed from one decoding thread to one encoding thread, at most `capacity`
/// waiting at a time, so that decoding the clips overlaps encoding the output.
///
/// A frame moves through it: ``put(_:)`` takes a `sending` frame, so the compiler checks that
/// the producer refers to it nowhere else and never touches it again (the producer keeps its own
/// reference to the pixels when it needs them, for padding or a seam), and ``take()`` gives the
/// consumer a frame that it alone holds.
///
/// `@unchecked Sendable`: a queue of non-Sendable frames that one thread waits on while another
/// fills it, which no locked-value type offers (those hold Sendable values and cannot wait);
/// every stored property is read and written only under `condition`.
final class FrameHandoff: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [Frame] = []
    private var finished = false
    private var failure: (any Error)?
    private var cancelled = false
    let capacity: Int

    init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    /// Producer: waits for room and adds a frame. Returns false once the consumer has
    /// cancelled; the producer should stop then.
    func put(_ frame: sending Frame) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while queue.count >= capacity && !cancelled { condition.wait() }
        if cancelled { return false }
        queue.append(frame)
        condition.broadcast()
        return true
    }

    /// Producer: no more frames; `error` is rethrown to the consumer after the frames before it.
    func finish(error: (any Error)?) {
        condition.lock()
        finished = true
        failure = error
        condition.broadcast()
        condition.unlock()
    }

    /// Consumer: the next frame in order; nil after the last.
    /// - Throws: the producer's error, once the frames put before it are taken.
    func take() throws -> sending Frame? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty && !finished { condition.wait() }
        if !queue.isEmpty {
            // A taken frame leaves the queue at once: it holds a whole picture.
            let frame = queue.removeFirst()
            condition.broadcast()
            return frame
        }
        if let failure { throw failure }
        return nil
    }

    /// Consumer: stop the producer (it sees false from `put`) and drop waiting frames.
    func cancel() {
        condition.lock()
        cancelled = true
        queue.removeAll()
        condition.broadcast()
        condition.unlock()
    }
}
