import CFFmpeg
import Foundation

// The re-encode path: the clips decoded in order (padded, blended across seams) and encoded
// again with libx264.

extension Stitcher {
    /// Decodes, optionally blends, and encodes the clips' frames; returns the packets written.
    ///
    /// A second thread decodes (one decoder thread per clip, so that libx264 has the other
    /// cores) while this one encodes and muxes; a few decoded frames wait in between. The
    /// decoding thread is this stitch's own, not one of the blocking pool's (see `runBlocking`),
    /// and sees the same cancellation as this one.
    static func reencodeVideo(
        plan: Plan, inspections: [ClipInspection], encoder: VideoEncoder, muxer: Muxer,
        stream: Int, pump: AudioPump, crossfade: Int
    ) throws -> Int {
        var written = 0
        let tb = encoder.timeBase
        let sink: (Packet) throws -> Void = { packet in
            let dts = packet.pointer.pointee.dts
            try pump.pump(until: Double(dts) * Double(tb.num) / Double(tb.den))
            try muxer.write(packet, stream: stream, timeBase: tb)
            written += 1
        }
        let handoff = FrameHandoff(capacity: 8)
        let decoded = DispatchSemaphore(value: 0)
        let jobs = zip(plan.segments, inspections).map { (segment: $0.0.index, frames: $0.0.frameCount, clip: $0.1.path) }
        let cancellation = BlockingWork.currentFlag
        Thread.detachNewThread {
            defer { decoded.signal() }
            do {
                try BlockingWork.run(with: cancellation) { try decodeClips(jobs, crossfade: crossfade, into: handoff) }
                handoff.finish(error: nil)
            } catch {
                handoff.finish(error: error)
            }
        }
        defer {
            handoff.cancel()
            decoded.wait()
        }
        var index: Int64 = 0
        while let frame = try handoff.take() {
            if index % Int64(ModelLimits.fps) == 0 { try BlockingWork.checkCancellation() }
            try encoder.encode(avFrame: frame.pointer, index: index, sink)
            index += 1
        }
        try encoder.finish(sink)
        return written
    }

    /// The decoding side of the re-encode path: exactly `frames` frames per clip, in order, the
    /// first `crossfade` of each blended with the previous clip's last frame, a clip short by
    /// a frame or two (checked during inspection) padded by repeating its last frame.
    private static func decodeClips(
        _ jobs: [(segment: Int, frames: Int, clip: String)], crossfade: Int,
        into handoff: FrameHandoff
    ) throws {
        var previousLast: Frame? = nil
        for job in jobs {
            try BlockingWork.checkCancellation()
            let reader = try VideoReader(demuxer: Demuxer(path: job.clip), pixelFormat: .yuv420p, threads: 1)
            var taken = 0
            var last: Frame? = nil
            while taken < job.frames {
                let frame = try Frame()
                guard try reader.nextDecodedFrame(into: frame) else { break }
                if crossfade > 0, taken < crossfade, let previous = previousLast {
                    try blend(into: frame, from: previous, weight: Double(taken + 1) / Double(crossfade + 1))
                }
                // The encoding thread sets the timestamp of the frames it is given: this side
                // keeps its own reference to the pixels instead.
                last = try frame.newReference()
                guard handoff.put(frame) else { return }
                taken += 1
            }
            guard let lastFrame = last else {
                throw ClipError(segment: job.segment, clip: job.clip, reason: "no frame decodes")
            }
            while taken < job.frames {
                guard handoff.put(try lastFrame.newReference()) else { return }
                taken += 1
            }
            previousLast = lastFrame
        }
    }

    /// Mixes `frame` toward itself with `weight` and toward `other` with `1 - weight`, per
    /// plane (both must be the same size and 8-bit planar YUV 4:2:0; other frames are left as
    /// they are).
    private static func blend(into frame: Frame, from other: Frame, weight: Double) throws {
        let f = frame.pointer.pointee, o = other.pointer.pointee
        guard f.width == o.width, f.height == o.height, f.format == o.format,
            f.format == AV_PIX_FMT_YUV420P.rawValue || f.format == AV_PIX_FMT_YUVJ420P.rawValue
        else { return }
        let rc = av_frame_make_writable(frame.pointer)
        if rc < 0 { throw MediaError.ffmpeg(.encodeFailed, file: nil, "cannot blend frames", rc) }
        let w = Int32(weight * 256)
        frame.withPlanes { target in
            other.withPlanes { source in
                guard target.sizes == source.sizes else { return }
                for (plane, size) in target.sizes.enumerated() {
                    for y in 0..<size.rows {
                        let t = target.row(y, of: plane), s = source.row(y, of: plane)
                        for x in 0..<size.bytesPerRow {
                            t[x] = UInt8((Int32(t[x]) * w + Int32(s[x]) * (256 - w) + 128) >> 8)
                        }
                    }
                }
            }
        }
    }
}
