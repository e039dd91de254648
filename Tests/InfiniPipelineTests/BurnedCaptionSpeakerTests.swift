import Foundation
import Testing

@testable import InfiniPipeline

extension Serial {
    /// Burned captions in a multi-speaker run: each cue keeps off the face of the speaker on
    /// screen while it shows.
    @Suite("Burned captions with several speakers", .timeLimit(.minutes(6)))
    struct BurnedCaptionSpeakerTests {
        /// An SRT time, `hh:mm:ss,mmm`.
        static func srtTime(_ t: Double) -> String {
            let ms = Int((t * 1000).rounded())
            return String(format: "%02d:%02d:%02d,%03d", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
        }

        /// Captions of the conversation fixture: a short line for each utterance that does not
        /// overlap the one before, for at most 2.5 s from its start.
        static func writeCaptions(_ path: String) throws {
            let truth = try MultiSpeakerPipelineTests.Truth.load()
            var srt = "", n = 0, lastEnd = -1.0
            for u in truth.utterances where u.start >= lastEnd + 0.3 && u.end - u.start >= 0.3 {
                n += 1
                lastEnd = min(u.end, u.start + 2.5)
                srt += "\(n)\n\(srtTime(u.start)) --> \(srtTime(lastEnd))\n\(u.speaker) speaks, cue \(n)\n\n"
            }
            try srt.write(toFile: path, atomically: true, encoding: .utf8)
        }

        /// A two-speaker preview run of the conversation fixtures, A's face high in the frame and
        /// B's low, where the style's place would cover it: against the same run without
        /// captions, nothing changes inside the face of the speaker on screen during a cue (for
        /// a cue spanning a shot change, while the face shown longest is on screen), the captions
        /// show in every frame of every cue, and nothing changes between cues; a sample of the
        /// run likewise.
        @Test func captionsKeepOffTheFaceOfTheSpeakerOnScreen() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            var speakers: [Plan.Speaker] = []
            for (name, centre) in [("A", 0.3), ("B", 0.8)] {
                let image = try FramingPictures.place(on: (384, 384), faceCentre: 0.5, centre).image
                let path = dir.path("\(name).png")
                try Data(ImageCodec.encodePNG(image)).write(to: URL(fileURLWithPath: path))
                speakers.append(Plan.Speaker(name: name, image: path))
            }
            // The faces the pipeline's fit anchors on (the same fit).
            let fitter = ImageFitter(resolution: .p480)
            let faces = try speakers.map { try #require(try fitter.fit(path: $0.image).faceRegion, "no face in \($0.image)") }
            #expect(faces[1].y > faces[0].y + faces[0].height, "B's face is below A's: \(faces)")

            let captionsFile = dir.path("captions.srt")
            try Self.writeCaptions(captionsFile)
            let cues = try Transcript.read(file: URL(fileURLWithPath: captionsFile)).captions()
            var o = PipelineOptions(
                audio: Fixture.path("conversation-mix.opus"), speakers: speakers,
                source: .diarization(path: Fixture.path("conversation.rttm")))
            o.workDir = dir.path("work")
            o.backend = .preview
            o.environment = ["XDG_CACHE_HOME": dir.path("cache"), "HOME": dir.url.path]
            o.stitch.preset = "ultrafast"
            o.captions = .file(captionsFile)
            o.burnCaptions = true
            o.output = dir.path("burned.mp4")
            let (burned, events) = try await runCollectingEvents(Pipeline(options: o))
            #expect(burned.videoPath == "reencode")
            let plan = try #require(events.compactMap { if case .plan(let p) = $0 { p } else { nil } }.last)
            o.burnCaptions = false
            o.output = dir.path("plain.mp4")
            let plain = try await Pipeline(options: o).run()
            #expect(plain.reusedSegments == plain.segments)

            let whole = try Self.compare(
                dir.path("burned.mp4"), dir.path("plain.mp4"), cues: cues, segments: plan.segments, speakers: speakers,
                faces: faces)
            #expect(whole.frames == burned.frames)
            #expect(whole.checked[0] > 25 && whole.checked[1] > 25, "frames checked per speaker: \(whole.checked)")
            #expect(whole.outside > 50, "\(whole.outside) frames between cues")

            // A sample of the same run: its own stretch of the shots, the cues moved as its captions are.
            o.sample = SampleSpan(seconds: 8, at: 14)
            let plainSample = try await Pipeline(options: o).run()
            let sample = try #require(plainSample.sample)
            #expect(sample.startTime > 5, "the sample starts at \(sample.startTime) s")
            o.burnCaptions = true
            o.output = dir.path("burned.mp4")
            let burnedSample = try await Pipeline(options: o).run()
            #expect(burnedSample.reusedSegments == sample.segments.count)
            let part = try Self.compare(
                dir.path("burned.sample.mp4"), dir.path("plain.sample.mp4"),
                cues: SubtitleTrack.excerpt(cues, from: sample.startTime, to: sample.endTime),
                segments: sample.segments.map { plan.segments[$0] }, speakers: speakers, faces: faces)
            #expect(part.frames == sample.frameCount)
            #expect(part.checked[0] > 10 && part.checked[1] > 10, "sample frames checked per speaker: \(part.checked)")
            if ProcessInfo.processInfo.environment["CAPTION_FIGURES"] == "1" {
                print("speaker captions: faces \(faces); whole \(whole); sample at \(sample.startTime) s \(part)")
            }
        }

        /// Compares a video with burned captions against the same without them: in every frame of
        /// a cue the captions show (over 0.3 % of the picture changed) and nothing changes inside
        /// the face of the speaker on screen (`segments` in order from frame 0, the speakers'
        /// `faces`), except, for a cue across a shot change, in the frames of the face shown
        /// shorter; nothing changes a frame away from every cue.
        /// - Returns: the frame count, the frames whose face was checked per speaker, the cues
        ///   across a shot change, and the frames between cues.
        static func compare(
            _ burned: String, _ plain: String, cues: [Caption], segments: [Plan.Segment], speakers: [Plan.Speaker],
            faces: [ColorRegion]
        ) throws -> (frames: Int, checked: [Int], spanning: Int, outside: Int) {
            let a = try BurnedCaptionStitchTests.luma(burned), b = try BurnedCaptionStitchTests.luma(plain)
            #expect(b.frames.count == a.frames.count)
            let (w, h) = (a.width, a.height)
            // The style's place covers B's face: only moving the cues keeps them off it.
            let layout = CaptionScript.Layout(width: w, height: h, cues: cues)
            #expect(layout.placement(lines: cues[0].lines, faces: [faces[1]]).marginV != 0, "B's face is not in the way")
            #expect(layout.placement(lines: cues[0].lines, faces: [faces[0]]).marginV == 0, "A's face is in the way")

            // Who is on screen in each frame, and each shot's frames.
            let speakerIndex = { (name: String?) in speakers.firstIndex { $0.name == name } ?? 0 }
            var onScreen: [Int] = []
            var shots: [(speaker: Int, frames: Range<Int>)] = []
            for segment in segments {
                let who = speakerIndex(segment.speaker), start = onScreen.count
                onScreen += Array(repeating: who, count: segment.frameCount)
                if let last = shots.last, last.speaker == who {
                    shots[shots.count - 1].frames = last.frames.lowerBound..<onScreen.count
                } else {
                    shots.append((who, start..<onScreen.count))
                }
            }
            #expect(Set(onScreen) == [0, 1] && onScreen.count == a.frames.count)
            let fps = Double(ModelLimits.fps)
            let boxes = faces.map { face in
                (
                    rows: Int(face.y * Double(h))..<Int(((face.y + face.height) * Double(h)).rounded(.up)),
                    columns: Int(face.x * Double(w))..<Int(((face.x + face.width) * Double(w)).rounded(.up))
                )
            }
            var checked = [0, 0], spanning = 0
            for cue in cues {
                // How long each speaker is on screen during the cue.
                var shown = [0.0, 0.0]
                for shot in shots {
                    let from = max(cue.start, Double(shot.frames.lowerBound) / fps)
                    let to = min(cue.end, Double(shot.frames.upperBound) / fps)
                    if to > from { shown[shot.speaker] += to - from }
                }
                let longest = shown[1] > shown[0] ? 1 : 0
                if shown.allSatisfy({ $0 > 0 }) { spanning += 1 }
                for k in BurnedCaptionStitchTests.frameSets([cue], count: a.frames.count).inside {
                    let who = onScreen[k]
                    let drawn = BurnedCaptionStitchTests.difference(
                        a.frames[k], b.frames[k], width: w, rows: 0..<h, columns: 0..<w)
                    #expect(drawn > 0.3, "frame \(k) (\(cue.text)): only \(drawn) % changed")
                    // A cue across a shot change covers the shorter shown face when no place clears both.
                    guard shown[1 - who] == 0 || who == longest else { continue }
                    let onFace = BurnedCaptionStitchTests.difference(
                        a.frames[k], b.frames[k], width: w, rows: boxes[who].rows, columns: boxes[who].columns)
                    #expect(
                        onFace < 0.01, "frame \(k) (\(cue.text)): the captions cover \(speakers[who].name)'s face (\(onFace) %)")
                    checked[who] += 1
                }
            }
            let outside = BurnedCaptionStitchTests.frameSets(cues, count: a.frames.count).outside
            let most =
                outside.map {
                    BurnedCaptionStitchTests.difference(a.frames[$0], b.frames[$0], width: w, rows: 0..<h, columns: 0..<w)
                }.max() ?? 0
            #expect(most < 0.01, "a frame between cues has \(most) % changed")
            return (a.frames.count, checked, spanning, outside.count)
        }
    }
}
