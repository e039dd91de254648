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
        .package(url: "https://github.com/apple/swift-crypto", "3.0.0"..<"5.0.0"),
    ],
    targets: [
        // FFmpeg's C libraries, found through pkg-config; shim.h turns the macros Swift
        // cannot import into static inline functions and static constants.
        .systemLibrary(
            name: "CFFmpeg",
            pkgConfig: "libavformat libavcodec libavutil libswscale libswresample",
            providers: [
                .apt(["libavformat-dev", "libavcodec-dev", "libavutil-dev", "libswscale-dev", "libswresample-dev"]),
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
        // What Swift cannot or must not do itself: setjmp-based libjpeg error handling,
        // libpng's simplified API sizes, and FFmpeg's va_list log callback.
        .target(
            name: "CMediaShims",
            dependencies: ["CFFmpeg", "CImageCodecs"]
        ),
        .target(
            name: "InfiniPipeline",
            dependencies: [
                "CFFmpeg", "CMediaShims",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .target(
            name: "InfiniStitchCLI",
            dependencies: [
                "InfiniPipeline",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
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
        .testTarget(
            name: "InfiniPipelineTests",
            dependencies: ["InfiniPipeline", "InfiniStitchCLI", "CFFmpeg"],
            exclude: ["Golden"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
