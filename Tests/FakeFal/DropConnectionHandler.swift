// Breaking connections on purpose: no answer at all, or an answer cut off mid-body.

import HTTPTypes
import NIOCore
import NIOHTTPTypes

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Sits in Hummingbird's HTTP/1 pipeline and breaks connections when a response head asks it to:
///
/// - `x-fakefal-drop`: close the connection instead of writing anything. The client has sent
///   its whole request and gets no response, as when a connection is reset after the request
///   reached the server.
/// - `x-fakefal-cut: N`: write the head (with its full `Content-Length`) and the first N body
///   bytes, then close: cleanly, or with a TCP reset when `x-fakefal-reset` is also set. The
///   client sees a body that ends early, as from a flaky CDN.
///
/// The marker headers are removed before the head is written. Public so that other fake
/// servers (FakeWaveSpeed) break connections the same way.
public final class DropConnectionHandler: ChannelOutboundHandler, RemovableChannelHandler {
    public typealias OutboundIn = HTTPResponsePart
    public typealias OutboundOut = HTTPResponsePart

    /// The response header that asks for the connection to be closed without an answer.
    public static let dropHeader = FakeFalHandler.dropHeader
    /// The response header that asks for only this many body bytes, then a close.
    public static let cutHeader = FakeFalHandler.cutHeader
    /// With ``cutHeader``: close with a TCP reset.
    public static let resetHeader = FakeFalHandler.resetHeader

    /// A handler for one connection.
    public init() {}

    private var dropping = false
    /// Body bytes still to send before the cut, and whether to reset.
    private var cut: (remaining: Int, reset: Bool)?

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if dropping {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        switch unwrapOutboundIn(data) {
        case .head(var head):
            if head.headerFields[FakeFalHandler.dropHeader] != nil {
                dropping = true
                context.close(promise: nil)
                promise?.fail(ChannelError.ioOnClosedChannel)
                return
            }
            if let value = head.headerFields[FakeFalHandler.cutHeader], let bytes = Int(value) {
                cut = (max(0, bytes), head.headerFields[FakeFalHandler.resetHeader] != nil)
                head.headerFields[FakeFalHandler.cutHeader] = nil
                head.headerFields[FakeFalHandler.resetHeader] = nil
                context.write(wrapOutboundOut(.head(head)), promise: promise)
                if bytes <= 0 { breakConnection(context: context) }
                return
            }
        case .body(let buffer):
            if let (remaining, reset) = cut {
                if buffer.readableBytes < remaining {
                    cut = (remaining - buffer.readableBytes, reset)
                } else {
                    let part = buffer.getSlice(at: buffer.readerIndex, length: remaining) ?? ByteBuffer()
                    context.write(wrapOutboundOut(.body(part)), promise: nil)
                    promise?.fail(ChannelError.ioOnClosedChannel)
                    breakConnection(context: context)
                    return
                }
            }
        case .end:
            cut = nil  // the body was shorter than the cut: it went out whole
        }
        context.write(data, promise: promise)
    }

    /// Flushes what was written, then closes (with a reset when asked). Later writes fail.
    private func breakConnection(context: ChannelHandlerContext) {
        let reset = cut?.reset ?? false
        dropping = true
        cut = nil
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.flush()
        // A moment for the bytes to reach the client before the connection goes: a reset makes
        // the kernel discard data the client has not read yet.
        context.eventLoop.scheduleTask(in: .milliseconds(reset ? 30 : 5)) {
            let context = bound.value
            if reset, let provider = context.channel as? any SocketOptionProvider {
                provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in
                    bound.value.close(promise: nil)
                }
            } else {
                context.close(promise: nil)
            }
        }
    }
}
