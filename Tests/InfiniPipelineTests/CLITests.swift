import Foundation
import Testing
@testable import InfiniStitchCLI
import InfiniPipeline

@Suite("infinistitch command")
struct CLITests {
    @Test func versionAndHelp() throws {
        let version = try runProcess(infinistitchBinary, ["--version"])
        #expect(version.status == 0)
        #expect(String(decoding: version.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                == InfiniPipelineVersion.string)
        let help = try runProcess(infinistitchBinary, ["--help"])
        #expect(help.status == 0)
        #expect(String(decoding: help.stdout, as: UTF8.self).contains("USAGE: infinistitch"))
    }

    @Test func unknownOptionIsAUsageError() throws {
        let result = try runProcess(infinistitchBinary, ["talk.mp3", "--image", "me.jpg", "--no-such-option"])
        #expect(result.status == 2)
        #expect(String(decoding: result.stderr, as: UTF8.self).contains("--no-such-option"))
    }
}

@Suite("README")
struct ReadmeTests {
    /// The README shows Examples/PreviewExample verbatim, and that file is compiled with the
    /// package, so the README's library example cannot go stale.
    @Test func libraryExampleIsTheCompiledOne() throws {
        let root = Fixture.directory.deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let example = try String(contentsOf: root.appendingPathComponent("Examples/PreviewExample/PreviewExample.swift"), encoding: .utf8)
        #expect(readme.contains(example))
        #expect(readme.contains("swift test"))
        #expect(readme.contains("--backend preview"))
    }
}
