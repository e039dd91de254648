// What happens at each seam of a stitch: which transition, over which frames.

extension StitchOptions {
    /// How a seam between two clips looks in the output.
    ///
    /// Every transition keeps the output's frame count, its timing and the original audio;
    /// only ``cut`` lets the clips be joined without re-encoding. A seam where a multi-speaker
    /// plan's ``Plan/Segment/speaker`` changes is always a hard cut (a shot change).
    @nonexhaustive
    public enum Transition: String, Sendable, Codable, CaseIterable {
        /// A hard cut: the next clip's first frame follows the previous clip's last.
        case cut
        /// The next clip's first frames fade in from the previous clip's last frame.
        case crossfade
        /// A morph cut: the frames of a window centred on the seam are replaced by pictures
        /// interpolated along the dense optical flow between the frame just before the window
        /// and the one just after it, so the head moves from one pose to the other.
        case morph
        /// A jump cut dressed as a camera change: alternate segments are shown punched in
        /// (1.12×, centred on the face when one is found, otherwise on the picture's centre).
        case zoom
    }
}

/// The transition of every seam of a plan, decided before any frame is decoded.
///
/// A transition's window is `frames` long, centred on the seam, and kept inside the pause the
/// seam sits in (``Plan/Segment/pauseFramesBefore`` and ``Plan/Segment/pauseFramesAfter``;
/// a plan that does not record them gets the full length). A window never takes more than
/// half of a segment, so the windows of neighbouring seams never meet.
struct SeamTransitions: Sendable, Equatable {
    /// What the seam at the start of a segment does.
    enum Seam: Sendable, Equatable {
        /// A hard cut.
        case cut
        /// The segment's first `frames` frames fade in from the previous segment's last frame.
        case crossfade(frames: Int)
        /// The previous segment's last `before` frames and this segment's first `after`
        /// frames are replaced by a morph between the frames on either side of them.
        case morph(before: Int, after: Int)
    }

    /// The punch-in of a zoomed segment.
    static let zoomScale = 1.12

    /// The seam at the start of each segment (`.cut` for segment 0).
    var seams: [Seam]
    /// Whether each segment is shown punched in (``zoomScale``).
    var zoomed: [Bool]

    init(plan: Plan, options: StitchOptions) {
        let (transition, frames) = options.effectiveTransition
        let segments = plan.segments
        seams = Array(repeating: .cut, count: segments.count)
        zoomed = Array(repeating: false, count: segments.count)
        for i in segments.indices.dropFirst() {
            let previous = segments[i - 1], current = segments[i]
            if previous.speaker != current.speaker {
                // A shot change: a hard cut, and the next shot starts unzoomed.
                continue
            }
            // A window takes at most half of either segment (less its anchor frame).
            let room = (before: max(0, (previous.frameCount - 1) / 2), after: max(0, (current.frameCount - 1) / 2))
            let pause = (
                before: min(max(0, current.pauseFramesBefore ?? frames), room.before),
                after: min(max(0, current.pauseFramesAfter ?? frames), room.after)
            )
            switch transition {
            case .cut:
                break
            case .zoom:
                zoomed[i] = !zoomed[i - 1]
            case .crossfade:
                let n = min(frames, pause.after)
                if n > 0 { seams[i] = .crossfade(frames: n) }
            case .morph:
                // Centred on the seam; the part that does not fit on one side of the pause goes
                // to the other, and the window shrinks when the pause is shorter.
                let n = min(frames, pause.before + pause.after)
                var before = min(n / 2, pause.before)
                let after = min(n - before, pause.after)
                before = min(n - after, pause.before)
                if before + after > 0 { seams[i] = .morph(before: before, after: after) }
            }
        }
    }

    /// Frames of segment `index` replaced by the morph at the seam after it.
    func heldBack(segment index: Int) -> Int {
        guard index + 1 < seams.count, case .morph(let before, _) = seams[index + 1] else { return 0 }
        return before
    }

    /// Whether every seam is a hard cut and no segment is zoomed: the clips may be copied.
    var allCuts: Bool { seams.allSatisfy { $0 == .cut } && !zoomed.contains(true) }

    /// The transition that keeps the clips of `plan` from being copied, or nil when every seam
    /// is a hard cut (the transition is ``StitchOptions/Transition/cut``, the plan has one
    /// segment, every seam changes speaker, or no seam has room for a transition).
    static func reencodingTransition(plan: Plan, options: StitchOptions) -> StitchOptions.Transition? {
        let transition = options.effectiveTransition.transition
        if transition == .cut { return nil }
        return SeamTransitions(plan: plan, options: options).allCuts ? nil : transition
    }
}

/// Where a zoomed segment is centred: the largest face on its first frame, found with the
/// Haar cascade (``FaceDetector``), or the picture's centre when there is no face or no cascade.
struct FaceCentre {
    /// Faces smaller than this fraction of the frame's shorter side are not centred on.
    static let minimumFaceFraction = 0.15
    private var detector: FaceDetector?? = .none

    /// The centre of the largest face on `frame`'s luma, in pixels, or the frame's centre.
    mutating func centre(of frame: Frame) -> (x: Double, y: Double) {
        let f = frame.pointer.pointee
        let middle = (x: Double(f.width) / 2, y: Double(f.height) / 2)
        if detector == nil {
            // A talking head's face is large: smaller finds are texture mistaken for a face.
            var made = try? FaceDetector()
            made?.minimumFaceFraction = Self.minimumFaceFraction
            detector = .some(made)
        }
        guard let found = detector, let detector = found else { return middle }
        let luma = YUV420.luma(of: frame)
        guard luma.width > 0,
            let face = try? detector.faces(gray: luma.pixels, width: luma.width, height: luma.height).first
        else { return middle }
        return face.center
    }
}
