import Foundation
import InfiniPipeline
import Logging
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Shows a run's progress: a live display on a terminal (redrawn at least once a second, each
/// line cut to the terminal's width so that nothing wraps), one line per change otherwise, each
/// saying where the run stands, or NDJSON events on standard output with `--json`. Log lines
/// (`--verbose`, `--log-level`) are printed above the live display.
final class ProgressReporter: Sendable {
    private let preview: Bool
    private let live: Bool
    /// What is shown, behind a lock: events, log lines and the live display's clock change it
    /// from different tasks.
    private let screen: NIOLockedValueBox<Screen>

    init(json: Bool, dryRun: Bool, preview: Bool) {
        self.preview = preview
        let live = !json && isatty(STDERR_FILENO) == 1 && ProcessInfo.processInfo.environment["TERM"] != "dumb"
        self.live = live
        screen = NIOLockedValueBox(Screen(json: json, dryRun: dryRun, live: live, preview: preview))
    }

    /// Reads events until the pipeline finishes, redrawing the live display every second.
    func consume(_ events: AsyncStream<PipelineEvent>) async {
        let ticker =
            live
            ? Task { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    self?.screen.withLockedValue { $0.draw() }
                }
            } : nil
        for await event in events { screen.withLockedValue { $0.handle(event) } }
        ticker?.cancel()
        screen.withLockedValue { $0.finish() }
    }

    /// Prints a log line (from the library's logger) above the live display.
    func log(_ line: String) {
        screen.withLockedValue { $0.say(line) }
    }

    /// One segment change, saying where the run stands:
    /// "segment 12 done, 13/29 segments, 4210/17261 frames, $16.84 committed"
    /// ("segment 12 (alice) done, …" with several speakers; "segment 3 running (processing for
    /// 2:05), …" with the provider's state and the time the request has run, on WaveSpeed).
    static func line(_ event: SegmentEvent, preview: Bool) -> String {
        var line = "segment \(event.index) \(event.phase.name)"
        if let speaker = event.speaker { line = "segment \(event.index) (\(speaker)) \(event.phase.name)" }
        if case .queued(_, let position?) = event.phase { line += " (queue position \(position))" }
        if let state = event.providerState { line += " (\(describe(state)))" }
        if case .submitted(let id) = event.phase { line += " as \(id)" }
        if let detail = event.phase.detail { line += ": \(detail)" }
        let p = event.progress
        line += ", \(p.segmentsDone)/\(p.segmentsTotal) segments, \(p.framesDone)/\(p.framesTotal) frames, "
        line += preview ? "preview, free" : String(format: "$%.2f committed", p.committedCost)
        return line
    }

    /// The provider's state of a request: "processing for 2:05", "created".
    static func describe(_ state: ProviderState) -> String {
        state.name + (state.elapsedSeconds.map { " for \(clock($0))" } ?? "")
    }

    /// "download interrupted (connection reset), resuming at 4.1 MB in 2 s (attempt 3)".
    static func describe(_ retry: DownloadRetry) -> String {
        let seconds = Double(retry.delay.components.seconds) + Double(retry.delay.components.attoseconds) / 1e18
        let wait = String(format: seconds < 9.95 ? "%.1f s" : "%.0f s", seconds)
        let next = retry.bytesReceived > 0 ? "resuming at \(bytes(retry.bytesReceived))" : "retrying"
        return "download interrupted (\(retry.reason)), \(next) in \(wait) (attempt \(retry.attempt))"
    }

    /// 512 bytes, 41 KB, 4.1 MB, 1.2 GB (powers of 1000).
    static func bytes(_ count: Int64) -> String {
        let n = Double(count)
        if count < 1000 { return "\(count) bytes" }
        if count < 1_000_000 { return String(format: "%.0f KB", n / 1e3) }
        if count < 1_000_000_000 { return String(format: "%.1f MB", n / 1e6) }
        return String(format: "%.2f GB", n / 1e9)
    }

    /// The live display's lines, before they are cut to the terminal's width.
    static func display(
        plan: Plan, progress: RunProgress?, progressAge: Double, elapsed: Double, stage: String,
        phases: [Int: SegmentPhase], providerStates: [Int: ProviderState] = [:], preview: Bool, columns: Int = 200
    ) -> [String] {
        let p =
            progress
            ?? RunProgress(
                segmentsDone: 0, segmentsTotal: plan.segments.count, framesDone: 0,
                framesTotal: plan.totalFrames, committedCost: 0, elapsedSeconds: 0,
                estimatedRemainingSeconds: nil)
        let fraction = Double(p.framesDone) / Double(max(1, p.framesTotal))
        let width = 30, filled = min(width, Int(fraction * Double(width)))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        // The estimate counts down between events.
        let eta = p.estimatedRemainingSeconds.map { clock(max(0, $0 - progressAge)) } ?? "--:--"
        let money = preview ? "preview, free" : String(format: "$%.2f committed", p.committedCost)
        // The widest form that fits: the bar and the stage go first on a narrow terminal, so the
        // numbers that matter (progress, time, money) stay.
        let counts = "\(p.segmentsDone)/\(p.segmentsTotal) segments  \(p.framesDone)/\(p.framesTotal) frames"
        let times = "elapsed \(clock(elapsed))  ETA \(eta)"
        let forms = [
            "[\(bar)] \(counts)  \(stage)  \(times)  \(money)", "\(counts)  \(stage)  \(times)  \(money)",
            "\(counts)  \(times)  \(money)",
            "\(p.segmentsDone)/\(p.segmentsTotal) seg \(p.framesDone)/\(p.framesTotal) fr \(clock(elapsed)) ETA \(eta) \(money)",
        ]
        var lines = [forms.first { $0.count < columns } ?? forms.last!]
        let active = phases.filter { !$0.value.isFinished && $0.value != .pending }.map(\.key).sorted()
        let shown = active.prefix(24)
        for chunk in stride(from: 0, to: shown.count, by: 4) {
            lines.append(
                shown.dropFirst(chunk).prefix(4).map { i in
                    var s = phases[i]?.name ?? ""
                    if case .queued(_, let position?) = phases[i] { s += " #\(position)" }
                    // The provider's word for it, and how long it has run (WaveSpeed: no queue position).
                    if let state = providerStates[i] {
                        s = state.name + (state.elapsedSeconds.map { " \(clock($0))" } ?? "")
                    }
                    return String(format: "  seg %3d %-16@", i, s as NSString)
                }.joined())
        }
        if active.count > shown.count { lines.append("  … and \(active.count - shown.count) more") }
        return lines
    }

    /// `line` cut to `columns - 1` characters (a line as wide as the terminal wraps on some
    /// terminals, and a wrapped line leaves a stale copy behind when the display is redrawn).
    static func fit(_ line: String, columns: Int) -> String {
        let limit = max(10, columns - 1)
        return line.count <= limit ? line : String(line.prefix(limit - 1)) + "…"
    }

    /// The terminal's width (standard error's), or `COLUMNS`, or 80.
    static func terminalColumns() -> Int {
        var size = winsize()
        if ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if let columns = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init), columns > 0 { return columns }
        return 80
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600
            ? String(format: "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }

    /// The final summary, for people.
    func printSummary(_ s: PipelineSummary) {
        if s.dryRun {
            writeStdout(
                String(
                    format: "dry run: nothing sent. %@%d segments, %d frames; would pay %.2f s of video, about $%.2f\n",
                    s.sample == nil ? "" : "the sample: ", s.segments, s.frames, s.plannedSeconds, s.estimatedCost))
            writeStdout(Self.speakerLines(s.speakers, paid: false))
            return
        }
        var text = "\(s.output ?? "")\n"
        text += String(
            format: "  duration %.2f s, %d frames, %d segments (%d reused)\n", s.duration, s.frames, s.segments, s.reusedSegments)
        if preview {
            text += String(
                format: "  preview: nothing paid; on fal this would pay %.2f s of video, about $%.2f\n", s.plannedSeconds,
                s.estimatedCost)
        } else {
            text += String(format: "  paid %.2f s of video, $%.2f\n", s.paidSeconds, s.cost)
        }
        text += "  video \(s.videoPath ?? "?"), wall time \(Self.clock(s.wallTime))\n"
        if let sample = s.sample {
            text += "  a \(sample.summary); the full run (the same command without --sample) reuses its clips\n"
        }
        if let trimmed = s.trimmedClips {
            text +=
                "  \(trimmed.count) clip\(trimmed.count == 1 ? "" : "s") longer than requested, trimmed at the end: segments \(trimmed.map(String.init).joined(separator: ", "))\n"
        }
        if let padded = s.paddedClips {
            text +=
                "  \(padded.count) clip\(padded.count == 1 ? "" : "s") a little short, last frame held: segments \(padded.map(String.init).joined(separator: ", "))\n"
        }
        text += Self.speakerLines(s.speakers, paid: !preview)
        if let files = s.captionFiles, !files.isEmpty { text += "  captions: \(files.joined(separator: ", "))\n" }
        for report in s.colorMatch ?? [] { text += "  \(StitchCommand.describe(report))\n" }
        writeStdout(text)
    }

    /// One line per speaker of a multi-speaker run: time on screen, and what it cost (or would).
    static func speakerLines(_ speakers: [SpeakerTotals]?, paid: Bool) -> String {
        guard let speakers else { return "" }
        let width = speakers.map(\.name.count).max() ?? 0
        return speakers.map { s in
            let name = s.name.padding(toLength: width, withPad: " ", startingAt: 0)
            let money = paid ? String(format: "paid $%.2f", s.cost) : String(format: "about $%.2f", s.estimatedCost)
            let screen = String(
                format: "%.2f s on screen (%d frames)", ModelLimits.seconds(forFrames: s.framesTotal), s.framesTotal)
            return "  \(name)  \(screen), \(money)\n"
        }.joined()
    }
}

/// The reporter's output and what it knows of the run (only touched under the reporter's lock).
private struct Screen {
    let json: Bool
    let dryRun: Bool
    let live: Bool
    let preview: Bool
    let started = Date()
    var plan: Plan?
    var phases: [Int: SegmentPhase] = [:]
    /// The provider's state of each request that waits or runs, when it says one.
    var providerStates: [Int: ProviderState] = [:]
    var progress: RunProgress?
    var progressTime = Date()
    var stage: String = "starting"
    /// How far the live stream reaches (`--live`), shown after the stage.
    var liveReach: LiveReach?
    var drawnLines = 0

    /// The events are over: the live display is drawn once more, and stays.
    mutating func finish() {
        if live && drawnLines > 0 {
            draw()
            drawnLines = 0
        }
    }

    mutating func handle(_ event: PipelineEvent) {
        if json {
            writeStdout(event.jsonLine() + "\n")
            return
        }
        switch event {
        case .plan(let p):
            plan = p
            if dryRun {
                writeStdout(p.renderTable())
            } else {
                say(
                    String(
                        format: "plan: %d frames in %d segments, %.2f s paid at most, estimated $%.2f",
                        p.totalFrames, p.segments.count, p.paidSeconds, p.estimatedCost))
            }
        case .prices(let prices):
            let line = "on each provider: " + prices.map(\.summary).joined(separator: " · ")
            if dryRun { writeStdout(line + "\n") } else if prices.count > 1 { say(line) }
        case .image(let w, let h):
            say("image: fitted to \(w)x\(h)")
        case .outputAudio(let audio):
            say("output audio: \(audio.summary)")
        case .captions(let c):
            let from = c.cached ? "\(c.source), cached" : c.source
            let cost = c.cost > 0 ? String(format: ", $%.2f", c.cost) : ""
            let line = "captions: \(c.cues) cues from \(from)\(cost)"
            if dryRun { writeStdout(line + "\n") } else { say(line) }
        case .stage(let s):
            stage = s.rawValue
            if live { draw() } else if plan != nil { say("\(s.rawValue)…") }
        case .warning(let w):
            say("warning: \(w)")
        case .segment(let event):
            var changed =
                phases[event.index].map { $0.name != event.phase.name || queuePosition($0) != queuePosition(event.phase) } ?? true
            // Without the live display: the provider's state when it changes, then once a minute.
            let before = providerStates[event.index]
            if let state = event.providerState,
                before?.name != state.name
                    || Int((state.elapsedSeconds ?? 0) / 60) > Int((before?.elapsedSeconds ?? 0) / 60)
            {
                changed = true
            }
            providerStates[event.index] = event.providerState
            phases[event.index] = event.phase
            progress = event.progress
            progressTime = Date()
            if live {
                draw()
            } else if changed && event.phase.detail == nil || ["retrying", "failed"].contains(event.phase.name) {
                say(ProgressReporter.line(event, preview: preview))
            }
        case .downloadRetry(let index, let retry):
            say("segment \(index): " + ProgressReporter.describe(retry))
        case .sample(let sample):
            if dryRun { writeStdout(sample.summary + "\n") } else { say(sample.summary) }
        case .speakerMapping(let mapping):
            // Before the plan: a user who sees a voice on the wrong speaker reorders --speaker.
            for line in [ProgressReporter.transcriptLine(mapping)] + mapping.lines.map({ "voice \($0)" }) {
                if dryRun { writeStdout(line + "\n") } else { say(line) }
            }
        case .live(let reach):
            liveReach = reach
            if live { draw() } else { say(reach.summary) }
        case .summary:
            break
        }
    }

    private func queuePosition(_ phase: SegmentPhase) -> Int? {
        if case .queued(_, let position) = phase { return position }
        return nil
    }

    /// Prints a line above the live display (or just prints it).
    mutating func say(_ line: String) {
        if live { clearDisplay() }
        writeStderr(line + "\n")
        if live { draw() }
    }

    private mutating func clearDisplay() {
        if drawnLines > 0 {
            // Up to the display's first line, then clear to the end of the screen.
            writeStderr("\u{1B}[\(drawnLines)F\u{1B}[J")
            drawnLines = 0
        }
    }

    mutating func draw() {
        guard live, let plan else { return }
        clearDisplay()
        let columns = ProgressReporter.terminalColumns()
        let lines = ProgressReporter.display(
            plan: plan, progress: progress, progressAge: Date().timeIntervalSince(progressTime),
            elapsed: Date().timeIntervalSince(started), stage: stage + (liveReach.map { "  " + $0.summary } ?? ""),
            phases: phases, providerStates: providerStates, preview: preview,
            columns: columns
        )
        .map { ProgressReporter.fit($0, columns: columns) }
        writeStderr(lines.joined(separator: "\n") + "\n")
        drawnLines = lines.count
    }
}

/// Sends the library's log lines to the progress display: no timestamps, one line each, the
/// level first ("debug: polled …").
struct ReporterLogHandler: LogHandler {
    let reporter: ProgressReporter
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        let fields = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        reporter.log("\(event.level): \(event.message)" + (fields.isEmpty ? "" : " (\(fields))"))
    }
}

extension ProgressReporter {
    /// Where the automatic speaker source's transcript came from and what it cost.
    static func transcriptLine(_ mapping: SpeakerMappingReport) -> String {
        let paid = mapping.cached ? "cached, nothing to pay" : String(format: "$%.2f", mapping.cost)
        return "who speaks when: diarized by \(mapping.source) (\(paid)); the first voice heard is the first --speaker:"
    }
}
