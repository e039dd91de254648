import Foundation
import InfiniPipeline

/// Makes a talking-avatar video with the InfiniPipeline library, on the free preview backend.
/// Usage: preview-example AUDIO IMAGE OUTPUT.mp4
@main
struct PreviewExample {
    static func main() async throws {
        let arguments = CommandLine.arguments
        guard arguments.count == 4 else {
            print("usage: preview-example AUDIO IMAGE OUTPUT.mp4")
            return
        }
        var options = PipelineOptions(audio: arguments[1], image: arguments[2])
        options.output = arguments[3]
        options.backend = .preview  // .fal renders with the hosted model (reads FAL_KEY)
        let pipeline = Pipeline(options: options)
        let progress = Task {
            for await event in pipeline.events {
                if case .segment(let segment) = event {
                    let run = segment.progress
                    print("segment \(segment.index): \(segment.phase.name) (\(run.framesDone)/\(run.framesTotal) frames)")
                }
            }
        }
        let summary = try await pipeline.run()
        await progress.value
        print("wrote \(summary.output ?? "?"): \(summary.frames) frames in \(summary.segments) segments")
    }
}
