import Foundation
import Testing

@testable import InfiniPipeline

/// Cuts at sentence ends: with a transcript, the planner moves cuts from pauses inside sentences
/// to pauses between them, under the same rules (whole requests, the same paid frames, cuts in
/// pauses), and the plan says how many cuts fell at sentence ends.
@Suite("Cuts at sentence ends", .ownThreads, .timeLimit(.minutes(2)))
struct SentenceCutTests {
    static let analysis = Result { try AudioAnalysis.analyze(path: Fixture.path("speech-long.mp3")) }

    /// The fixture transcript with the two sentences around each of `times` merged into one
    /// (the first's full stop made a comma): those pauses are now inside sentences.
    static func merged(_ transcript: Transcript, around times: [Double]) -> Transcript {
        var segments: [Transcript.Segment] = []
        for segment in transcript.segments {
            if let last = segments.last, times.contains(where: { last.end < $0 && $0 < segment.start }) {
                segments[segments.count - 1] = Transcript.Segment(
                    start: last.start, end: segment.end,
                    text: String(last.text.dropLast()) + ", " + segment.text.prefix(1).lowercased() + segment.text.dropFirst())
            } else {
                segments.append(segment)
            }
        }
        return Transcript(segments: segments)
    }

    @Test func cutsMoveToSentenceEnds() throws {
        let analysis = try Self.analysis.get()
        let transcript = try Transcript.read(
            file: URL(fileURLWithPath: Fixture.path("speech-long.srt")), audioDuration: analysis.duration)
        let plain = try SegmentPlanner.plan(analysis)
        #expect(plain.cutsAtSentenceEnds == nil)
        let plainCuts = plain.segments.dropFirst().map(\.startTime)
        #expect(plainCuts.count >= 2)

        // The fixture's own transcript: every pause is between sentences, so nothing moves.
        var options = PlanningOptions()
        options.transcript = transcript
        let same = try SegmentPlanner.plan(analysis, options: options)
        #expect(same.segments.map(\.startFrame) == plain.segments.map(\.startFrame))
        #expect(same.cutsAtSentenceEnds == plainCuts.count)

        // The pauses the plain plan cut in are now inside sentences: the cuts move.
        let edited = Self.merged(transcript, around: plainCuts)
        #expect(edited.segments.count == transcript.segments.count - plainCuts.count)
        options.transcript = edited
        let moved = try SegmentPlanner.plan(analysis, options: options)
        let movedCuts = moved.segments.dropFirst().map(\.startTime)
        let gaps = edited.sentenceGaps()
        func atSentenceEnd(_ t: Double) -> Bool { gaps.contains { $0.lowerBound - 0.12 <= t && t <= $0.upperBound + 0.12 } }
        #expect(plainCuts.allSatisfy { !atSentenceEnd($0) })
        #expect(movedCuts.allSatisfy(atSentenceEnd), "\(movedCuts)")
        #expect(moved.cutsAtSentenceEnds == movedCuts.count)
        // The same rules: whole requests, not one paid frame more, every cut in a pause.
        #expect(moved.layout == .wholeClips)
        #expect(moved.paidFrames == plain.paidFrames)
        #expect(moved.segments.allSatisfy { $0.numFrames == $0.frameCount && $0.numFrames <= 721 })
        for segment in moved.segments.dropFirst() {
            #expect((segment.pauseFramesBefore ?? 0) + (segment.pauseFramesAfter ?? 0) > 0, "cut at \(segment.startTime)")
        }
        // The text and JSON say it.
        #expect(moved.renderTable().contains("cuts at sentence ends: \(movedCuts.count) of \(movedCuts.count)"))
        let json = String(decoding: try JSONEncoder().encode(moved), as: UTF8.self)
        #expect(json.contains("\"cutsAtSentenceEnds\":\(movedCuts.count)"))
        #expect(!String(decoding: try JSONEncoder().encode(plain), as: UTF8.self).contains("cutsAtSentenceEnds"))
    }

    /// Sentence ends come from `.`, `?`, `!` (past closing quotes) or a long pause between chunks.
    @Test func sentenceGapsFromWords() {
        let words: [Transcript.Word] = [
            .init(word: "Hello", start: 0.5, end: 0.9), .init(word: "there.", start: 1.0, end: 1.4),
            .init(word: "Is", start: 1.6, end: 1.8), .init(word: "it", start: 1.85, end: 2.0),
            .init(word: "\"true?\"", start: 2.1, end: 2.5), .init(word: "Yes", start: 3.0, end: 3.3),
            .init(word: "and", start: 4.2, end: 4.4), .init(word: "no", start: 4.5, end: 4.8),
        ]
        let gaps = Transcript(segments: [], words: words).sentenceGaps()
        #expect(gaps.count == 5)
        #expect(gaps[0] == 0...0.5)
        #expect(gaps[1] == 1.4...1.6)
        #expect(gaps[2] == 2.5...3.0)
        #expect(gaps[3] == 3.3...4.2)  // a 0.9 s pause without a full stop
        #expect(gaps[4].lowerBound == 4.8)
    }
}
