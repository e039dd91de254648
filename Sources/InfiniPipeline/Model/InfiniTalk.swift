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
    public static let defaultResolution = InfiniTalk.Resolution.p480
    /// The endpoint's default acceleration.
    public static let defaultAcceleration = InfiniTalk.Acceleration.regular
}

/// The input of `fal-ai/infinitalk`: one portrait, one audio file, and how to render them.
///
/// Encodes with the endpoint's snake_case keys. ``problems`` lists what the server would
/// otherwise reject with 422; the fal client checks it before every submit.
public struct InfiniTalkRequest: Sendable, Hashable, Codable {
    /// The output resolution ("480p", "720p").
    public typealias Resolution = InfiniTalk.Resolution

    /// How much the model trades quality for speed ("none", "regular", "high").
    public typealias Acceleration = InfiniTalk.Acceleration

    /// The portrait: an http(s) URL or a `data:` URI.
    public var imageURL: String
    /// The audio: an http(s) URL or a `data:` URI.
    public var audioURL: String
    /// What the video shows, e.g. "A woman with colorful hair talking on a podcast."
    public var prompt: String
    /// Frames to render at 25 fps: 4n+1, from 41 to 721.
    public var numFrames: Int
    /// 480p (default) or 720p (twice the price).
    public var resolution: InfiniTalk.Resolution
    /// The random seed (the endpoint's default is 42).
    public var seed: Int
    /// Speed/quality trade-off (default regular).
    public var acceleration: InfiniTalk.Acceleration

    enum CodingKeys: String, CodingKey {
        case imageURL = "image_url", audioURL = "audio_url", prompt, numFrames = "num_frames"
        case resolution, seed, acceleration
    }

    /// Creates a request; the defaults are the endpoint's.
    public init(
        imageURL: String, audioURL: String, prompt: String, numFrames: Int = InfiniTalk.defaultNumFrames,
        resolution: InfiniTalk.Resolution = InfiniTalk.defaultResolution, seed: Int = InfiniTalk.defaultSeed,
        acceleration: InfiniTalk.Acceleration = InfiniTalk.defaultAcceleration
    ) {
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
        resolution = try c.decodeIfPresent(InfiniTalk.Resolution.self, forKey: .resolution) ?? InfiniTalk.defaultResolution
        seed = try c.decodeIfPresent(Int.self, forKey: .seed) ?? InfiniTalk.defaultSeed
        acceleration =
            try c.decodeIfPresent(InfiniTalk.Acceleration.self, forKey: .acceleration) ?? InfiniTalk.defaultAcceleration
    }

    /// One rule of the endpoint that a request breaks: the field (by its JSON name) and why.
    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        /// The field's JSON name, e.g. `num_frames`.
        public var field: String
        /// What is wrong with it, e.g. `40 is not 4n+1 between 41 and 721`.
        public var reason: String

        /// Creates a problem.
        public init(field: String, reason: String) {
            self.field = field
            self.reason = reason
        }

        /// `num_frames: 40 is not 4n+1 between 41 and 721`.
        public var description: String { "\(field): \(reason)" }
    }

    /// The rules of the endpoint this request breaks, in field order (empty when it is valid):
    /// what the server would otherwise reject with 422. The fal client checks them before
    /// every submit.
    public var problems: [Problem] {
        var problems: [Problem] = []
        if !ModelLimits.isValidRequestSize(numFrames) {
            problems.append(
                Problem(
                    field: "num_frames",
                    reason: "\(numFrames) is not 4n+1 between \(ModelLimits.minimumFrames) and \(ModelLimits.maximumFrames)"))
        }
        if prompt.allSatisfy(\.isWhitespace) { problems.append(Problem(field: "prompt", reason: "must not be empty")) }
        for (field, value) in [("image_url", imageURL), ("audio_url", audioURL)] {
            if let problem = InfiniTalkRequest.urlProblem(value) { problems.append(Problem(field: field, reason: problem)) }
        }
        return problems
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
            do throws(HTTPURLSyntax.Problem) {
                _ = try HTTPURLSyntax(value, role: "input URL")
                return nil
            } catch {
                return error.reason
            }
        }
        return "must be an http(s) URL or a data: URI"
    }
}

/// The syntax of an absolute http(s) URL as the endpoint accepts it and the fal client sends
/// it: a scheme, a host, an optional port, no user info, no spaces or control characters.
/// Nothing about where it may be sent (the fal client's `URLRules` add that).
struct HTTPURLSyntax {
    /// Why a text is not such a URL, naming the URL's role ("the input URL has no host").
    struct Problem: Error {
        var reason: String
    }

    /// `http` or `https`, lower-cased.
    let scheme: String
    /// The host, lower-cased, without the brackets of an IPv6 address.
    let host: String

    /// Parses `raw`; `role` names it in the reason of a problem.
    init(_ raw: String, role: String) throws(Problem) {
        guard !raw.isEmpty, !raw.contains(where: { $0.isWhitespace || ($0.asciiValue.map { $0 < 0x20 } ?? false) }) else {
            throw Problem(reason: "the \(role) is not a valid URL (empty or contains spaces)")
        }
        guard let schemeEnd = raw.range(of: "://") else {
            throw Problem(reason: "the \(role) is not an absolute http(s) URL")
        }
        let scheme = raw[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else {
            throw Problem(reason: "the \(role) uses the scheme \"\(scheme)\"; only http and https are allowed")
        }
        let rest = raw[schemeEnd.upperBound...]
        let authority = rest[..<(rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex)]
        guard !authority.contains("@") else {
            throw Problem(reason: "the \(role) carries user info, which we never send")
        }
        var host: Substring
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw Problem(reason: "the \(role) has an unterminated IPv6 address")
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            guard after.isEmpty || (after.hasPrefix(":") && after.dropFirst().allSatisfy(\.isNumber) && after.count > 1) else {
                throw Problem(reason: "the \(role) has an invalid port")
            }
        } else {
            let colon = authority.firstIndex(of: ":")
            host = authority[..<(colon ?? authority.endIndex)]
            if let colon {
                let port = authority[authority.index(after: colon)...]
                guard !port.isEmpty, port.allSatisfy(\.isNumber), let n = Int(port), n > 0, n < 65536 else {
                    throw Problem(reason: "the \(role) has an invalid port")
                }
            }
        }
        guard !host.isEmpty else {
            throw Problem(reason: "the \(role) has no host")
        }
        self.scheme = scheme
        self.host = host.lowercased()
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
