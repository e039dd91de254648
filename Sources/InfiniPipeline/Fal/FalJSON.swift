// Decoding fal's JSON leniently: error bodies vary between apps.

import Foundation

/// Any JSON value, for fields whose shape varies (`detail` is a string or a list; `error` may be
/// a string or an object).
enum JSONValue: Decodable, Sendable, Equatable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Swift.Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let v = try? c.decode(Bool.self) {
            self = .bool(v)
        } else if let v = try? c.decode(Double.self) {
            self = .number(v)
        } else if let v = try? c.decode(String.self) {
            self = .string(v)
        } else if let v = try? c.decode([JSONValue].self) {
            self = .array(v)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    /// Parses bytes; nil when they are not JSON.
    static func parse(_ bytes: [UInt8]) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    var int: Int? {
        if case .number(let n) = self, n.isFinite, n == n.rounded(), abs(n) < 1e15 { return Int(n) }
        return nil
    }

    var double: Double? {
        if case .number(let n) = self { return n }
        return nil
    }

    var array: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// A compact one-line rendering, for messages.
    var text: String {
        switch self {
        case .string(let s): return s
        case .number(let n): return n == n.rounded() && abs(n) < 1e15 ? String(Int(n)) : String(n)
        case .bool(let b): return String(b)
        case .null: return "null"
        case .array(let a): return "[" + a.map(\.text).joined(separator: ", ") + "]"
        case .object(let o): return "{" + o.keys.sorted().map { "\($0): \(o[$0]!.text)" }.joined(separator: ", ") + "}"
        }
    }
}

/// What fal's error bodies tell: `detail` (a string, or 422 field errors), `error_type`.
struct FalErrorBody {
    var detail: String?
    var errorType: String?
    var fieldErrors: [FalError.FieldError] = []

    /// Reads `{"detail": …, "error_type": …}` or, for bodies that are not JSON, keeps the text.
    init(bytes: [UInt8], headerErrorType: String?, redactor: Redactor) {
        errorType = headerErrorType
        guard let json = JSONValue.parse(bytes) else {
            var text = String(decoding: bytes.prefix(4000), as: UTF8.self)
            if text.range(of: "<html", options: .caseInsensitive) != nil { text = FalErrorBody.plainText(html: text) }
            detail = text.isEmpty ? nil : redactor.text(text)
            return
        }
        if let type = json["error_type"]?.string { errorType = type }
        switch json["detail"] {
        case .string(let s)?:
            detail = redactor.text(s)
        case .array(let items)?:
            for item in items {
                let location = item["loc"]?.array?.map(\.text) ?? []
                let message = item["msg"]?.string ?? item.text
                fieldErrors.append(
                    FalError.FieldError(
                        location: location.map { redactor.text($0, limit: 80) },
                        message: redactor.text(message, limit: 200),
                        type: item["type"]?.string))
            }
            detail = fieldErrors.map(\.description).joined(separator: "; ")
        case let value?:
            detail = redactor.text(value.text)
        case nil:
            if let message = json["message"]?.string ?? json["error"]?.string {
                detail = redactor.text(message)
            } else if case .object = json {
                detail = redactor.text(json.text)
            }
        }
    }

    /// The words of an HTML error page (an ingress's "503 Service Temporarily Unavailable … nginx").
    static func plainText(html: String) -> String {
        var words = ""
        var inTag = false
        var lastWasSpace = true
        for character in html {
            if character == "<" { inTag = true; continue }
            if character == ">" { inTag = false; if !lastWasSpace { words.append(" "); lastWasSpace = true }; continue }
            if inTag { continue }
            if character.isWhitespace {
                if !lastWasSpace { words.append(" "); lastWasSpace = true }
            } else {
                words.append(character)
                lastWasSpace = false
            }
        }
        return words.trimmingCharacters(in: .whitespaces)
    }
}
