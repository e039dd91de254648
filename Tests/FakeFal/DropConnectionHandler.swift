// Closing a connection without an answer, for the "request sent, response lost" fault.

import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Sits in Hummingbird's HTTP/1 pipeline. When a response head carries `x-fakefal-drop`, it
/// closes the connection instead of writing anything: the client has sent its whole request and
/// gets no response, as when a connection is reset after the request reached the server.
final class DropConnectionHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var dropping = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let part = unwrapOutboundIn(data)
        if case .head(let head) = part, head.headerFields[FakeFalHandler.dropHeader] != nil {
            dropping = true
            context.close(promise: nil)
        }
        if dropping {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        context.write(data, promise: promise)
    }
}
