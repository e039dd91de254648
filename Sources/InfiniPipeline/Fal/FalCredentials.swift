// fal API credentials, and the redaction that keeps them out of every text we produce.

import Foundation

/// The fal API key, sent as `Authorization: Key <key>`.
///
/// The key never appears in `description`, `debugDescription`, `dump` or string interpolation:
/// all of them print `FalCredentials(<redacted>)`. Nothing in this library logs it, writes it to
/// disk or puts it into an error; texts built from server responses or URLs pass through
/// ``redact(_:)`` first.
public struct FalCredentials: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The `Authorization` header value, `Key <key>`. Internal: only the HTTP layer reads it.
    let headerValue: String
    /// The strings that must never be shown: the whole key and, for `id:secret` keys, each half.
    private let secrets: [String]

    /// Wraps a key as fal issues it (`FAL_KEY`, which may itself be `id:secret`).
    /// - Throws: ``FalError`` (`.missingCredentials`) when the key is empty or contains a line break.
    public init(key: String) throws {
        let trimmed = key.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else {
            throw FalError(.missingCredentials, reason: "the fal API key is empty")
        }
        guard !trimmed.contains(where: { $0.isNewline || ($0.asciiValue.map { $0 < 0x20 || $0 == 0x7F } ?? false) }) else {
            throw FalError(.missingCredentials, reason: "the fal API key contains a control character or line break")
        }
        headerValue = "Key \(trimmed)"
        var parts = [trimmed]
        if let colon = trimmed.firstIndex(of: ":") {
            let id = String(trimmed[..<colon]), secret = String(trimmed[trimmed.index(after: colon)...])
            // Each half is a credential in its own right; very short halves would redact common words.
            for part in [id, secret] where part.count >= 6 { parts.append(part) }
        }
        // Longest first, so the whole key is replaced before its halves.
        secrets = parts.sorted { $0.count > $1.count }
    }

    /// Wraps a key given as its two halves (`FAL_KEY_ID`, `FAL_KEY_SECRET`), joined with `:`.
    /// - Throws: ``FalError`` (`.missingCredentials`) when either half is empty.
    public init(keyID: String, keySecret: String) throws {
        guard !keyID.isEmpty, !keySecret.isEmpty else {
            throw FalError(.missingCredentials, reason: "FAL_KEY_ID and FAL_KEY_SECRET must both be set")
        }
        try self.init(key: "\(keyID):\(keySecret)")
    }

    /// The credentials the environment provides, as fal's own clients find them: `FAL_KEY`
    /// first, otherwise `FAL_KEY_ID` and `FAL_KEY_SECRET` joined with `:`.
    /// - Returns: nil when neither is set.
    /// - Throws: ``FalError`` (`.missingCredentials`) when only one of the id and secret is set.
    public static func fromEnvironment(_ env: [String: String]) throws -> FalCredentials? {
        if let key = env["FAL_KEY"], !key.isEmpty { return try FalCredentials(key: key) }
        let id = env["FAL_KEY_ID"] ?? "", secret = env["FAL_KEY_SECRET"] ?? ""
        if id.isEmpty && secret.isEmpty { return nil }
        return try FalCredentials(keyID: id, keySecret: secret)
    }

    /// Replaces every occurrence of the key (or either half of an `id:secret` key) with `<redacted>`.
    public func redact(_ text: String) -> String {
        var result = text
        for secret in secrets where result.contains(secret) {
            result = result.replacingOccurrences(of: secret, with: "<redacted>")
        }
        return result
    }

    /// `FalCredentials(<redacted>)`.
    public var description: String { "FalCredentials(<redacted>)" }
    /// `FalCredentials(<redacted>)`.
    public var debugDescription: String { description }
    /// A mirror with one child, `key: "<redacted>"`, so `dump` shows nothing secret.
    public var customMirror: Mirror { Mirror(self, children: ["key": "<redacted>"], displayStyle: .struct) }
}

/// A provider's API key as the HTTP layer uses it: the `Authorization` value to send, and the
/// redaction that hides the key in any text (fal's ``FalCredentials``, WaveSpeed's
/// `WaveSpeedCredentials`).
protocol APIKey: Sendable {
    /// The whole `Authorization` header value (`Key …`, `Bearer …`).
    var headerValue: String { get }
    /// `text` with every occurrence of the key replaced by `<redacted>`.
    func redact(_ text: String) -> String
}

extension FalCredentials: APIKey {}

/// Makes texts safe to show: URLs lose user info and query values, server bodies lose the key.
struct Redactor: Sendable {
    let credentials: (any APIKey)?

    /// Redacts the key and shortens the text to one line of at most `limit` characters.
    func text(_ raw: String, limit: Int = 300) -> String {
        var line = raw.map { $0.isNewline || $0 == "\t" ? " " : $0 }.reduce(into: "") { $0.append($1) }
        if let credentials { line = credentials.redact(line) }
        line = line.trimmingCharacters(in: .whitespaces)
        if line.count > limit { line = String(line.prefix(limit)) + "…" }
        return line
    }

    /// A URL as we show it: no user info, query values replaced by `…` (signed storage URLs
    /// carry tokens there), and the key redacted in case a server echoed it into a path.
    func url(_ raw: String) -> String {
        var shown = raw
        if let schemeEnd = shown.range(of: "://") {
            let rest = shown[schemeEnd.upperBound...]
            let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
            if let at = rest[..<authorityEnd].lastIndex(of: "@") {
                shown = String(shown[..<schemeEnd.upperBound]) + "<redacted>@" + String(rest[rest.index(after: at)...])
            }
        }
        if let hash = shown.firstIndex(of: "#") { shown = String(shown[..<hash]) }
        if let question = shown.firstIndex(of: "?") {
            let query = shown[shown.index(after: question)...]
            let masked = query.split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
                guard let eq = pair.firstIndex(of: "=") else { return String(pair) }
                let name = pair[..<eq]
                // The queue's own harmless parameters stay readable.
                if ["logs", "storage_type"].contains(name.lowercased()) { return String(pair) }
                return "\(name)=…"
            }
            shown = String(shown[..<question]) + "?" + masked.joined(separator: "&")
        }
        return text(shown, limit: 200)
    }
}
