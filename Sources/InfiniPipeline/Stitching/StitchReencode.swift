import CFFmpeg
import Foundation

// The re-encode path: the clips decoded in order (padded, with the seams' transitions) and encoded
// again with libx264.

extension Stitcher {
    /// Decodes the clips' frames, applies the seams' transitions, and encodes them; returns the
    /// packets written.
    ///
    /// A second thread decodes (one decoder thread per clip, so that libx264 has the other
    /// cores) while this one encodes and muxes; a few decoded frames wait in between. The
    /// decoding thread is this stitch's own, not one of the blocking pool's (see `runBlocking`),
    /// and sees the same cancellation as this one. With `colorMatch`, the decoding thread
    /// measures each clip before decoding it for the output and adds its report.
    static func reencodeVideo(
        plan: Plan, inspections: [ClipInspection], encoder: VideoEncoder, muxer: Muxer,
        stream: Int, pump: AudioPump, seams: SeamTransitions,
        colorMatch: (match: StitchColorMatch, reports: ColorMatchReports)? = nil, captions: String? = nil
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
                try BlockingWork.run(with: cancellation) {
                    try decodeClips(jobs, seams: seams, colorMatch: colorMatch, into: handoff)
                }
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
        var burner: CaptionBurner? = nil
        while let frame = try handoff.take() {
            if index % Int64(ModelLimits.fps) == 0 { try BlockingWork.checkCancellation() }
            if let captions {
                // After every transition: a caption is drawn over a seam, never blended across it.
                burner = try CaptionBurner.reusing(burner, for: frame, scriptFile: captions)
                let burned = try burner!.burn(frame, index: index)
                try withExtendedLifetime(burned) { try encoder.encode(avFrame: burned.pointer, index: index, sink) }
            } else {
                try encoder.encode(avFrame: frame.pointer, index: index, sink)
            }
            index += 1
        }
        try encoder.finish(sink)
        return written
    }

    /// The decoding side of the re-encode path: exactly `frames` frames per clip, in order, a
    /// clip short by a frame or two (checked during inspection) padded by repeating its last
    /// frame, and each seam's transition (``SeamTransitions``) applied on the way:
    /// - a crossfade blends the clip's first frames with the previous clip's last frame;
    /// - a morph leaves out the previous clip's last `before` frames (they are never decoded)
    ///   and this clip's first `after`, and puts in their place the pictures interpolated
    ///   between the frames on either side, so only those two frames are ever held;
    /// - a zoomed clip is punched in around the face found on its first frame.
    ///
    /// With a colour match, each clip is first decoded once to measure it (only its statistics
    /// are kept; on a thread of its own, while the clip before it is decoded for the output) and
    /// every frame is colour-corrected as it is decoded, before any transition sees it: a
    /// crossfade or morph blends corrected pictures, and a padded frame repeats the corrected
    /// last one.
    ///
    /// `jobs` may start at plan position `offset` (a live stretch); with `primed`, the first
    /// job only sets up the seam after it: it is decoded as the whole stitch decodes it, and
    /// none of its frames is handed over.
    static func decodeClips(
        _ jobs: [(segment: Int, frames: Int, clip: String)], seams: SeamTransitions,
        colorMatch: (match: StitchColorMatch, reports: ColorMatchReports)?, into handoff: FrameHandoff,
        offset: Int = 0, primed: Bool = false
    ) throws {
        var previousLast: Frame? = nil
        var faces = FaceCentre()
        // Each clip's colour plan is made on a thread of its own while the clip before it is
        // decoded for the output (the first one before anything else).
        func ahead(_ local: Int) -> ColorPlanAhead? {
            guard let colorMatch, local < jobs.count else { return nil }
            let job = jobs[local]
            if let known = colorMatch.reports.plan(segment: job.segment) { return ColorPlanAhead(ready: known) }
            return ColorPlanAhead(
                match: colorMatch.match, clip: job.clip, segment: job.segment, position: local + offset,
                frames: job.frames)
        }
        var upcoming = ahead(0)
        defer { upcoming?.abandon() }
        for (local, job) in jobs.enumerated() {
            let position = local + offset, silent = primed && local == 0
            try BlockingWork.checkCancellation()
            var colorMaps: [LabMap?]? = nil
            if let colorMatch, let next = upcoming {
                let plan = try next.plan()
                upcoming = ahead(local + 1)
                // A primed clip's report is its own stretch's.
                colorMatch.reports.record(plan, counted: !silent)
                if plan.report.corrected { colorMaps = plan.maps }
            }
            // Frames of this clip in the output: the morph at the next seam replaces the rest.
            let kept = job.frames - seams.heldBack(segment: position)
            // A primed clip only leaves its last frames (and its first, for a zoom) to the seam
            // after it: the frames in between are not colour-corrected.
            let clip = try ClipFrames(
                segment: job.segment, path: job.clip, colorMaps: colorMaps, uncorrected: silent ? 1..<max(1, kept - 2) : 0..<0)
            let seam = seams.seams[position]
            var taken = 0
            let opening = try clip.next()
            // (The detector reads a reference of its own, so that `opening` stays unshared.)
            let zoomCentre = seams.zoomed[position] ? faces.centre(of: try opening.newReference()) : nil
            // Hands the clip's next frame over, crossfaded and zoomed as its seam asks.
            func handOver(_ decoded: sending Frame) throws -> Bool {
                var weight: Double? = nil
                if case .crossfade(let frames) = seam, taken < frames { weight = Double(taken + 1) / Double(frames + 1) }
                let faded = try crossfaded(decoded, toward: previousLast, weight: weight)
                let frame =
                    try zoomCentre.map { try YUV420.zoomed(faded, scale: SeamTransitions.zoomScale, center: $0) } ?? faded
                // The encoding thread sets the timestamp of the frames it is given: this side
                // keeps its own reference to the pixels instead.
                previousLast = try frame.newReference()
                taken += 1
                if silent { return true }
                return handoff.put(frame)
            }
            // The seam's morph, if any: it stands for the window's frames, `before` of the
            // previous clip's (never decoded) and `after` of this one's. It reads references of
            // its own, so that the frames it ends on stay unshared.
            let morph: (previous: Frame, before: Int, after: Int)?
            if case .morph(let before, let after) = seam, let previous = previousLast {
                morph = (previous, before, after)
            } else {
                morph = nil
            }
            if let morph, morph.after > 0 {
                // The frames inside the window are skipped; the first after it is the morph's end.
                let end = try clip.next(skipping: morph.after - 1)
                taken = morph.after
                guard
                    try morphFrames(
                        from: morph.previous, to: end.newReference(), count: morph.before + morph.after, emit: handoff.put)
                else { return }
                if taken < kept { guard try handOver(end) else { return } }
            } else if silent, case .morph(_, let after) = seam, after > 0 {
                // Consumed as the whole stitch consumes it (the morph itself is not needed).
                let end = try clip.next(skipping: after - 1)
                taken = after
                if taken < kept { guard try handOver(end) else { return } }
            } else {
                if let morph {
                    guard
                        try morphFrames(from: morph.previous, to: opening.newReference(), count: morph.before, emit: handoff.put)
                    else { return }
                }
                if taken < kept { guard try handOver(opening) else { return } }
            }
            while taken < kept {
                guard try handOver(try clip.next()) else { return }
            }
        }
    }

    /// Passes to `emit`, one at a time, the `count` pictures between `a` and `b` at
    /// t = k / (count + 1), by optical flow. If the frames cannot be morphed (not 8-bit YUV
    /// 4:2:0), the window becomes a hard cut at its middle: `a` repeated, then `b`. Returns
    /// false as soon as `emit` does.
    static func morphFrames(from a: Frame, to b: Frame, count: Int, emit: (sending Frame) -> Bool) throws -> Bool {
        guard count > 0 else { return true }
        guard YUV420.isYUV420(a), YUV420.isYUV420(b) else {
            for k in 0..<count where !emit(try (k < count / 2 ? a : b).newReference()) { return false }
            return true
        }
        let morph = try SeamMorph(from: a, to: b)
        for k in 1...count {
            guard emit(try morph.picture(at: Double(k) / Double(count + 1), like: b)) else { return false }
        }
        return true
    }

    /// `frame`, mixed toward `other` when `weight` is set (see ``blend(into:from:weight:)``).
    private static func crossfaded(_ frame: sending Frame, toward other: Frame?, weight: Double?) throws -> sending Frame {
        if let other, let weight { try blend(into: frame, from: other, weight: weight) }
        // The blend read `other` and wrote into `frame`, and keeps no reference to either.
        return Frame.unshared(frame)
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

/// One clip's frames in order, on the decoding thread, as 8-bit YUV 4:2:0 (converted from
/// another format, so that transitions and the colour match work on every clip): its last frame
/// is repeated once it runs out (a clip short by a frame or two is padded).
private final class ClipFrames {
    private let segment: Int
    private let path: String
    private let reader: VideoReader
    private var lastDecoded: Frame? = nil
    private var exhausted = false
    /// The colour correction of each decoded frame (nil: none), when the clip drifts.
    private let colorMaps: [LabMap?]?
    /// Decoded frames handed over without their correction (nobody sees them).
    private let uncorrected: Range<Int>
    private var decoded = 0

    init(segment: Int, path: String, colorMaps: [LabMap?]? = nil, uncorrected: Range<Int> = 0..<0) throws {
        self.segment = segment
        self.path = path
        self.colorMaps = colorMaps
        self.uncorrected = uncorrected
        reader = try VideoReader(demuxer: Demuxer(path: path), pixelFormat: .yuv420p, threads: 1)
    }

    /// Colour-corrects decoded frame `index` in place (writing into a copy of shared pixels).
    private static func correct(_ frame: Frame, index: Int, maps: [LabMap?]?) throws {
        if let maps, index < maps.count, let map = maps[index] { try LabColor.apply(map, to: frame) }
    }

    /// The clip's next frame (colour-corrected), its last one repeated once it runs out.
    func next() throws -> sending Frame {
        if !exhausted {
            if let frame = try reader.nextDecodedYUV420Frame() {
                if !uncorrected.contains(decoded) { try Self.correct(frame, index: decoded, maps: colorMaps) }
                decoded += 1
                lastDecoded = try frame.newReference()
                return frame
            }
            exhausted = true
        }
        guard let lastDecoded else {
            throw ClipError(segment: segment, clip: path, reason: "no frame decodes")
        }
        let repeated = try lastDecoded.newReference()
        // The last frame was left uncorrected: its repeats are corrected (on a copy).
        if uncorrected.contains(decoded - 1) { try Self.correct(repeated, index: decoded - 1, maps: colorMaps) }
        return repeated
    }

    /// The frame after the next `count`, which are decoded and dropped.
    func next(skipping count: Int) throws -> sending Frame {
        for _ in 0..<count { _ = try next() }
        return try next()
    }
}
