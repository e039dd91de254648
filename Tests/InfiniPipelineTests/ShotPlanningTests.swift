import FakeFal
import Foundation
import Testing

@testable import InfiniPipeline

/// Synthetic conversations: random turns with the gaps and overlaps of real talk.
enum SyntheticConversation {
    /// A timeline of `seconds` with `speakers` voices taking turns (1–40 s, a fifth of them
    /// interjections under 1.5 s), separated by gaps of 0.1–0.8 s, a few under 0.1 s, and a
    /// quarter taken over overlapping speech; inside a turn, bursts of 1.5–8 s between pauses of
    /// 0.25–1.2 s. Also the mix's envelope: −28…−16 dBFS where anyone speaks, −68…−62 elsewhere.
    static func make(seconds: Double, speakers: [String], seed: UInt64) -> (SpeakerTimeline, LoudnessEnvelope) {
        var rng = SplitMix64(seed: seed)
        var voiced = [[Range<Double>]](repeating: [], count: speakers.count)
        var t = Double.random(in: 0...1.5, using: &rng)
        var speaker = 0
        while t < seconds {
            let interjection = Double.random(in: 0...1, using: &rng) < 0.2
            let length = interjection ? Double.random(in: 0.3...1.5, using: &rng) : Double.random(in: 1...40, using: &rng)
            var u = t
            while u < t + length {
                let burst = min(Double.random(in: 1.5...8, using: &rng), t + length - u)
                voiced[speaker].append(u..<(u + burst))
                u += burst + Double.random(in: 0.25...1.2, using: &rng)
            }
            let end = voiced[speaker].last!.upperBound
            let kind = Double.random(in: 0...1, using: &rng)
            let gap: Double
            if kind < 0.25 {
                gap = -Double.random(in: 0.1...0.8, using: &rng)  // overlap
            } else if kind < 0.35 {
                gap = Double.random(in: 0...0.1, using: &rng)
            } else {
                gap = Double.random(in: 0.1...0.8, using: &rng)
            }
            t = max(0, end + gap)
            speaker = (speaker + 1 + Int.random(in: 0..<max(1, speakers.count - 1), using: &rng)) % speakers.count
        }
        let timeline = SpeakerTimeline(speakers: speakers, voiced: voiced, duration: seconds)
        let hops = Int((seconds / 0.01).rounded(.up))
        var loud = [Bool](repeating: false, count: hops)
        for ranges in timeline.voiced {
            for range in ranges {
                for hop in Int(range.lowerBound / 0.01)..<min(hops, Int((range.upperBound / 0.01).rounded(.up))) {
                    loud[hop] = true
                }
            }
        }
        let levels = loud.map { $0 ? Float.random(in: -28 ... -16, using: &rng) : Float.random(in: -68 ... -62, using: &rng) }
        return (timeline, LoudnessEnvelope(hopDuration: 0.01, levelsDb: levels))
    }
}

@Suite("Shot planning", .ownThreads)
struct ShotPlanningTests {
    /// Checks a multi-speaker plan: the plan contract, every segment's speaker, speakers change
    /// only at cuts, each change in (or within `margin` frames of) its shot's range, in order,
    /// and the money bound against the single-speaker plan of the same audio.
    static func checkShotPlan(
        _ plan: Plan, shots: [SpeakerTimeline.Shot], single: Plan, margin: Int = 25, label: String
    ) {
        checkPlanContract(
            plan, total: single.totalFrames, maxFrames: single.maxFrames, price: single.pricePerSecond, label: label)
        #expect((try? plan.validated()) != nil, "\(label): the plan does not validate")
        let names = Set((plan.speakers ?? []).map(\.name))
        #expect(plan.segments.allSatisfy { $0.speaker.map(names.contains) == true }, "\(label)")
        // The bound: never more than the single-speaker plan plus one minimum request per shot.
        #expect(plan.paidFrames <= single.paidFrames + ModelLimits.minimumFrames * shots.count, "\(label)")
        let changes = plan.shotChanges
        // The planner may merge a shot it cannot fit; then fewer changes, never others.
        guard changes.count == shots.count - 1 else {
            Issue.record("\(label): \(changes.count) changes for \(shots.count) shots")
            return
        }
        for (change, shot) in zip(changes, shots.dropFirst()) {
            #expect(change.to == shot.speaker, "\(label)")
            #expect(
                change.frame >= shot.start.lowerBound - margin && change.frame <= shot.start.upperBound + margin,
                "\(label): change at \(change.frame) for the range \(shot.start)")
        }
    }

    @Test(arguments: Conversation.sources.indices)
    func conversationPlansAtTheSingleSpeakerPrice(_ index: Int) throws {
        let (label, source) = Conversation.sources[index]
        let audio = try Conversation.audio(for: source)
        let (plan, timeline) = try SegmentPlanner.plan(audio, speakers: Conversation.portraits, source: source)
        let single = try SegmentPlanner.plan(audio)
        let shots = try timeline.shots(totalFrames: single.totalFrames)
        #expect(plan.speakers == Conversation.portraits)
        Self.checkShotPlan(plan, shots: shots, single: single, margin: 0, label: label)
        // 672 frames are whole requests: paid ÷ needed is exactly 1.
        #expect(plan.layout == .wholeClips && plan.paidFrames == plan.totalFrames, "\(label)")
        #expect(plan.shotChanges.map(\.to) == ["B", "A", "B"], "\(label)")
        let truth = try Conversation.truth()
        for (change, shot) in zip(plan.shotChanges, truth.shots.dropFirst()) {
            // In the gap (to a frame, and a little more for measured voice activity).
            let slack = label == "RTTM" ? 0.04 : 0.12
            #expect(change.time >= shot.gapStart - slack && change.time <= shot.gapEnd + slack, "\(label): \(change)")
        }
    }

    @Test(arguments: [(600.0, UInt64(1)), (600, 2), (600, 3), (3600, 4)])
    func longConversationsKeepTheMoneyBound(_ seconds: Double, _ seed: UInt64) throws {
        let names = seed == 3 ? ["A", "B", "C"] : ["A", "B"]
        let (timeline, envelope) = SyntheticConversation.make(seconds: seconds, speakers: names, seed: seed)
        let samples = Int(seconds * 16_000)
        let single = try SegmentPlanner.plan(samples: samples, sampleRate: 16_000, channels: 1, envelope: envelope)
        let shots = try timeline.shots(totalFrames: single.totalFrames)
        #expect(shots.count > Int(seconds / 40))
        let speakers = names.map { Plan.Speaker(name: $0, image: "\($0).png") }
        let plan = try SegmentPlanner.plan(
            samples: samples, sampleRate: 16_000, channels: 1, envelope: envelope, shots: shots, speakers: speakers)
        let label = "\(Int(seconds)) s, seed \(seed)"
        Self.checkShotPlan(plan, shots: shots, single: single, label: label)
        let ratio = Double(plan.paidFrames) / Double(plan.totalFrames)
        #expect(ratio <= 1.02, "\(label): paid ÷ needed \(ratio)")
        // Most changes stay inside their gaps.
        let inside = zip(plan.shotChanges, shots.dropFirst()).filter { $1.start.contains($0.frame) }.count
        #expect(Double(inside) >= 0.9 * Double(shots.count - 1), "\(label): \(inside) of \(shots.count - 1) in their gaps")
    }

    @Test func narrowGapsMoveIntoTheVoices() throws {
        // Shots of 2.04 s (51 frames, not a sum of valid sizes) with single-frame changes: the
        // changes must move.
        var voiced: [[Range<Double>]] = [[], []]
        var t = 0.0
        for i in 0..<12 {
            voiced[i % 2].append(t..<(t + 2.04))
            t += 2.04
        }
        let timeline = SpeakerTimeline(speakers: ["A", "B"], voiced: voiced, duration: t)
        let levels = [Float](repeating: -20, count: Int(t * 100))
        let envelope = LoudnessEnvelope(levelsDb: levels)
        let samples = Int(t * 16_000)
        let single = try SegmentPlanner.plan(samples: samples, sampleRate: 16_000, channels: 1, envelope: envelope)
        let shots = try timeline.shots(totalFrames: single.totalFrames)
        #expect(shots.count == 12 && shots.dropFirst().allSatisfy { $0.start.count == 1 })
        let plan = try SegmentPlanner.plan(
            samples: samples, sampleRate: 16_000, channels: 1, envelope: envelope, shots: shots,
            speakers: [Plan.Speaker(name: "A", image: "a.png"), Plan.Speaker(name: "B", image: "b.png")])
        Self.checkShotPlan(plan, shots: shots, single: single, label: "narrow")
        #expect(plan.paidFrames == plan.totalFrames)
    }

    @Test func shortAudioAndOneShot() throws {
        // 4.96 s (124 frames, not a sum of valid sizes): the single trimmed request, shown as the speaker
        // who has most of it.
        let timeline = SpeakerTimeline(speakers: ["A", "B"], voiced: [[0.2..<1.5], [1.8..<4.9]], duration: 4.96)
        let shots = try timeline.shots(totalFrames: 124, minShot: 1)
        #expect(shots.map(\.speaker) == ["A", "B"])
        let envelope = LoudnessEnvelope(levelsDb: [Float](repeating: -20, count: 496))
        let speakers = [Plan.Speaker(name: "A", image: "a.png"), Plan.Speaker(name: "B", image: "b.png")]
        let plan = try SegmentPlanner.plan(
            samples: 79_360, sampleRate: 16_000, channels: 1, envelope: envelope, shots: shots, speakers: speakers)
        #expect(plan.layout == .singleTrimmed && plan.segments.map(\.speaker) == ["B"])
        #expect(
            speakerErrorKind {
                _ = try SegmentPlanner.plan(
                    samples: 79_360, sampleRate: 16_000, channels: 1, envelope: envelope, shots: shots,
                    speakers: [Plan.Speaker(name: "A", image: "a.png")])
            } == .invalidSpeakers)
    }

    @Test func tableShowsSpeakersAndShotChanges() throws {
        let audio = try Conversation.mix()
        let (plan, _) = try SegmentPlanner.plan(
            audio, speakers: Conversation.portraits, source: .diarization(path: Fixture.path("conversation.rttm")))
        let table = plan.renderTable()
        let lines = table.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0].hasSuffix("cut rel dB  speaker"), "\(lines[0])")
        for (segment, line) in zip(plan.segments, lines.dropFirst()) {
            #expect(line.hasSuffix("  \(segment.speaker!)"), "\(line)")
        }
        let changes = plan.shotChanges.map { "\(Plan.clock(frames: $0.frame)) \($0.from) → \($0.to)" }
        #expect(lines.contains("shot changes: " + changes.joined(separator: ", ")), "\(table)")
        // The single-speaker table has neither.
        var single = plan
        single.speakers = nil
        for index in single.segments.indices { single.segments[index].speaker = nil }
        #expect(!single.renderTable().contains("speaker"))
        #expect(!single.renderTable().contains("shot changes"))
    }

    @Test func planFilesKeepAndCheckTheSpeakers() throws {
        let audio = try Conversation.mix()
        let (plan, _) = try SegmentPlanner.plan(
            audio, speakers: Conversation.portraits, source: .diarization(path: Fixture.path("conversation.rttm")))
        let json = try plan.jsonData()
        #expect(try Plan.from(json: json) == plan)
        let text = String(decoding: json, as: UTF8.self)
        #expect(text.contains("\"speakers\"") && text.contains("\"image\" : \"a.png\""))

        func refused(_ edit: (inout [String: Any]) -> Void) throws -> String? {
            var object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
            edit(&object)
            do {
                _ = try Plan.from(json: JSONSerialization.data(withJSONObject: object))
                return nil
            } catch let error as PlanFileError {
                #expect(error.kind == .invalidValue)
                return error.description
            }
        }
        func editSegment(_ index: Int, _ body: @escaping (inout [String: Any]) -> Void) -> (inout [String: Any]) -> Void {
            { object in
                var segments = object["segments"] as! [[String: Any]]
                body(&segments[index])
                object["segments"] = segments
            }
        }
        #expect(
            try refused(editSegment(2) { $0["speaker"] = "C" })
                == "segments[2].speaker: \"C\" is not one of the plan's speakers (A, B)")
        #expect(
            try refused(editSegment(1) { $0["speaker"] = nil })
                == "segments[1].speaker: missing: a multi-speaker plan names each segment's speaker (A, B)")
        #expect(
            try refused { $0["speakers"] = nil } == "segments[0].speaker: \"A\", but the plan has no speakers list")
        #expect(
            try refused { $0["speakers"] = [["name": "A", "image": "a.png"], ["name": "A", "image": "b.png"]] }
                == "speakers[1].name: \"A\" is listed twice")
    }
}
