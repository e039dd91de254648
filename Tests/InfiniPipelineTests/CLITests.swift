import Foundation
import InfiniPipeline
import Testing

@testable import InfiniStitchCLI

extension Serial {
    @Suite("infinistitch command")
    struct CLITests {
        @Test func versionAndHelp() throws {
            let version = try runProcess(infinistitchBinary, ["--version"])
            #expect(version.status == 0)
            #expect(
                String(decoding: version.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                    == InfiniPipelineVersion.string)
            let help = try runProcess(infinistitchBinary, ["--help"])
            #expect(help.status == 0)
            #expect(String(decoding: help.stdout, as: UTF8.self).contains("USAGE: infinistitch"))
        }

        /// A run the spending cap stopped is resumed by the same command with the cap it needs.
        @Test func theResumeCommandRaisesTheCap() {
            let given = ["infinistitch", "talk.mp3", "--image", "me.jpg", "--max-cost", "15"]
            #expect(
                RunCommand.resumeCommand(maxCost: 17.2, arguments: given)
                    == "infinistitch talk.mp3 --image me.jpg --max-cost 17.20")
            #expect(
                RunCommand.resumeCommand(maxCost: 3, arguments: ["infinistitch", "a b.mp3", "--max-cost=1"])
                    == "infinistitch 'a b.mp3' --max-cost=3.00")
            #expect(
                RunCommand.resumeCommand(maxCost: 3, arguments: ["infinistitch", "a.mp3"]) == "infinistitch a.mp3 --max-cost 3.00"
            )
        }

        @Test func unknownOptionIsAUsageError() throws {
            let result = try runProcess(infinistitchBinary, ["talk.mp3", "--image", "me.jpg", "--no-such-option"])
            #expect(result.status == 2)
            let stderr = String(decoding: result.stderr, as: UTF8.self)
            #expect(stderr.contains("--no-such-option"))
            #expect(stderr.split(separator: "\n").count == 1, "\(stderr)")
        }

        @Test(arguments: [["--seed", "-1"], ["--max-cost", "-1"], ["--crossfade", "-3"], ["--concurrency", "0"]])
        func aBadNumberIsNamedInOneLine(_ option: [String]) throws {
            let result = try runProcess(infinistitchBinary, ["talk.mp3", "--image", "me.jpg"] + option)
            #expect(result.status == 2)
            let stderr = String(decoding: result.stderr, as: UTF8.self)
            #expect(stderr.contains("\(option[0]) \(option[1])"), "\(stderr)")
            #expect(stderr.split(separator: "\n").count == 1, "\(stderr)")
        }
    }
}

@Suite("README", .ownThreads)
struct ReadmeTests {
    /// The README shows Examples/PreviewExample verbatim, and that file is compiled with the
    /// package, so the README's library example cannot go stale.
    @Test func libraryExampleIsTheCompiledOne() throws {
        let root = Fixture.directory.deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let example = try String(
            contentsOf: root.appendingPathComponent("Examples/PreviewExample/PreviewExample.swift"), encoding: .utf8)
        #expect(readme.contains(example))
        #expect(readme.contains("swift test"))
        #expect(readme.contains("--backend preview"))
    }
}
