import Foundation
import InfiniPipeline
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Shows a run's progress: a live display on a terminal, one line per state change otherwise,
/// or NDJSON events on standard output with `--json`.
final class ProgressReporter: @unchecked Sendable {
    private let json: Bool
    private let dryRun: Bool
    private let live: Bool
    private let started = Date()
    private var plan: Plan?
    private var states: [Int: String] = [:]
    private var positions: [Int: Int] = [:]
    private var committedFrames = 0
    private var stage = "starting"
    private var drawnLines = 0
    private var lastDraw = Date.distantPast
    private var preview = false

    init(json: Bool, dryRun: Bool, preview: Bool) {
        self.json = json
        self.dryRun = dryRun
        self.preview = preview
        live = !json && isatty(STDERR_FILENO) == 1 && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }

    /// Reads events until the pipeline finishes.
    func consume(_ events: AsyncStream<PipelineEvent>) async {
        for await event in events { handle(event) }
        if live && drawnLines > 0 {
            draw(force: true)
            drawnLines = 0
        }
    }

    private func handle(_ event: PipelineEvent) {
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
                say(String(format: "plan: %d frames in %d segments, %.2f s paid at most, estimated $%.2f",
                           p.totalFrames, p.segments.count, p.paidSeconds, p.estimatedCost))
            }
        case .image(let w, let h):
            say("image: fitted to \(w)x\(h)")
        case .outputAudio(let audio):
            say("output audio: \(audio.summary)")
        case .stage(let s):
            stage = s
            // Until the plan is known the run is still reading its inputs, which may turn out
            // to be bad: then the error must be the only line.
            if live { draw(force: true) } else if plan != nil { say("\(s)…") }
        case .warning(let w):
            say("warning: \(w)")
        case .segment(let u):
            if u.state == "submitted", let plan, states[u.index] != "submitted" {
                committedFrames += plan.segments[u.index].numFrames
            }
            if u.state == "cancelled", let plan { committedFrames -= plan.segments[u.index].numFrames }
            let changed = states[u.index] != u.state || positions[u.index] != u.queuePosition
            states[u.index] = u.state
            positions[u.index] = u.queuePosition
            if live {
                draw(force: false)
            } else if changed && u.detail == nil || u.state == "retrying" || u.state == "failed" {
                var line = "segment \(u.index): \(u.state)"
                if let p = u.queuePosition { line += " (queue position \(p))" }
                if let r = u.requestId, u.state == "submitted" { line += " as \(r)" }
                if let d = u.detail { line += ": \(d)" }
                say(line)
            }
        case .downloadRetry(let index, let retry):
            say("segment \(index): " + Self.describe(retry))
        case .summary:
            break
        }
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

    /// Prints a line above the live display (or just prints it).
    private func say(_ line: String) {
        if live { clearDisplay() }
        writeStderr(line + "\n")
        if live { draw(force: true) }
    }

    private func clearDisplay() {
        if drawnLines > 0 {
            writeStderr("\u{1B}[\(drawnLines)F\u{1B}[J")
            drawnLines = 0
        }
    }

    private func draw(force: Bool) {
        guard live, let plan else { return }
        let now = Date()
        if !force && now.timeIntervalSince(lastDraw) < 0.1 { return }
        lastDraw = now
        clearDisplay()
        let done = plan.segments.filter { ["done", "cached"].contains(states[$0.index]) }
        let doneFrames = done.reduce(0) { $0 + $1.frameCount }
        let elapsed = now.timeIntervalSince(started)
        let fraction = Double(doneFrames) / Double(max(1, plan.totalFrames))
        let width = 30
        let bar = String(repeating: "#", count: Int(fraction * Double(width))) + String(repeating: ".", count: width - Int(fraction * Double(width)))
        var eta = "--:--"
        if doneFrames > 0 && fraction < 1 { eta = Self.clock(elapsed / fraction - elapsed) }
        let money = preview ? "preview, free" : String(format: "$%.2f committed", Double(committedFrames) / 25 * plan.pricePerSecond)
        var lines = ["[\(bar)] \(done.count)/\(plan.segments.count) segments  \(doneFrames)/\(plan.totalFrames) frames  \(stage)  elapsed \(Self.clock(elapsed))  ETA \(eta)  \(money)"]
        let active = plan.segments.map(\.index).filter { i in
            guard let s = states[i] else { return false }
            return !["done", "cached", "pending"].contains(s)
        }
        for chunk in stride(from: 0, to: min(active.count, 24), by: 4) {
            lines.append(active[chunk..<min(chunk + 4, active.count, 24)].map { i in
                var s = states[i] ?? ""
                if let p = positions[i], s == "queued" { s += " #\(p)" }
                return String(format: "  seg %3d %-14@", i, s as NSString)
            }.joined())
        }
        if active.count > 24 { lines.append("  … and \(active.count - 24) more") }
        writeStderr(lines.joined(separator: "\n") + "\n")
        drawnLines = lines.count
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }

    /// The final summary, for people.
    func printSummary(_ s: PipelineSummary) {
        if s.dryRun {
            writeStdout(String(format: "dry run: nothing sent. %d segments, %d frames; would pay %.2f s of video, about $%.2f\n",
                               s.segments, s.frames, s.plannedSeconds, s.estimatedCost))
            return
        }
        var text = "\(s.output ?? "")\n"
        text += String(format: "  duration %.2f s, %d frames, %d segments (%d reused)\n", s.duration, s.frames, s.segments, s.reusedSegments)
        if preview {
            text += String(format: "  preview: nothing paid; on fal this would pay %.2f s of video, about $%.2f\n", s.plannedSeconds, s.estimatedCost)
        } else {
            text += String(format: "  paid %.2f s of video, $%.2f\n", s.paidSeconds, s.cost)
        }
        text += "  video \(s.videoPath ?? "?"), wall time \(Self.clock(s.wallTime))\n"
        writeStdout(text)
    }
}
