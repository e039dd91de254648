import ArgumentParser
import Foundation
import InfiniPipeline

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Image-fitting options, shared by `fit-image` and the main command.
struct FitArguments: ParsableArguments {
    @Option(help: ArgumentHelp("Force the bucket nearest this aspect ratio, e.g. 16:9.", valueName: "W:H"))
    var aspect: String?

    @Option(help: ArgumentHelp("Where the crop window sits, as fractions (0,0 keeps the top-left).", valueName: "X,Y"))
    var cropAnchor: String = "0.5,0.5"

    @Option(help: ArgumentHelp("Colour under transparent parts: #RRGGBB, white, black or r,g,b.", valueName: "COLOR"))
    var background: String = "white"

    func parsed() throws -> (ImageFitter.Aspect?, ImageFitter.CropAnchor, RGBColor) {
        do {
            return (
                try aspect.map { try ImageFitter.Aspect(parsing: $0) }, try ImageFitter.CropAnchor(parsing: cropAnchor),
                try RGBColor(parsing: background)
            )
        } catch let error as ImageFitError {
            // The library names the ImageFitter property (`cropAnchor "2,0": …`); say the flag.
            throw ValidationError(ErrorReport.withFlag(error.description, option: error.option))
        }
    }

    func validate() throws { _ = try parsed() }
}

/// `infinistitch fit-image IMAGE -o OUT`: the frame the model will render from a portrait.
struct FitImageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fit-image",
        abstract: "Upright, crop and resize a portrait to the model's aspect bucket.",
        discussion: """
            Examples:
              infinistitch fit-image me.jpg -o me-fitted.png
              infinistitch fit-image photo.jpg --resolution 720p --aspect 9:16 --crop-anchor 0.5,0.3 -o fitted.jpg
            """
    )

    @Argument(help: "The portrait (PNG or JPEG).")
    var image: String

    @Option(help: "Output resolution: 480p or 720p.")
    var resolution: Resolution = .p480

    @OptionGroup var fit: FitArguments

    @Option(parsing: .unconditional, help: ArgumentHelp("JPEG quality for a .jpg output (1-100).", valueName: "Q"))
    var quality: Int = 92

    @Option(name: .shortAndLong, help: "Where to write the fitted image: a .png or .jpg path.")
    var output: String

    func validate() throws {
        let ext = URL(fileURLWithPath: output).pathExtension.lowercased()
        guard ["png", "jpg", "jpeg"].contains(ext) else {
            throw ValidationError("-o \(output): the output must end in .png, .jpg or .jpeg")
        }
        guard (1...100).contains(quality) else { throw ValidationError("--quality \(quality) must be between 1 and 100") }
    }

    func run() async throws {
        let (aspect, anchor, background) = try fit.parsed()
        let fitter = ImageFitter(resolution: resolution, aspect: aspect, cropAnchor: anchor, background: background)
        let (image, output, quality) = (self.image, self.output, self.quality)
        try FileChecks.requireReplaceableFile(output)
        let fitted = try await runBlocking { try fitter.fit(path: image) }
        let jpeg = URL(fileURLWithPath: output).pathExtension.lowercased() != "png"
        let bytes = jpeg ? try fitted.jpegData(quality: quality) : try fitted.pngData()
        try writeAtomically(bytes, to: output)
        writeStdout(
            "\(image): \(fitted.sourceWidth)x\(fitted.sourceHeight) → bucket \(fitted.bucket) (\(resolution.rawValue)), wrote \(output) \(fitted.pixels.width)x\(fitted.pixels.height)\n"
        )
    }
}

/// Writes a file whole or not at all (through a temporary name beside it).
func writeAtomically(_ data: Data, to path: String) throws {
    let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw CLIError.badInput("\(path): the directory \(directory) does not exist")
    }
    try FileChecks.requireReplaceableFile(path)
    try AtomicFile.write(data, to: path)
}
