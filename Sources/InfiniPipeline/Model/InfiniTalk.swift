// The fal-ai/infinitalk endpoint's input and output.

/// The endpoint's identity and defaults: every other part of the package takes them from here.
public enum InfiniTalk {
    /// The endpoint id on fal.
    public static let endpoint = "fal-ai/infinitalk"
    /// The endpoint's default seed.
    public static let defaultSeed = 42
    /// The endpoint's default `num_frames`.
    public static let defaultNumFrames = 145
    /// The endpoint's default resolution.
    public static let defaultResolution = Resolution.p480
    /// The endpoint's default acceleration.
    public static let defaultAcceleration = Acceleration.regular
}

/// The input of `fal-ai/infinitalk`: one portrait, one audio file, and how to render them.
///
/// Encodes with the endpoint's snake_case keys. ``validate()`` checks what the server would
/// otherwise reject with 422; the client calls it before every submit.
public struct InfiniTalkRequest: Sendable, Hashable, Codable {
    /// The output resolution ("480p", "720p").
    public typealias Resolution = InfiniPipeline.Resolution

    /// How much the model trades quality for speed ("none", "regular", "high").
    public typealias Acceleration = InfiniPipeline.Acceleration

    /// The portrait: an http(s) URL or a `data:` URI.
    public var imageURL: String
    /// The audio: an http(s) URL or a `data:` URI.
    public var audioURL: String
    /// What the video shows, e.g. "A woman with colorful hair talking on a podcast."
    public var prompt: String
    /// Frames to render at 25 fps: 4n+1, from 41 to 721.
    public var numFrames: Int
    /// 480p (default) or 720p (twice the price).
    public var resolution: Resolution
    /// The random seed (the endpoint's default is 42).
    public var seed: Int
    /// Speed/quality trade-off (default regular).
    public var acceleration: Acceleration

    enum CodingKeys: String, CodingKey {
        case imageURL = "image_url", audioURL = "audio_url", prompt, numFrames = "num_frames"
        case resolution, seed, acceleration
    }

    /// Creates a request; the defaults are the endpoint's.
    public init(imageURL: String, audioURL: String, prompt: String, numFrames: Int = InfiniTalk.defaultNumFrames,
                resolution: Resolution = InfiniTalk.defaultResolution, seed: Int = InfiniTalk.defaultSeed,
                acceleration: Acceleration = InfiniTalk.defaultAcceleration) {
        self.imageURL = imageURL
        self.audioURL = audioURL
        self.prompt = prompt
        self.numFrames = numFrames
        self.resolution = resolution
        self.seed = seed
        self.acceleration = acceleration
    }

    /// Decodes a request; absent optional fields take the endpoint's defaults.
    public init(from decoder: any Swift.Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        imageURL = try c.decode(String.self, forKey: .imageURL)
        audioURL = try c.decode(String.self, forKey: .audioURL)
        prompt = try c.decode(String.self, forKey: .prompt)
        numFrames = try c.decodeIfPresent(Int.self, forKey: .numFrames) ?? InfiniTalk.defaultNumFrames
        resolution = try c.decodeIfPresent(Resolution.self, forKey: .resolution) ?? InfiniTalk.defaultResolution
        seed = try c.decodeIfPresent(Int.self, forKey: .seed) ?? InfiniTalk.defaultSeed
        acceleration = try c.decodeIfPresent(Acceleration.self, forKey: .acceleration) ?? InfiniTalk.defaultAcceleration
    }

    /// The rule violations, as `field: reason` (empty when the request is valid).
    public var problems: [FalError.FieldError] {
        var problems: [FalError.FieldError] = []
        func add(_ field: String, _ message: String) {
            problems.append(FalError.FieldError(location: ["body", field], message: message, type: "value_error"))
        }
        if !ModelLimits.isValidRequestSize(numFrames) {
            add("num_frames", "\(numFrames) is not 4n+1 between \(ModelLimits.minimumFrames) and \(ModelLimits.maximumFrames)")
        }
        if prompt.allSatisfy(\.isWhitespace) { add("prompt", "must not be empty") }
        for (field, value) in [("image_url", imageURL), ("audio_url", audioURL)] {
            if let problem = InfiniTalkRequest.urlProblem(value) { add(field, problem) }
        }
        return problems
    }

    /// Checks the request against the endpoint's rules.
    /// - Throws: ``FalError`` (`.invalidRequest`) listing every violation.
    public func validate() throws {
        let problems = self.problems
        guard problems.isEmpty else {
            throw FalError(.invalidRequest,
                           reason: "invalid fal-ai/infinitalk input: " + problems.map(\.description).joined(separator: "; "),
                           fieldErrors: problems)
        }
    }

    /// Why `value` is not an acceptable input URL, or nil when it is.
    static func urlProblem(_ value: String) -> String? {
        let lower = value.prefix(8).lowercased()
        if lower.hasPrefix("data:") {
            guard let comma = value.firstIndex(of: ","), value.index(after: comma) < value.endIndex else {
                return "a data: URI needs a payload after the comma"
            }
            return nil
        }
        if lower.hasPrefix("http://") || lower.hasPrefix("https://") {
            do {
                _ = try URLRules.parse(value, role: "input URL", redactor: Redactor(credentials: nil))
                return nil
            } catch let error as FalError {
                return error.reason
            } catch {
                return "not a valid URL"
            }
        }
        return "must be an http(s) URL or a data: URI"
    }
}

/// A file in a model output (fal's `File`): where it is and, when the server says, what it is.
public struct FalFile: Sendable, Hashable, Codable {
    /// Where to download it.
    public var url: String
    /// The MIME type, when given (fal often says `application/octet-stream`).
    public var contentType: String?
    /// The file name, when given.
    public var fileName: String?
    /// The size in bytes, when given.
    public var fileSize: Int64?

    enum CodingKeys: String, CodingKey {
        case url, contentType = "content_type", fileName = "file_name", fileSize = "file_size"
    }

    /// Creates a file reference.
    public init(url: String, contentType: String? = nil, fileName: String? = nil, fileSize: Int64? = nil) {
        self.url = url
        self.contentType = contentType
        self.fileName = fileName
        self.fileSize = fileSize
    }
}

/// The output of `fal-ai/infinitalk`: the video and the seed used.
public struct InfiniTalkResponse: Sendable, Hashable, Codable {
    /// The rendered MP4.
    public var video: FalFile
    /// The seed used (absent from some responses).
    public var seed: Int?

    /// Creates a response.
    public init(video: FalFile, seed: Int?) {
        self.video = video
        self.seed = seed
    }
}
