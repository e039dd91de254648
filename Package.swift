// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "InfiniPipeline",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "InfiniPipeline", targets: ["InfiniPipeline"]),
        .executable(name: "infinistitch", targets: ["infinistitch"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        // `swift package generate-documentation` (scripts/docs.sh); used by no target.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // FFmpeg's C libraries, found through pkg-config; shim.h turns the macros Swift
        // cannot import into static inline functions and static constants.
        .systemLibrary(
            name: "CFFmpeg",
            pkgConfig: "libavformat libavcodec libavutil libswscale libswresample libavfilter",
            providers: [
                .apt([
                    "libavformat-dev", "libavcodec-dev", "libavutil-dev", "libswscale-dev", "libswresample-dev",
                    "libavfilter-dev",
                ]),
                .brew(["ffmpeg"]),
            ]
        ),
        // libpng and libjpeg(-turbo) headers and link flags.
        .systemLibrary(
            name: "CImageCodecs",
            pkgConfig: "libpng libjpeg",
            providers: [
                .apt(["libpng-dev", "libjpeg-dev"]),
                .brew(["libpng", "jpeg-turbo"]),
            ]
        ),
        // What Swift cannot or must not do itself: setjmp-based libjpeg and libpng error
        // handling (and libpng's chunk limits), FFmpeg's va_list log callback, and the
        // fontconfig lookup of the font burned captions are drawn with (libass, through
        // libavfilter's `ass` filter, finds fonts the same way).
        .target(
            name: "CMediaShims",
            dependencies: ["CFFmpeg", "CImageCodecs"],
            linkerSettings: [.linkedLibrary("fontconfig")]
        ),
        // OpenCV (C++) behind a C interface: face detection and optical flow. Every OpenCV
        // object is created and freed inside this target. The headers come through the
        // `opencv4` link to Debian's /usr/include/opencv4 (libopencv-dev) and only the four
        // modules used are linked: pkg-config's `opencv4` would link all 55 OpenCV libraries
        // (375 shared objects at start-up, 0.27 s before main; these four: 31, 0.01 s).
        .target(
            name: "CVision",
            cxxSettings: [.headerSearchPath("opencv4")],
            linkerSettings: [
                .linkedLibrary("opencv_core"), .linkedLibrary("opencv_imgproc"),
                .linkedLibrary("opencv_objdetect"), .linkedLibrary("opencv_video"),
            ]
        ),
        .target(
            name: "InfiniPipeline",
            dependencies: [
                "CFFmpeg", "CMediaShims", "CVision",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .target(
            name: "InfiniStitchCLI",
            dependencies: [
                "InfiniPipeline",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "infinistitch",
            dependencies: ["InfiniStitchCLI"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // Exercises every C-resource owner in a loop; run under valgrind by scripts/leak-check.sh.
        .executableTarget(
            name: "media-leak-check",
            dependencies: ["InfiniPipeline"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // A loopback fal server (storage + queue) with fault injection, for tests and benchmarks.
        .target(
            name: "FakeFal",
            dependencies: [
                "InfiniPipeline",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            path: "Tests/FakeFal",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // A loopback WaveSpeed server (uploads, predictions, videos) with fault injection, for
        // tests; it reuses FakeFal's clips and connection breaking.
        .target(
            name: "FakeWaveSpeed",
            dependencies: [
                "InfiniPipeline", "FakeFal",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            path: "Tests/FakeWaveSpeed",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // The README's library example, compiled with the package so it cannot go stale.
        .executableTarget(
            name: "preview-example",
            dependencies: ["InfiniPipeline"],
            path: "Examples/PreviewExample",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // Benchmark helpers: bench/run builds and runs them; no test or CI step runs them.
        // FakeFalServer as a process: prints its URL, serves until SIGTERM/SIGINT.
        .executableTarget(
            name: "fake-fal-server",
            dependencies: ["FakeFal"],
            path: "bench/Sources/fake-fal-server",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // FakeWaveSpeedServer as a process, with a simulated latency per second of video.
        .executableTarget(
            name: "fake-wavespeed-server",
            dependencies: ["FakeWaveSpeed"],
            path: "bench/Sources/fake-wavespeed-server",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // The planner's paid ÷ needed frames over random durations, on synthetic envelopes
        // (and, with --provider wavespeed, billed ÷ audio seconds).
        .executableTarget(
            name: "plan-efficiency",
            dependencies: ["InfiniPipeline"],
            path: "bench/Sources/plan-efficiency",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .testTarget(
            name: "InfiniPipelineTests",
            dependencies: [
                "InfiniPipeline", "InfiniStitchCLI", "CFFmpeg", "FakeFal", "FakeWaveSpeed",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            exclude: ["Golden"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ],
    cxxLanguageStandard: .cxx17
)
