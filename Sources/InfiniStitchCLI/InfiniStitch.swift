import ArgumentParser
import Foundation
import InfiniPipeline

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The `infinistitch` command: long audio plus one portrait in, one talking-avatar MP4 out.
public struct InfiniStitch: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "infinistitch",
        abstract: "Turn a long audio file and one portrait into one long talking-avatar MP4 with fal-ai/infinitalk.",
        discussion: """
            Examples:
              infinistitch long_podcast.mp3 --image me.jpg          # the whole job (the default command)
              infinistitch long_podcast.mp3 --image me.jpg --backend preview --dry-run
              infinistitch plan long_podcast.mp3
              infinistitch long_podcast.mp3 --image me.jpg --sample        # 30 s first: long_podcast.sample.mp4
              infinistitch status long_podcast.mp3 --image me.jpg   # where the job stands
              infinistitch fit-image me.jpg -o fitted.png
              infinistitch transcribe long_podcast.mp3 -o long_podcast.srt   # the transcript alone (fal Whisper)
              infinistitch stitch --plan plan.json --audio talk.mp3 -o talk.mp4 seg*.mp4

            Exit codes: 0 success, 1 failure, 2 bad input or usage, 130 interrupted.
            """,
        version: InfiniPipelineVersion.string,
        subcommands: [
            RunCommand.self, PlanCommand.self, FitImageCommand.self, StitchCommand.self, StatusCommand.self,
            TranscribeCommand.self,
        ],
        defaultSubcommand: RunCommand.self
    )

    public init() {}

    /// Parses the process arguments, runs the chosen command and exits with its code:
    /// 0 success, 1 failure, 2 bad input or usage, 130 interrupted.
    public static func runMain(_ arguments: [String]? = nil) async -> Never {
        let code = await execute(arguments)
        #if canImport(Glibc)
        Glibc.exit(code)
        #else
        Darwin.exit(code)
        #endif
    }

    /// Runs a command line and returns the process exit code instead of exiting (tests use this).
    public static func execute(_ arguments: [String]?) async -> Int32 {
        do {
            // `--sample` without a value means 30 s (see SampleArguments).
            var command = try parseAsRoot(SampleArguments.normalized(arguments ?? Array(CommandLine.arguments.dropFirst())))
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            return 0
        } catch {
            return report(error)
        }
    }

    /// Prints an error the way users expect and maps it to an exit code.
    static func report(_ error: any Error) -> Int32 {
        if let cli = error as? CLIError {
            writeStderr("infinistitch: \(cli.message)\n")
            return cli.exitCode
        }
        if let error = error as? any InfiniPipelineError {
            writeStderr("infinistitch: \(ErrorReport.line(for: error))\n")
            return ErrorReport.exitCode(for: error)
        }
        let code = exitCode(for: error)
        if code == .success {
            // --help and --version are answers, not errors: they go to standard output.
            let answer = fullMessage(for: error)
            if !answer.isEmpty { writeStdout(answer.hasSuffix("\n") ? answer : answer + "\n") }
        } else {
            // Bad usage is one line too, like bad input: the reason and where to look.
            let reason = message(for: error).split(separator: "\n").first.map(String.init) ?? ""
            if !reason.isEmpty { writeStderr("infinistitch: \(reason) (see infinistitch --help)\n") }
        }
        // ArgumentParser reports usage errors as EX_USAGE (64); our contract says 2.
        if code == .validationFailure { return 2 }
        return code.rawValue
    }
}

/// An error the CLI reports as one line with a chosen exit code.
struct CLIError: Error {
    var message: String
    var exitCode: Int32
    static func badInput(_ message: String) -> CLIError { CLIError(message: message, exitCode: 2) }
    static func failure(_ message: String) -> CLIError { CLIError(message: message, exitCode: 1) }
}

func writeStdout(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}

func writeStderr(_ text: String) {
    FileHandle.standardError.write(Data(text.utf8))
}
