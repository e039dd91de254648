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

    @Option(
        help: ArgumentHelp(
            "Where the crop window sits: face (around the largest face, eyes a third from the top; the centre when none is found), center, or fractions X,Y (0,0 keeps the top-left).",
            valueName: "face|center|X,Y"))
    var cropAnchor: String = "face"

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
            throw ValidationError(ErrorReport.line(for: error))
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
              infinistitch fit-image group.jpg --crop-anchor center --json -o fitted.png

            By default the crop is placed around the largest frontal face (found with OpenCV's
            Haar cascade from opencv-data); with no face, or no cascade, it is centred and a
            warning says why.
            """
    )

    @Argument(help: "The portrait (PNG or JPEG).")
    var image: String

    @Option(help: "Output resolution: 480p or 720p.")
    var resolution: InfiniTalk.Resolution = .p480

    @OptionGroup var fit: FitArguments

    @Option(parsing: .unconditional, help: ArgumentHelp("JPEG quality for a .jpg output (1-100).", valueName: "Q"))
    var quality: Int = 92

    @Option(name: .shortAndLong, help: "Where to write the fitted image: a .png or .jpg path.")
    var output: String

    @Flag(help: "Print the result as JSON (sizes, bucket, face box, crop anchor and window, warnings).")
    var json = false

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
        try FileChecks.requireNotAnInput(output, inputs: [(image, "image")])
        try FileChecks.requireReplaceableFile(output)
        let fitted = try await runBlocking { try fitter.fit(path: image) }
        let jpeg = URL(fileURLWithPath: output).pathExtension.lowercased() != "png"
        let bytes = jpeg ? try fitted.jpegData(quality: quality) : try fitted.pngData()
        try writeAtomically(bytes, to: output)
        for warning in fitted.warnings { writeStderr("warning: \(warning)\n") }
        if json {
            let report = FitReport(image: image, output: output, resolution: resolution, fitted: fitted)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            writeStdout(String(decoding: try encoder.encode(report), as: UTF8.self) + "\n")
            return
        }
        writeStdout(
            "\(image): \(fitted.sourceWidth)x\(fitted.sourceHeight) → bucket \(fitted.bucket) (\(resolution.rawValue)), wrote \(output) \(fitted.pixels.width)x\(fitted.pixels.height)\n"
        )
        writeStdout(Self.framingLine(fitted, asked: anchor))
    }

    /// Where the face was found (in upright source pixels) and which anchor placed the crop.
    static func framingLine(_ fitted: FittedImage, asked: ImageFitter.CropAnchor) -> String {
        let crop = "crop \(fitted.cropWindow) of the upright image"
        if let face = fitted.face {
            return "face at \(face) (WxH+X+Y), crop anchor face: \(crop)\n"
        }
        if asked.findsFace {
            return "no face found, crop anchor \(fitted.cropAnchor): \(crop)\n"
        }
        return "crop anchor \(fitted.cropAnchor): \(crop)\n"
    }
}

/// `fit-image --json`: what was fitted, where the face was and which anchor placed the crop.
private struct FitReport: Encodable {
    struct Size: Encodable {
        var width: Int
        var height: Int
    }

    var image: String
    var output: String
    var resolution: String
    var source: Size
    var bucket: Size
    /// The face box in upright source pixels, or `nil` (written as `null`).
    var face: FaceDetector.Rect?
    /// `face`, `center` or `x,y`: the anchor that placed the crop.
    var cropAnchor: String
    /// The crop window in upright source pixels.
    var crop: FaceDetector.Rect
    var warnings: [String]

    init(image: String, output: String, resolution: InfiniTalk.Resolution, fitted: FittedImage) {
        self.image = image
        self.output = output
        self.resolution = resolution.rawValue
        source = Size(width: fitted.sourceWidth, height: fitted.sourceHeight)
        bucket = Size(width: fitted.bucket.width, height: fitted.bucket.height)
        face = fitted.face
        cropAnchor = fitted.cropAnchor.description
        crop = fitted.cropWindow
        warnings = fitted.warnings
    }

    private enum CodingKeys: String, CodingKey {
        case image, output, resolution, source, bucket, face, cropAnchor, crop, warnings
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(image, forKey: .image)
        try container.encode(output, forKey: .output)
        try container.encode(resolution, forKey: .resolution)
        try container.encode(source, forKey: .source)
        try container.encode(bucket, forKey: .bucket)
        if let face { try container.encode(face, forKey: .face) } else { try container.encodeNil(forKey: .face) }
        try container.encode(cropAnchor, forKey: .cropAnchor)
        try container.encode(crop, forKey: .crop)
        try container.encode(warnings, forKey: .warnings)
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
