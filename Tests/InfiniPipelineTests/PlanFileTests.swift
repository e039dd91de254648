import Foundation
import Testing

@testable import InfiniPipeline

extension Serial {
    /// Plans read from JSON (hand-edited, truncated, from another tool) are checked before use:
    /// one line naming the key and the segment, never a trap.
    @Suite("Plan files")
    struct PlanFileTests {
        /// A real plan of `speech.mp3` in small requests, as a mutable JSON object.
        static func planObject() throws -> [String: Any] {
            let plan = try SegmentPlanner.plan(
                AudioAnalysis.analyze(path: Fixture.path("speech.mp3")),
                options: PlanningOptions(maxFrames: 41))
            return try #require(try JSONSerialization.jsonObject(with: plan.jsonData()) as? [String: Any])
        }

        static func edited(_ change: (inout [String: Any]) -> Void) throws -> Data {
            var object = try planObject()
            change(&object)
            return try JSONSerialization.data(withJSONObject: object)
        }

        static func editSegment(_ index: Int, _ key: String, _ value: Any) -> (inout [String: Any]) -> Void {
            { object in
                var segments = object["segments"] as! [[String: Any]]
                segments[index][key] = value
                object["segments"] = segments
            }
        }

        static func error(_ data: Data) -> PlanFileError? {
            do {
                _ = try Plan.from(json: data)
                return nil
            } catch {
                return error as? PlanFileError
            }
        }

        @Test func aSavedPlanReadsBackUnchanged() throws {
            let plan = try SegmentPlanner.plan(
                AudioAnalysis.analyze(path: Fixture.path("speech.mp3")),
                options: PlanningOptions(maxFrames: 41))
            #expect(try Plan.from(json: plan.jsonData()) == plan)
        }

        /// A JSON value written as text.
        static func json(_ text: String) throws -> Any {
            try JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed)
        }

        @Test(arguments: [
            (1, "frameCount", "-5", "segments[1].frameCount", PlanFileError.Kind.invalidValue),
            (1, "frameCount", "9223372036854775807", "segments[1].frameCount", .invalidValue),
            (0, "numFrames", "44", "segments[0].numFrames", .invalidValue),
            (0, "numFrames", "725", "segments[0].numFrames", .invalidValue),
            (2, "startFrame", "3", "segments[2].startFrame", .invalidValue),
            (2, "index", "7", "segments[2].index", .invalidValue),
            (1, "frameCount", "\"forty\"", "segments[1].frameCount", .wrongType),
        ])
        func aBadSegmentIsNamed(
            _ index: Int, _ key: String, _ value: String, _ path: String,
            _ kind: PlanFileError.Kind
        ) throws {
            let problem = Self.error(try Self.edited(Self.editSegment(index, key, try Self.json(value))))
            #expect(problem?.key == path, "\(String(describing: problem))")
            #expect(problem?.kind == kind, "\(String(describing: problem))")
        }

        @Test func aMissingKeyIsNamed() throws {
            let data = try Self.edited { object in
                var segments = object["segments"] as! [[String: Any]]
                segments[2].removeValue(forKey: "numFrames")
                object["segments"] = segments
            }
            let problem = Self.error(data)
            #expect(problem?.description == "segments[2].numFrames: missing")
            #expect(problem?.kind == .missingKey)
            // Kinds match as patterns too.
            if let problem {
                switch problem as any Error {
                case PlanFileError.Kind.missingKey: break
                default: Issue.record("\(problem) did not match .missingKey")
                }
            }
        }

        @Test func framesThatDoNotAddUpAreRefused() throws {
            let data = try Self.edited { object in
                var segments = object["segments"] as! [[String: Any]]
                segments.removeLast()
                object["segments"] = segments
            }
            #expect(Self.error(data)?.key == "segments")
        }

        @Test(arguments: [
            ("fps", "30"), ("totalFrames", "5"), ("maxFrames", "100"), ("pricePerSecond", "-1"), ("resolution", "\"1080p\""),
        ])
        func aBadTopLevelValueIsNamed(_ key: String, _ value: String) throws {
            let parsed = try Self.json(value)
            #expect(Self.error(try Self.edited { $0[key] = parsed })?.key == key)
        }

        @Test func aBadAudioRateIsNamed() throws {
            let data = try Self.edited { object in
                var audio = object["audio"] as! [String: Any]
                audio["sampleRate"] = 0
                object["audio"] = audio
            }
            #expect(Self.error(data)?.key == "audio.sampleRate")
        }

        @Test(arguments: [
            ("1e30", "segments[1].frameCount: 1e+30 is not an integer"),
            ("40.5", "segments[1].frameCount: 40.5 is not an integer"),
        ])
        func aNumberThatIsNotAnIntegerIsNamed(_ value: String, _ message: String) throws {
            #expect(Self.error(try Self.edited(Self.editSegment(1, "frameCount", try Self.json(value))))?.description == message)
        }

        @Test func anUnknownLayoutIsNamedWithTheChoices() throws {
            let problem = Self.error(try Self.edited { $0["layout"] = "bogus" })
            #expect(problem?.description == "layout: \"bogus\" is not one of wholeClips, singleTrimmed, trimmedLast")
        }

        @Test func notJSONSaysSo() {
            let problem = Self.error(Data("{\"fps\": 25,".utf8))
            #expect(problem?.reason.hasPrefix("not valid JSON") == true)
            #expect(problem?.kind == .notAPlan)
            #expect(Self.error(Data("[1, 2]".utf8))?.kind == .notAPlan)
        }

        @Test func derivedValuesAreComputedAgain() throws {
            let data = try Self.edited { object in
                object["paidFrames"] = 1
                object["estimatedCost"] = 0
            }
            let plan = try Plan.from(json: data)
            #expect(plan.paidFrames == plan.segments.reduce(0) { $0 + $1.numFrames })
            #expect(plan.estimatedCost > 0)
        }

        @Test func theStitcherRefusesAPlanBuiltInCode() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            var plan = try StitchTests.plan([(41, 41), (45, 45)])
            plan.segments[1].frameCount = -5
            #expect(throws: PlanFileError.self) {
                try Stitcher.stitch(
                    plan: plan, clips: ["clip-a.mp4", "clip-b.mp4"].map(Fixture.path),
                    audio: Fixture.path("speech.m4a"), output: dir.path("out.mp4"))
            }
        }

        @Test(.timeLimit(.minutes(1)))
        func aPlanOnADeviceIsRefusedNotRead() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let result = try runProcess(
                infinistitchBinary,
                [
                    "stitch", "--plan", "/dev/zero", "--audio", Fixture.path("speech.mp3"),
                    "-o", dir.path("out.mp4"), Fixture.path("clip-a.mp4"),
                ])
            #expect(result.status == 2)
            #expect(String(decoding: result.stderr, as: UTF8.self) == "infinistitch: /dev/zero: the plan is not a regular file\n")
        }

        @Test(.timeLimit(.minutes(1))) func stitchNamesTheFileAndTheKeyInOneLine() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let planPath = dir.path("plan.json")
            try Self.edited(Self.editSegment(1, "frameCount", -5)).write(to: URL(fileURLWithPath: planPath))
            let clips = (0..<5).map { _ in Fixture.path("clip-a.mp4") }
            let result = try runProcess(
                infinistitchBinary,
                [
                    "stitch", "--plan", planPath, "--audio", Fixture.path("speech.mp3"),
                    "-o", dir.path("out.mp4"),
                ] + clips)
            #expect(result.status == 2)
            let stderr = String(decoding: result.stderr, as: UTF8.self)
            #expect(stderr == "infinistitch: \(planPath): segments[1].frameCount: -5 must be at least 1\n")
            #expect(!FileManager.default.fileExists(atPath: dir.path("out.mp4")))
        }
    }
}
