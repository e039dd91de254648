// Multi-speaker plans on WaveSpeed: shots of whole-second requests, billed per started second.

import Foundation
import Testing

@testable import InfiniPipeline

@Suite("Shot planning on WaveSpeed", .ownThreads)
struct WaveSpeedShotPlanningTests {
    /// The shots of a plan as it made them: (first frame, end frame, speaker).
    static func planShots(_ plan: Plan) -> [(start: Int, end: Int, speaker: String)] {
        var shots: [(start: Int, end: Int, speaker: String)] = []
        for segment in plan.segments {
            let speaker = segment.speaker ?? "-"
            if let last = shots.last, last.speaker == speaker {
                shots[shots.count - 1].end = segment.endFrame
            } else {
                shots.append((segment.startFrame, segment.endFrame, speaker))
            }
        }
        return shots
    }

    /// Every rule of a WaveSpeed multi-speaker plan: requests within the minimum charge and the
    /// cap, keeping what they ask for; per shot, at most one request off whole seconds (its last)
    /// and billed seconds ≤ ceil(the shot's seconds) + 1 (in fact = ceil); every change in (or
    /// within `margin` frames of) its range. Returns how many changes whose range holds a whole
    /// second well inside a pause are on one, and how many such changes there are.
    @discardableResult
    static func expectRules(
        _ plan: Plan, shots: [SpeakerTimeline.Shot], envelope: LoudnessEnvelope? = nil, margin: Int = 25, label: String
    ) -> (onWholeSecond: Int, couldBe: Int, misses: [String]) {
        let unit = ModelLimits.fps
        #expect(plan.provider == "wavespeed", "\(label)")
        #expect((try? plan.validated()) != nil, "\(label): the plan does not validate")
        #expect(plan.segments.reduce(0) { $0 + $1.frameCount } == plan.totalFrames, "\(label)")
        #expect(plan.maxFrames <= 600 * unit, "\(label)")
        for segment in plan.segments {
            #expect(segment.numFrames == segment.frameCount, "\(label): segment \(segment.index)")
            #expect(
                segment.frameCount >= 5 * unit && segment.frameCount <= plan.maxFrames,
                "\(label): segment \(segment.index) is \(segment.frameCount) frames")
        }
        let billing = Provider.wavespeed.billing
        for shot in planShots(plan) {
            let segments = plan.segments.filter { $0.startFrame >= shot.start && $0.endFrame <= shot.end }
            let billed = segments.reduce(0) { $0 + billing.billedFrames($1.frameCount) } / unit
            let seconds = (shot.end - shot.start + unit - 1) / unit
            #expect(billed <= seconds + 1, "\(label): shot \(shot) bills \(billed) s for \(seconds) s")
            #expect(billed == seconds, "\(label): shot \(shot) bills \(billed) s for \(seconds) s")
            #expect(
                segments.dropLast().allSatisfy { $0.frameCount % unit == 0 },
                "\(label): shot \(shot) has a partial second before its last request: \(segments.map(\.frameCount))")
        }
        let changes = plan.shotChanges
        #expect(changes.count <= shots.count - 1, "\(label)")
        guard changes.count == shots.count - 1 else { return (0, 0, []) }
        var onWholeSecond = 0
        var couldBe = 0
        var misses: [String] = []
        for (change, shot) in zip(changes, shots.dropFirst()) {
            #expect(change.to == shot.speaker, "\(label)")
            #expect(
                change.frame >= shot.start.lowerBound - margin && change.frame <= shot.start.upperBound + margin,
                "\(label): change at \(change.frame) for the range \(shot.start)")
            // A whole second well inside a gap of at least 0.28 s (the pauses the planner cuts
            // in) where nobody is heard over the cut's loudness window (±60 ms).
            let range = shot.start
            let quiet = range.filter { w in
                guard w % unit == 0, w - 2 >= range.lowerBound, w + 2 <= range.upperBound else { return false }
                let t = Double(w) / 25
                return envelope.map { ($0.rmsDb(from: t - 0.06, to: t + 0.06) ?? 0) < -50 } ?? true
            }
            if range.count >= 7, !quiet.isEmpty {
                couldBe += 1
                if change.frame % unit == 0 {
                    onWholeSecond += 1
                } else {
                    misses.append("\(change.frame) in \(range) (quiet whole seconds \(quiet))")
                }
            }
        }
        return (onWholeSecond, couldBe, misses)
    }

    @Test func randomConversationsPayEachShotsSecondsOnly() throws {
        var rng = TestRandom(seed: 2323)
        var onWholeSecond = 0
        var couldBe = 0
        var shotCount = 0
        var misses: [String] = []
        for trial in 0..<24 {
            let seconds = trial < 12 ? rng.uniform(30...300) : rng.uniform(300...2400)
            let names = ["A", "B", "C", "D"].prefix(2 + trial % 3).map { $0 }
            let (timeline, envelope) = SyntheticConversation.make(seconds: seconds, speakers: names, seed: UInt64(100 + trial))
            let rate = [16_000, 44_100, 48_000][trial % 3]
            let samples = Int(seconds * Double(rate))
            var options = PlanningOptions(provider: .wavespeed, concurrency: 1 + trial % 6)
            if trial % 4 == 3 { options.maxFrames = 60 * 25 }
            let total = try SegmentPlanner.totalFrames(samples: samples, sampleRate: rate)
            let shots = try timeline.shots(totalFrames: total, minShot: SpeakerTimeline.defaultMinShot(for: .wavespeed))
            let speakers = names.map { Plan.Speaker(name: $0, image: "\($0).png") }
            let plan = try SegmentPlanner.plan(
                samples: samples, sampleRate: rate, channels: 1, envelope: envelope, shots: shots, speakers: speakers,
                options: options)
            let label = "trial \(trial): \(Int(seconds)) s, \(names.count) speakers"
            let counts = Self.expectRules(plan, shots: shots, envelope: envelope, label: label)
            onWholeSecond += counts.onWholeSecond
            couldBe += counts.couldBe
            misses += counts.misses.map { "\(trial): \($0)" }
            shotCount += shots.count
            // The whole plan: at most one partial second per shot more than the audio's seconds.
            #expect(plan.paidFrames <= (total + 24) / 25 * 25 + 25 * shots.count, "\(label)")
            #expect(abs(plan.estimatedCost - plan.paidSeconds * 0.03) < 1e-6, "\(label)")
        }
        // Changes go on a whole second when their gap has one.
        #expect(couldBe > 100 && shotCount > 200)
        #expect(
            Double(onWholeSecond) >= 0.95 * Double(couldBe),
            "\(onWholeSecond) of \(couldBe) on a whole second; off it: \(misses.prefix(12))")
    }

    @Test func theMinimumShotDefaultsToTheMinimumCharge() {
        #expect(SpeakerTimeline.defaultMinShot(for: .wavespeed) == 5)
        #expect(SpeakerTimeline.defaultMinShot(for: .fal) == SpeakerTimeline.defaultMinShot)
        #expect(SpeakerTimeline.defaultMinShot(for: .preview) == SpeakerTimeline.defaultMinShot)
    }

    @Test(arguments: Conversation.sources.indices)
    func theConversationPlansOnWaveSpeed(_ index: Int) throws {
        let (label, source) = Conversation.sources[index]
        let audio = try Conversation.audio(for: source)
        let options = PlanningOptions(provider: .wavespeed)
        let (plan, timeline) = try SegmentPlanner.plan(
            audio, speakers: Conversation.portraits, source: source, options: options)
        // The default minimum shot is 5 s: B's closing 2.4-s turn stays in A's shot.
        let shots = try timeline.shots(totalFrames: plan.totalFrames, minShot: 5)
        #expect(shots.map(\.speaker) == ["A", "B", "A"], "\(label)")
        #expect(plan.shotChanges.map(\.to) == ["B", "A"], "\(label)")
        Self.expectRules(plan, shots: shots, margin: 0, label: label)
        // Both gaps are narrower than a second and hold none: three shots, three partial seconds.
        #expect(plan.paidFrames <= (plan.totalFrames + 24) / 25 * 25 + 50, "\(label): \(plan.paidFrames)")
        // An explicit minimum shot is kept: B's closing turn gets a shot, but it is shorter than
        // the minimum charge (it would pay 5 s for 3.4), so it joins A's.
        let (fine, fineTimeline) = try SegmentPlanner.plan(
            audio, speakers: Conversation.portraits, source: source, minShot: 2, options: options)
        let fineShots = try fineTimeline.shots(totalFrames: plan.totalFrames, minShot: 2)
        #expect(fineShots.map(\.speaker) == ["A", "B", "A", "B"], "\(label)")
        #expect(fineShots[3].start.lowerBound > plan.totalFrames - 125, "\(label)")
        #expect(fine.shotChanges.map(\.to) == ["B", "A"], "\(label)")
        #expect(fine.segments.allSatisfy { $0.frameCount >= 125 }, "\(label)")
    }

    @Test func aConversationIsPricedOnEveryProviderWithItsShots() throws {
        let audio = try Conversation.mix()
        let source = SpeakerSource.diarization(path: Fixture.path("conversation.rttm"))
        let (fal, timeline) = try SegmentPlanner.plan(audio, speakers: Conversation.portraits, source: source)
        let (wavespeed, _) = try SegmentPlanner.plan(
            audio, speakers: Conversation.portraits, source: source, options: PlanningOptions(provider: .wavespeed))
        let prices = try SegmentPlanner.prices(
            audio, plan: fal, timeline: timeline, minShot: nil, options: PlanningOptions())
        #expect(prices == [fal.price, wavespeed.price], "\(prices)")
        let fromWaveSpeed = try SegmentPlanner.prices(
            audio, plan: wavespeed, timeline: timeline, minShot: nil, options: PlanningOptions(provider: .wavespeed))
        #expect(fromWaveSpeed == [wavespeed.price, fal.price], "\(fromWaveSpeed)")
        // 26.9 s in three shots with no whole second in their gaps: 28 s at $0.03.
        #expect(wavespeed.price.paidSeconds <= 29 && wavespeed.price.cost < fal.price.cost / 5, "\(prices)")
    }

    @Test func aShotUnderTheMinimumChargeJoinsItsNeighbour() throws {
        // B speaks for 2 s in the middle of 40 s: with --min-shot 1 it gets a shot, which cannot
        // be a request of its own (even moved 1 s into the voices around it) without paying 5 s
        // for under 5: it joins its neighbours, and A has the one shot.
        let timeline = SpeakerTimeline(
            speakers: ["A", "B"], voiced: [[0.5..<18.2, 21.0..<39.5], [18.6..<20.6]], duration: 40)
        let shots = try timeline.shots(totalFrames: 1000, minShot: 1)
        #expect(shots.map(\.speaker) == ["A", "B", "A"])
        let envelope = LoudnessEnvelope(levelsDb: (0..<4000).map { $0 % 300 < 260 ? -20 : -70 })
        let plan = try SegmentPlanner.plan(
            samples: 40 * 16_000, sampleRate: 16_000, channels: 1, envelope: envelope, shots: shots,
            speakers: [Plan.Speaker(name: "A", image: "a.png"), Plan.Speaker(name: "B", image: "b.png")],
            options: PlanningOptions(provider: .wavespeed))
        #expect(plan.segments.allSatisfy { $0.frameCount >= 125 && $0.speaker == "A" })
        #expect(plan.paidFrames == 1000 && plan.provider == "wavespeed")
    }
}
