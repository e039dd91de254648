// A plan file that cannot be used: which key, and why.
import Foundation

/// A plan file that cannot be used: which key, and why.
///
/// An ``InfiniPipelineError``, compared through ``kind`` (an ``ErrorKind``), so new kinds can be
/// added without breaking callers. ``description`` is one line, e.g.
/// `"segments[3].frameCount: -5 must be at least 1"`; callers put the file's name in front.
public struct PlanFileError: InfiniPipelineError, Equatable {
    /// The kind of a ``PlanFileError``: compare with `==` or match with `~=`
    /// (`case PlanFileError.Kind.notAPlan = error`). New kinds may be added; switch with a `default`.
    public typealias Kind = ErrorKind<PlanFileError>

    /// The kind of failure.
    public let kind: Kind
    /// The key path, such as `segments[3].numFrames`; empty when the whole file is at fault.
    public let key: String
    /// What is wrong with it.
    public let reason: String

    public var kindName: String { kind.name }
    /// Always ``ErrorFault/input``: the plan file is what must change.
    public var fault: ErrorFault { .input }

    /// An error of `kind` about `key`.
    init(_ kind: Kind, key: String, reason: String) {
        self.kind = kind
        self.key = key
        self.reason = reason
    }

    /// `"<key>: <reason>"`, or the reason alone.
    public var description: String { key.isEmpty ? reason : "\(key): \(reason)" }

    /// The first value of the wrong kind in a parsed plan: a number that is not an integer
    /// where one is needed, or a resolution or layout that does not exist.
    static func typeProblem(in object: Any) -> PlanFileError? {
        func integer(_ value: Any?, _ key: String) -> PlanFileError? {
            guard let number = value as? NSNumber, !(value is Bool) else { return nil }
            let double = number.doubleValue
            if double.rounded() != double || abs(double) >= 9.2e18 {
                return PlanFileError(.wrongType, key: key, reason: "\(number) is not an integer")
            }
            return nil
        }
        func oneOf(_ value: Any?, _ key: String, _ allowed: [String]) -> PlanFileError? {
            guard let text = value as? String, !allowed.contains(text) else { return nil }
            return PlanFileError(.wrongType, key: key, reason: "\"\(text)\" is not one of \(allowed.joined(separator: ", "))")
        }
        guard let plan = object as? [String: Any] else {
            return PlanFileError(.notAPlan, key: "", reason: "not a plan (a JSON object is needed)")
        }
        for key in ["fps", "totalFrames", "maxFrames", "paidFrames"] {
            if let problem = integer(plan[key], key) { return problem }
        }
        if let problem = oneOf(plan["resolution"], "resolution", InfiniTalk.Resolution.allCases.map(\.rawValue)) {
            return problem
        }
        if let problem = oneOf(plan["layout"], "layout", ["wholeClips", "singleTrimmed", "trimmedLast"]) { return problem }
        if let audio = plan["audio"] as? [String: Any] {
            for key in ["sampleRate", "channels", "samples"] {
                if let problem = integer(audio[key], "audio.\(key)") { return problem }
            }
        }
        for (i, segment) in ((plan["segments"] as? [Any]) ?? []).enumerated() {
            guard let segment = segment as? [String: Any] else { continue }
            for key in ["index", "startFrame", "frameCount", "numFrames"] {
                if let problem = integer(segment[key], "segments[\(i)].\(key)") { return problem }
            }
        }
        return nil
    }

    /// Translates Foundation's decoding error into the key it concerns.
    init(decoding error: DecodingError) {
        func path(_ keys: [any CodingKey]) -> String {
            var text = ""
            for key in keys {
                if let index = key.intValue, key.stringValue.hasPrefix("Index") {
                    text += "[\(index)]"
                } else {
                    text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
                }
            }
            return text
        }
        func type(_ type: Any.Type) -> String {
            switch type {
            case is Int.Type: return "an integer"
            case is Double.Type: return "a number"
            case is String.Type: return "a string"
            case is Bool.Type: return "true or false"
            default: return type is any Collection.Type ? "a list" : "an object"
            }
        }
        switch error {
        case .keyNotFound(let key, let context):
            self.init(.missingKey, key: path(context.codingPath + [key]), reason: "missing")
        case .valueNotFound(let wanted, let context):
            self.init(.wrongType, key: path(context.codingPath), reason: "null, but \(type(wanted)) is needed")
        case .typeMismatch(let wanted, let context):
            self.init(.wrongType, key: path(context.codingPath), reason: "not \(type(wanted))")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
                self.init(.notAPlan, key: "", reason: "not valid JSON" + (underlying.map { " (\($0))" } ?? ""))
            } else {
                self.init(.wrongType, key: path(context.codingPath), reason: context.debugDescription)
            }
        @unknown default:
            self.init(.notAPlan, key: "", reason: "cannot be read as a plan")
        }
    }
}

extension ErrorKind where Owner == PlanFileError {
    /// Not JSON, or JSON that is not an object.
    public static var notAPlan: Self { Self("notAPlan") }
    /// A key the plan needs is missing.
    public static var missingKey: Self { Self("missingKey") }
    /// A value of the wrong type: `null`, a string for a number, a fraction for an integer,
    /// or a resolution or layout that does not exist.
    public static var wrongType: Self { Self("wrongType") }
    /// A value of the right type that breaks a rule of plans (see ``Plan/validated()``).
    public static var invalidValue: Self { Self("invalidValue") }
}
