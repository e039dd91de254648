import ArgumentParser
import Foundation
import InfiniPipeline

/// `infinistitch status [WORKDIR | AUDIO --image IMAGE …]`: where a job stands, from its work dir.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show where a job stands (running or stopped) and the command that resumes it; changes nothing.",
        discussion: """
            Examples:
              infinistitch status ~/.cache/infinistitch/work/0123456789abcdef
              infinistitch status talk.mp3 --image me.jpg --provider wavespeed   # the run's own arguments
              infinistitch status talk.mp3 --image me.jpg --json

            Given the run's own arguments, it finds the work dir the way the run does (the inputs
            are read and planned; nothing is sent). It never writes to the work dir.
            """
    )

    @Argument(
        parsing: .captureForPassthrough,
        help: ArgumentHelp(
            "A work dir, or the run's arguments (AUDIO --image IMAGE and its options).", valueName: "WORKDIR | AUDIO"))
    var arguments: [String] = []

    @Flag(help: "Print one JSON line (the status and the resume command).")
    var json = false

    func validate() throws {
        if arguments.filter({ $0 != "--json" }).isEmpty { throw ValidationError("Missing a work dir or the run's arguments") }
    }

    func run() async throws {
        let json = json || arguments.contains("--json")
        let rest = arguments.filter { $0 != "--json" }
        let workDir: URL
        if rest.count == 1, !rest[0].hasPrefix("-") {
            workDir = URL(fileURLWithPath: rest[0])
        } else {
            let command: RunCommand
            do {
                command = try RunCommand.parse(SampleArguments.normalized(rest))
            } catch {
                throw CLIError.badInput(RunCommand.message(for: error).split(separator: "\n").first.map(String.init) ?? "")
            }
            workDir = try await JobStatus.workDir(for: try command.makeOptions())
        }
        let status = try JobStatus.read(workDir: workDir)
        let resume = Self.resumeCommand(status)
        if json {
            struct Line: Encodable {
                let event = "status"
                let status: JobStatus
                let resume: String
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            writeStdout(String(decoding: try encoder.encode(Line(status: status, resume: resume)), as: UTF8.self) + "\n")
        } else {
            writeStdout(Self.text(status, resume: resume))
        }
    }

    /// The status as lines for a person.
    static func text(_ s: JobStatus, resume: String) -> String {
        let state = s.running ? "running (process \(s.pid.map(String.init) ?? "?"))" : "stopped"
        let percent = s.framesTotal > 0 ? Double(s.framesDone) * 100 / Double(s.framesTotal) : 0
        var lines = [
            "work dir   \(s.workDir) — \(state)",
            "job        \(s.audio) with \(s.image), on \(s.backend)",
            "segments   \(s.segmentsDone) done, \(s.segmentsInFlight) in flight, \(s.segmentsUnknown) unknown, "
                + "\(s.segmentsFailed) failed, \(s.segmentsLeft) left, of \(s.segmentsTotal)"
                + String(format: " (%.0f%% of the frames)", percent),
            String(
                format: "money      $%.2f committed; about $%.2f more to finish (estimate for the whole job $%.2f)",
                s.committedCost, s.remainingCost, s.estimatedCost),
        ]
        if let cap = s.settings?.maxCost { lines.append(String(format: "cap        $%.2f (--max-cost)", cap)) }
        if let live = s.live { lines.append("live       \(live.summary) in \(live.directory)") }
        if s.segmentsUnknown > 0 {
            lines.append(
                "note       segments recorded as unknown are sent again only with --resubmit-unknown (each may be paid twice)")
        }
        if s.segmentsDone < s.segmentsTotal || !s.running {
            lines.append((s.running ? "after it   " : "resume     ") + resume)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The command that resumes the job: its recorded options, or (for a work dir of an older
    /// version) its inputs and work dir.
    static func resumeCommand(_ s: JobStatus) -> String {
        var words = ["infinistitch", s.audio, "--image", s.image]
        if let speakers = s.speakers {
            // Who speaks when (the speaker source) is not recorded: the first run's options say it.
            words = ["infinistitch", s.audio] + speakers.flatMap { ["--speaker", "\($0)=IMAGE"] }
        }
        let note = s.speakers == nil ? "" : "   # each speaker's portrait and the first run's speaker source"
        guard let o = s.settings else {
            return RunCommand.shellLine(words + ["--work-dir", s.workDir])
                + "   # add the first run's other options (provider, resolution, prompt, seed …)"
        }
        words += ["-o", o.output, "--provider", o.provider]
        if let endpoint = o.endpoint, endpoint != InfiniTalk.endpoint { words += ["--endpoint", endpoint] }
        if o.prompt != PipelineOptions.defaultPrompt { words += ["--prompt", o.prompt] }
        if o.resolution != InfiniTalk.defaultResolution.rawValue { words += ["--resolution", o.resolution] }
        if o.seed != InfiniTalk.defaultSeed { words += ["--seed", String(o.seed)] }
        if o.acceleration != InfiniTalk.defaultAcceleration.rawValue { words += ["--acceleration", o.acceleration] }
        if let frames = o.maxFrames { words += ["--max-frames", String(frames)] }
        if let dir = o.workDir { words += ["--work-dir", dir] }
        if let live = s.live, !live.ended { words += ["--live", live.directory] }
        // A cap the job already reached would stop the resumed run at once.
        let needed = ((s.committedCost + s.remainingCost) * 100).rounded(.up) / 100
        if let cap = o.maxCost { words += ["--max-cost", String(format: "%.2f", max(cap, needed))] }
        return RunCommand.shellLine(words) + note
    }
}
