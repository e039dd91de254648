import Foundation
import Testing

@testable import InfiniPipeline

extension Serial {
    /// A run never pays twice and never builds a wrong video from what it finds in its work dir:
    /// one run per work dir, manifests checked before use, failures that let paid work finish.
    @Suite("Run safety", .timeLimit(.minutes(3)))
    struct RunSafetyTests {
        static func options(_ dir: TempDir) -> PipelineOptions {
            var o = PipelineTests.options(dir)
            o.useCache = false
            o.maxFrames = 41  // speech.mp3 (201 frames) in 5 segments
            return o
        }

        static func manifestURL(_ dir: TempDir) -> URL { dir.url.appendingPathComponent("work/manifest.json") }

        /// Rewrites the saved manifest through `change`.
        static func editManifest(_ dir: TempDir, _ change: (inout Manifest) -> Void) throws {
            var manifest = try PipelineTests.savedManifest(dir)
            change(&manifest)
            try ManifestStore.write(manifest, to: manifestURL(dir))
        }

        /// A finished first run; returns its manifest.
        static func finishedRun(_ dir: TempDir) async throws -> Manifest {
            let backend = ScriptedBackend(directory: dir.url.appendingPathComponent("b0"))
            _ = try await Pipeline(options: options(dir), backend: backend).run()
            return try PipelineTests.savedManifest(dir)
        }

        /// The SHA-256 of every output frame, to compare two stitched videos.
        static func frameHashes(_ path: String) throws -> [String] {
            let reader = try VideoReader(path: path, pixelFormat: .yuv420p)
            var hashes: [String] = []
            while let frame = try reader.nextFrame() { hashes.append(Hashing.sha256(frame.planes.flatMap { $0 })) }
            return hashes
        }

        @Test func aWorkDirOfAnotherProviderIsRefusedInOneLine() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            _ = try await Self.finishedRun(dir)
            let other = ScriptedBackend(directory: dir.url.appendingPathComponent("b1"))
            other.identityName = "wavespeed-ai/infinitetalk"
            await #expect {
                try await Pipeline(options: Self.options(dir), backend: other).run()
            } throws: { error in
                guard let error = error as? PipelineError else { return false }
                return error.kind == .invalidWorkDir && error.option == "workDir"
                    && error.description.contains("holds a job for scripted, and this run is for wavespeed-ai/infinitetalk")
                    && !error.description.contains("\n")
            }
            #expect(other.totalSubmits == 0)
        }

        @Test func aSecondRunOfTheSameJobIsRefusedWhileTheFirstHoldsTheWorkDir() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let workDir = dir.url.appendingPathComponent("work")
            try FileManager.default.createDirectory(at: workDir, withIntermediateDirectories: true)
            let held = try WorkDirLock(directory: workDir)
            let backend = ScriptedBackend(directory: dir.url.appendingPathComponent("b"))
            await #expect {
                try await Pipeline(options: Self.options(dir), backend: backend).run()
            } throws: { error in
                guard let error = error as? PipelineError else { return false }
                return error.kind == .workDirInUse && error.description.contains("in use")
                    && error.description.contains("process \(getpid())")
            }
            #expect(backend.totalSubmits == 0)
            // Another process (the binary) is refused the same way, with exit code 2.
            let cli = try runProcess(
                infinistitchBinary,
                [
                    Fixture.path("speech.mp3"), "--image", Fixture.path("portrait.jpg"),
                    "--backend", "preview", "--max-frames", "41", "--no-cache",
                    "--work-dir", workDir.path, "-o", dir.path("cli.mp4"),
                ],
                environment: ["HOME": dir.url.path, "PATH": "/usr/bin:/bin"])
            #expect(cli.status == 2)
            #expect(String(decoding: cli.stderr, as: UTF8.self).contains("process \(getpid())"))
            held.release()
            _ = try await Pipeline(options: Self.options(dir), backend: backend).run()
            #expect(backend.totalSubmits == 5)
        }

        @Test(.timeLimit(.minutes(2)))
        func twoRunsAtOnceNeverSubmitTheSameSegmentTwice() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let backend = ScriptedBackend(directory: dir.url.appendingPathComponent("b"))
            let o = Self.options(dir)
            let runs = (0..<2).map { _ in Task { try await Pipeline(options: o, backend: backend).run() } }
            var results: [Result<PipelineSummary, any Error>] = []
            for run in runs { results.append(await run.result) }
            // Whichever ran second either found the work dir busy or found every clip finished.
            #expect(
                results.contains {
                    if case .success = $0 { return true }; return false
                })
            #expect(backend.submits.values.allSatisfy { $0 == 1 }, "\(backend.submits)")
        }

        @Test func aManifestWithMissingRecordsIsMended() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let manifest = try await Self.finishedRun(dir)
            let expected = try Self.frameHashes(dir.path("out.mp4"))
            try Self.editManifest(dir) { $0.segments.removeLast(2) }
            let backend = ScriptedBackend(directory: dir.url.appendingPathComponent("b1"))
            let summary = try await Pipeline(options: Self.options(dir), backend: backend).run()
            #expect(summary.frames == manifest.plan.totalFrames)
            #expect(backend.submits.keys.sorted() == [3, 4])
            #expect(try Self.frameHashes(dir.path("out.mp4")) == expected)
        }

        @Test func reorderedRecordsArePutBackInOrder() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            _ = try await Self.finishedRun(dir)
            let expected = try Self.frameHashes(dir.path("out.mp4"))
            try Self.editManifest(dir) { $0.segments.reverse() }
            let backend = ScriptedBackend(directory: dir.url.appendingPathComponent("b1"))
            let pipeline = Pipeline(options: Self.options(dir), backend: backend)
            let warnings = Task { () -> [String] in
                var all: [String] = []
                for await case .warning(let w) in pipeline.events { all.append(w) }
                return all
            }
            _ = try await pipeline.run()
            #expect(backend.totalSubmits == 0)
            #expect(await warnings.value.contains { $0.contains("put back in order") })
            #expect(try Self.frameHashes(dir.path("out.mp4")) == expected)
        }

        @Test func swappedClipsAreMadeAgainNotStitchedInTheWrongPlace() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let manifest = try await Self.finishedRun(dir)
            let expected = try Self.frameHashes(dir.path("out.mp4"))
            // Swap only the paths (the checksums stay with their records) ...
            try Self.editManifest(dir) { m in
                let path0 = m.segments[0].clipPath
                m.segments[0].clipPath = m.segments[1].clipPath
                m.segments[1].clipPath = path0
            }
            var backend = ScriptedBackend(directory: dir.url.appendingPathComponent("b1"))
            _ = try await Pipeline(options: Self.options(dir), backend: backend).run()
            #expect(backend.submits.keys.sorted() == [0, 1])
            #expect(try Self.frameHashes(dir.path("out.mp4")) == expected)
            // ... or whole records' files: the files themselves are swapped on disk.
            let a = manifest.segments[2].clipPath!, b = manifest.segments[3].clipPath!
            try FileManager.default.moveItem(atPath: a, toPath: a + ".tmp")
            try FileManager.default.moveItem(atPath: b, toPath: a)
            try FileManager.default.moveItem(atPath: a + ".tmp", toPath: b)
            backend = ScriptedBackend(directory: dir.url.appendingPathComponent("b2"))
            _ = try await Pipeline(options: Self.options(dir), backend: backend).run()
            #expect(backend.submits.keys.sorted() == [2, 3])
            #expect(try Self.frameHashes(dir.path("out.mp4")) == expected)
        }

        @Test(.timeLimit(.minutes(1)))
        func aClipPathOnADeviceDoesNotHang() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            _ = try await Self.finishedRun(dir)
            try Self.editManifest(dir) { $0.segments[1].clipPath = "/dev/zero" }
            let backend = ScriptedBackend(directory: dir.url.appendingPathComponent("b1"))
            _ = try await Pipeline(options: Self.options(dir), backend: backend).run()
            #expect(backend.submits.keys.sorted() == [1])
        }

        @Test func aClipMovedIntoPlaceJustBeforeAStopIsKept() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let manifest = try await Self.finishedRun(dir)
            let expected = try Self.frameHashes(dir.path("out.mp4"))
            // Stopped after the clip's rename and before its record was saved.
            try Self.editManifest(dir) { m in
                m.segments[2].state = .completed
                m.segments[2].clipPath = nil
                m.segments[2].clipSHA256 = nil
            }
            let backend = ScriptedBackend(directory: dir.url.appendingPathComponent("b1"))
            let summary = try await Pipeline(options: Self.options(dir), backend: backend).run()
            #expect(backend.totalSubmits == 0 && backend.waits.isEmpty)
            #expect(summary.reusedSegments == manifest.segments.count)
            #expect(try Self.frameHashes(dir.path("out.mp4")) == expected)
        }

        /// A clip the stitcher rejects is made again and stitched; when it keeps coming back
        /// wrong, every regeneration that was paid for is followed by a stitch that tries it,
        /// and none is made that no stitch would use.
        @Test func everyRegenerationForTheStitcherIsUsed() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let small = dir.path("small.png")
            try Data(ImageCodec.encodePNG(PixelBuffer(width: 320, height: 320, format: .rgb8)))
                .write(to: URL(fileURLWithPath: small))

            let once = ScriptedBackend(directory: dir.url.appendingPathComponent("b1"))
            (once.oddImage, once.oddSizeClips) = (small, [2: 1])
            let summary = try await Pipeline(options: Self.options(dir), backend: once).run()
            #expect(once.submits[2] == 2)
            #expect(try VideoReader(path: dir.path("out.mp4")).countFrames() == summary.frames)

            let other = dir.url.appendingPathComponent("again")
            var options = Self.options(dir)
            options.workDir = other.appendingPathComponent("work").path
            options.output = other.appendingPathComponent("out.mp4").path
            let always = ScriptedBackend(directory: other.appendingPathComponent("b2"))
            (always.oddImage, always.oddSizeClips) = (small, [2: 100])
            await #expect(throws: PipelineError.self) { try await Pipeline(options: options, backend: always).run() }
            #expect(always.submits[2] == 1 + options.maxAttempts)
            #expect(!FileManager.default.fileExists(atPath: options.output!))
        }

        @Test func aDuplicatedRecordIsBadInput() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            _ = try await Self.finishedRun(dir)
            try Self.editManifest(dir) { $0.segments[2].index = 1 }
            let backend = ScriptedBackend(directory: dir.url.appendingPathComponent("b1"))
            await #expect {
                try await Pipeline(options: Self.options(dir), backend: backend).run()
            } throws: { error in
                guard let error = error as? PipelineError else { return false }
                return error.kind == .invalidWorkDir && error.description.contains("manifest.json")
                    && error.description.contains("segment 1")
            }
            #expect(backend.totalSubmits == 0)
        }

        @Test func aDamagedManifestNamesTheKey() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            _ = try await Self.finishedRun(dir)
            var text = try String(contentsOf: Self.manifestURL(dir), encoding: .utf8)
            text = text.replacingOccurrences(of: "\"submits\" : 1", with: "\"submits\" : \"one\"")
            try text.write(to: Self.manifestURL(dir), atomically: true, encoding: .utf8)
            await #expect {
                try await Pipeline(
                    options: Self.options(dir), backend: ScriptedBackend(directory: dir.url.appendingPathComponent("b1"))
                ).run()
            } throws: { error in
                (error as? PipelineError)?.description.contains("segments[0].submits") == true
            }
        }

        @Test func aFailureLetsSegmentsInFlightFinishAndListsEveryFailure() async throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            var o = Self.options(dir)
            o.concurrency = 3
            let backend = ScriptedBackend(directory: dir.url.appendingPathComponent("b"))
            backend.breakWaits = [0, 2]
            do {
                _ = try await Pipeline(options: o, backend: backend).run()
                Issue.record("the run should fail")
            } catch let error as PipelineError {
                #expect(error.description.hasPrefix("2 segments failed"))
                #expect(error.description.contains("segment 0") && error.description.contains("segment 2"))
            }
            let manifest = try PipelineTests.savedManifest(dir)
            // Segment 1 was in flight with the two that failed: it finished and was recorded.
            #expect(manifest.segments[1].state == .done)
            // Nothing new started after the first failure.
            #expect(backend.submits[3] == nil && backend.submits[4] == nil)
        }

        @Test func badInputIsOneLineAndNothingElse() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let cut = try AudioAcceptanceTests.cutMP3(dir)
            for (audio, image) in [
                (cut, Fixture.path("portrait.jpg")), (Fixture.path("speech.mp3"), Fixture.path("truncated.png")),
                (Fixture.path("not-audio.mp3"), Fixture.path("portrait.jpg")),
            ] {
                let result = try runProcess(
                    infinistitchBinary,
                    [
                        audio, "--image", image, "--backend", "preview",
                        "-o", dir.path("out.mp4"), "--work-dir", dir.path("w"),
                    ],
                    environment: ["HOME": dir.url.path, "PATH": "/usr/bin:/bin"])
                #expect(result.status == 2, "\(audio) \(image)")
                let stderr = String(decoding: result.stderr, as: UTF8.self)
                #expect(stderr.split(separator: "\n").count == 1, "\(stderr)")
                #expect(result.stdout.isEmpty)
                #expect(!FileManager.default.fileExists(atPath: dir.path("out.mp4")))
                #expect(!FileManager.default.fileExists(atPath: dir.path("w")))
            }
        }
    }
}

@Suite("Disk space", .ownThreads)
struct DiskSpaceTests {
    @Test func aRunThatCannotFitIsRefusedBeforeItStarts() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let free = try #require(DiskSpace.available(at: dir.url.path))
        // Frames whose clips would need about twice the free space.
        let frames = Int(Double(free) * 2 / (DiskSpace.videoBitRate(.p480) / 8) * Double(ModelLimits.fps))
        var plan = try Serial.StitchTests.plan([(41, 41)])
        plan.totalFrames = frames
        #expect {
            try DiskSpace.check(
                plan: plan, framesToMake: frames, workDir: dir.url.path, outputDirectory: dir.url.path,
                resolution: .p480)
        } throws: { error in
            (error as? PipelineError)?.kind == .insufficientDiskSpace
                && (error as? PipelineError)?.description.contains("disk space") == true
        }
        // A normal run fits.
        try DiskSpace.check(
            plan: try Serial.StitchTests.plan([(41, 41)]), framesToMake: 41, workDir: dir.url.path,
            outputDirectory: dir.url.path, resolution: .p480)
    }
}

extension Serial {
    /// An output path that names a device, a pipe or a directory is refused, never replaced.
    @Suite("Output paths")
    struct OutputPathTests {
        /// A FIFO (any user can make one) and, when allowed (root), a character device like
        /// /dev/null made inside the test's directory.
        static func specialFiles(_ dir: TempDir) -> [String] {
            var paths: [String] = []
            if mkfifo(dir.path("fifo.mp4"), 0o644) == 0 { paths.append(dir.path("fifo.mp4")) }
            // Major 1, minor 3: what /dev/null is.
            if mknod(dir.path("null.mp4"), S_IFCHR | 0o666, dev_t(1 << 8 | 3)) == 0 { paths.append(dir.path("null.mp4")) }
            return paths
        }

        static func isUntouched(_ path: String) -> Bool {
            var info = stat()
            guard lstat(path, &info) == 0 else { return false }
            return info.st_mode & S_IFMT == S_IFIFO || info.st_mode & S_IFMT == S_IFCHR
        }

        @Test(.timeLimit(.minutes(1)))
        func theMainCommandRefusesThemWithOneLine() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let env = ["HOME": dir.url.path, "PATH": "/usr/bin:/bin"]
            let targets = Self.specialFiles(dir)
            try #require(!targets.isEmpty)
            for target in targets {
                let run = try runProcess(
                    infinistitchBinary,
                    [
                        Fixture.path("speech.mp3"), "--image", Fixture.path("portrait.jpg"),
                        "--backend", "preview", "-o", target, "--work-dir", dir.path("w"),
                    ],
                    environment: env)
                #expect(run.status == 2)
                let stderr = String(decoding: run.stderr, as: UTF8.self)
                #expect(
                    stderr == "infinistitch: \(target): is not a regular file (a device, pipe or socket); name a file to write\n")
                #expect(Self.isUntouched(target))
            }
        }

        @Test func theStitcherRefusesThem() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            for target in Self.specialFiles(dir) + [dir.url.path] {
                #expect {
                    try Stitcher.stitch(
                        plan: StitchTests.plan([(41, 41)]), clips: [Fixture.path("clip-a.mp4")],
                        audio: Fixture.path("speech.m4a"), output: target)
                } throws: { error in
                    (error as? MediaError)?.isInputProblem == true && (error as? MediaError)?.file == target
                }
                if target != dir.url.path { #expect(Self.isUntouched(target)) }
            }
        }

        @Test func fitImageRefusesThem() throws {
            let dir = try TempDir()
            defer { dir.cleanup() }
            if mkfifo(dir.path("fifo.png"), 0o644) == 0 {
                let fit = try runProcess(
                    infinistitchBinary, ["fit-image", Fixture.path("portrait.jpg"), "-o", dir.path("fifo.png")])
                #expect(fit.status == 2)
                #expect(String(decoding: fit.stderr, as: UTF8.self).contains("is not a regular file"))
                #expect(Self.isUntouched(dir.path("fifo.png")))
            }
        }
    }
}

/// Records that stand for money (the manifest, paid clips) are written whole and flushed.
@Suite("Durable files", .ownThreads)
struct DurableFileTests {
    @Test func aDurableWriteReplacesTheFileWholeAndLeavesNothingBeside() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.path("manifest.json")
        try AtomicFile.write(Data("old".utf8), to: path, durable: true)
        try AtomicFile.write(Data(repeating: 7, count: 3 << 20), to: path, durable: true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(repeating: 7, count: 3 << 20))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path) == ["manifest.json"])
        let clip = dir.path("clip.mp4")
        let made = try AtomicFile.produce(clip, durable: true) { temp in
            try Data("clip".utf8).write(to: URL(fileURLWithPath: temp))
            return temp
        }
        #expect(made != clip && !FileManager.default.fileExists(atPath: made))
        #expect(try String(contentsOfFile: clip, encoding: .utf8) == "clip")
    }

    @Test func aDurableWriteThatCannotFinishLeavesTheOldFile() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.path("manifest.json")
        try AtomicFile.write(Data("old".utf8), to: path, durable: true)
        struct Stop: Error {}
        #expect(throws: Stop.self) {
            try AtomicFile.produce(path, durable: true) { temp in
                try Data("half".utf8).write(to: URL(fileURLWithPath: temp))
                throw Stop()
            }
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "old")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path) == ["manifest.json"])
    }
}
