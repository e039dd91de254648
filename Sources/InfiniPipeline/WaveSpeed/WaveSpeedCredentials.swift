// The WaveSpeed API key: sent as a bearer token to the API's host only, shown nowhere.

import Foundation

/// The WaveSpeed API key, sent as `Authorization: Bearer <key>` to the API's base URL only
/// (never to an upload or download URL).
///
/// The key never appears in `description`, `debugDescription`, `dump` or string
/// interpolation: all of them print `WaveSpeedCredentials(<redacted>)`. Nothing in this library
/// logs it, writes it to disk or puts it into an error.
public struct WaveSpeedCredentials: Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The environment variable the key is read from (as WaveSpeed's own client reads it).
    public static let environmentVariable = "WAVESPEED_API_KEY"

    /// `Bearer <key>`. Internal: only the HTTP layer reads it.
    let headerValue: String
    private let key: String

    /// Wraps a key as WaveSpeed issues it.
    /// - Throws: ``WaveSpeedError`` (`.missingCredentials`) when the key is empty or contains a
    ///   control character or line break.
    public init(key: String) throws {
        let trimmed = key.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else {
            throw WaveSpeedError(.missingCredentials, reason: "the WaveSpeed API key is empty")
        }
        guard !trimmed.contains(where: { $0.isNewline || ($0.asciiValue.map { $0 < 0x20 || $0 == 0x7F } ?? false) })
        else {
            throw WaveSpeedError(
                .missingCredentials, reason: "the WaveSpeed API key contains a control character or line break")
        }
        self.key = trimmed
        headerValue = "Bearer \(trimmed)"
    }

    /// The key from `WAVESPEED_API_KEY`.
    /// - Returns: nil when the variable is unset or empty.
    /// - Throws: ``WaveSpeedError`` (`.missingCredentials`) when it is set but unusable.
    public static func fromEnvironment(_ env: [String: String]) throws -> WaveSpeedCredentials? {
        guard let key = env[environmentVariable], !key.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
        return try WaveSpeedCredentials(key: key)
    }

    /// Replaces every occurrence of the key with `<redacted>`.
    public func redact(_ text: String) -> String {
        text.contains(key) ? text.replacingOccurrences(of: key, with: "<redacted>") : text
    }

    /// `WaveSpeedCredentials(<redacted>)`.
    public var description: String { "WaveSpeedCredentials(<redacted>)" }
    /// `WaveSpeedCredentials(<redacted>)`.
    public var debugDescription: String { description }
    /// A mirror with one child, `key: "<redacted>"`, so `dump` shows nothing secret.
    public var customMirror: Mirror { Mirror(self, children: ["key": "<redacted>"], displayStyle: .struct) }
}

extension WaveSpeedCredentials: APIKey {}
