import Foundation

extension Plan {
    /// The plan as pretty-printed JSON with sorted keys (stable for diffs and goldens); the
    /// format `infinistitch plan --json` prints and `infinistitch stitch --plan` reads.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// Reads a plan from JSON as `jsonData()` writes it.
    public static func from(json data: Data) throws -> Plan {
        try JSONDecoder().decode(Plan.self, from: data)
    }
}
