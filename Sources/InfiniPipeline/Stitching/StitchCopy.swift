import CFFmpeg
import Foundation

// The copy path: the clips' H.264 packets joined as they are, shifted in time, each clip cut to
// its segment's frames. Lossless and fast; taken only when the clips allow it.

extension Stitcher {
    /// Thrown inside the copy path when packet timestamps cannot be joined monotonically.
    struct CopyPathUnsafe: Error {}

    /// Copies the clips' video packets; returns how many were written.
    /// - Throws: ``CopyPathUnsafe`` when the joined timestamps would not increase.
    static func copyVideo(plan: Plan, inspections: [ClipInspection], muxer: Muxer, stream: Int, pump: AudioPump) throws -> Int {
        var lastDTS = Int64.min
        var written = 0
        let tb = inspections[0].timeBase.av
        let frameDuration = av_rescale_q(1, AVRational(num: 1, den: Int32(ModelLimits.fps)), tb)
        let packet = try Packet()
        for (segment, info) in zip(plan.segments, inspections) {
            try BlockingWork.checkCancellation()
            let sorted = info.sortedPTS
            // Keep the first frameCount frames in presentation order.
            let limit = segment.frameCount < sorted.count ? sorted[segment.frameCount] : Int64.max
            let offset = av_rescale_q(Int64(segment.startFrame), AVRational(num: 1, den: Int32(ModelLimits.fps)), tb)
            let shift = offset - sorted[0]
            let demuxer = try Demuxer(path: info.path)
            let index = try demuxer.bestStream(.video).index
            while try demuxer.read(into: packet) {
                let p = packet.pointer
                guard Int(p.pointee.stream_index) == index, p.pointee.pts != FFmpeg.noPTS, p.pointee.pts < limit else { continue }
                p.pointee.pts += shift
                p.pointee.dts = p.pointee.dts == FFmpeg.noPTS ? p.pointee.pts : p.pointee.dts + shift
                p.pointee.duration = frameDuration
                if p.pointee.dts <= lastDTS || p.pointee.pts < p.pointee.dts { throw CopyPathUnsafe() }
                lastDTS = p.pointee.dts
                try pump.pump(until: Double(p.pointee.dts) * Double(tb.num) / Double(tb.den))
                try muxer.write(packet, stream: stream, timeBase: tb)
                written += 1
            }
        }
        return written
    }

    /// Whether dropping a clip's packets from presentation index `keep` on leaves the first
    /// `keep` frames decoding exactly as in the full clip (no kept frame references a dropped
    /// one). The clip's timestamps are the inspection's.
    static func tailCutKeepsFramesIdentical(_ clip: ClipInspection, keep: Int) throws -> Bool {
        guard keep < clip.sortedPTS.count else { return true }
        let limit = clip.sortedPTS[keep]
        /// The hashes of the first `keep` frames that decode; nil for a frame that cannot be hashed.
        func hashes(cut: Bool) throws -> [Int?] {
            let demuxer = try Demuxer(path: clip.path)
            let index = try demuxer.bestStream(.video).index
            let decoder = try StreamDecoder(demuxer: demuxer, streamIndex: index, threads: 1)
            let packet = try Packet(), frame = try Frame()
            var result: [Int?] = []
            func drain() throws {
                while try decoder.receive(into: frame) {
                    if result.count < keep { result.append(frameHash(frame)) }
                }
            }
            while try demuxer.read(into: packet) {
                guard Int(packet.pointer.pointee.stream_index) == index else { continue }
                if cut && packet.pointer.pointee.pts >= limit { continue }
                while !(try decoder.send(packet)) { try drain() }
                try drain()
            }
            _ = try decoder.send(nil)
            try drain()
            return result
        }
        let full = try hashes(cut: false)
        // A frame that cannot be hashed cannot be shown to be kept intact.
        guard full.count == keep, full.allSatisfy({ $0 != nil }) else { return false }
        return try full == hashes(cut: true)
    }

    /// A hash of a decoded frame's visible pixels; nil when its pixel format is not one FFmpeg
    /// describes.
    private static func frameHash(_ frame: Frame) -> Int? {
        frame.withPlanes { planes in
            guard !planes.sizes.isEmpty else { return nil }
            var hasher = Hasher()
            for (plane, size) in planes.sizes.enumerated() {
                for y in 0..<size.rows { hasher.combine(bytes: UnsafeRawBufferPointer(planes.row(y, of: plane))) }
            }
            return hasher.finalize()
        }
    }
}
