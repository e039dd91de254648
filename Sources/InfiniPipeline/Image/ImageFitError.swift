// The image stage's error: an image, or a value for fitting one, that was refused.

/// Why an image, or a value for fitting one, was refused.
///
/// An ``InfiniPipelineError``, compared through ``kind`` (an ``ErrorKind``), so new kinds can be
/// added without breaking callers. ``description`` is one line that names the
/// value or the file and the reason, for example
/// `background "teal": expected #RRGGBB, RRGGBB, white, black or r,g,b with each part 0…255`
/// or `me.png: the image is 63x500 pixels; it must be at least 64 pixels on each side`.
public struct ImageFitError: InfiniPipelineError, Equatable {
    /// The kind of a ``ImageFitError``: compare with `==` or match with `~=`
    /// (`case ImageFitError.Kind.invalidColor = error`). New kinds may be added; switch with a `default`.
    public typealias Kind = ErrorKind<ImageFitError>

    /// The kind of failure.
    public let kind: Kind
    /// The ``ImageFitter`` property the refused value was meant for (`"background"`, `"aspect"`
    /// or `"cropAnchor"`); `nil` when the image itself is at fault.
    public let option: String?
    /// The refused text, for a value that could not be parsed.
    public let value: String?
    /// The image file, when the image itself is at fault and came from a file.
    public let file: String?
    /// The reason, in words.
    public let reason: String

    public var kindName: String { kind.name }
    /// ``ErrorFault/option`` for a refused value, ``ErrorFault/input`` for a refused image.
    public var fault: ErrorFault { option == nil ? .input : .option }

    private init(_ kind: Kind, option: String? = nil, value: String? = nil, file: String? = nil, reason: String) {
        self.kind = kind
        self.option = option
        self.value = value
        self.file = file
        self.reason = reason
    }

    /// `"<option> \"<value>\": <reason>"` for a refused value; `"<file>: <reason>"` (or the
    /// reason alone) for a refused image.
    public var description: String {
        if let option, let value { return "\(option) \"\(value)\": \(reason)" }
        if let file { return "\(file): \(reason)" }
        return reason
    }

    /// A background colour that could not be parsed.
    static func invalidColor(_ text: String) -> ImageFitError {
        ImageFitError(
            .invalidColor, option: "background", value: text,
            reason: "expected #RRGGBB, RRGGBB, white, black or r,g,b with each part 0…255")
    }

    /// An aspect that could not be parsed.
    static func invalidAspect(_ text: String) -> ImageFitError {
        ImageFitError(
            .invalidAspect, option: "aspect", value: text,
            reason: "expected W:H with two positive numbers, e.g. 16:9")
    }

    /// A crop anchor that is not `face`, `center` or two numbers.
    static func malformedCropAnchor(_ text: String) -> ImageFitError {
        ImageFitError(
            .malformedCropAnchor, option: "cropAnchor", value: text,
            reason: "expected face, center or two fractions x,y, e.g. 0.5,0.3")
    }

    /// A crop anchor outside the image.
    static func cropAnchorOutOfRange(_ text: String) -> ImageFitError {
        ImageFitError(
            .cropAnchorOutOfRange, option: "cropAnchor", value: text,
            reason: "each fraction must be between 0 and 1")
    }

    /// An image under ``ImageFitter/minimumSide`` on a side, `width`×`height` upright.
    static func imageTooSmall(width: Int, height: Int, file: String? = nil) -> ImageFitError {
        ImageFitError(
            .imageTooSmall, file: file,
            reason: "image is \(width)x\(height) pixels; it must be at least \(ImageFitter.minimumSide) pixels on each side")
    }

    /// The same error, naming `file`.
    func naming(file: String) -> ImageFitError {
        ImageFitError(kind, option: option, value: value, file: file, reason: reason)
    }
}

extension ErrorKind where Owner == ImageFitError {
    /// A colour that is not one of the accepted forms (see ``RGBColor/init(parsing:)``).
    public static var invalidColor: Self { Self("invalidColor") }
    /// An aspect that is not `W:H` with two positive numbers.
    public static var invalidAspect: Self { Self("invalidAspect") }
    /// A crop anchor that is not `face`, `center` or two comma-separated numbers.
    public static var malformedCropAnchor: Self { Self("malformedCropAnchor") }
    /// A crop anchor with a fraction outside 0…1.
    public static var cropAnchorOutOfRange: Self { Self("cropAnchorOutOfRange") }
    /// An image smaller than ``ImageFitter/minimumSide`` on some side.
    public static var imageTooSmall: Self { Self("imageTooSmall") }
}
