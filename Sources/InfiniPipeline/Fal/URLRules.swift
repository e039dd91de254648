// Where the fal client may send a request: https anywhere, plain http only to this machine.

/// Where a URL may be sent: https anywhere, plain http only to this machine.
enum URLRules {
    /// The parts of a URL we check.
    struct Parsed {
        let scheme: String
        let host: String
    }

    /// Parses `raw` as an absolute http(s) URL (``HTTPURLSyntax``'s rules).
    /// - Throws: `.invalidURL` for anything else (other schemes, no host, user info, spaces).
    static func parse(_ raw: String, role: String, redactor: Redactor) throws -> Parsed {
        do throws(HTTPURLSyntax.Problem) {
            let syntax = try HTTPURLSyntax(raw, role: role)
            return Parsed(scheme: syntax.scheme, host: syntax.host)
        } catch {
            throw FalError(.invalidURL, url: redactor.url(raw), reason: error.reason)
        }
    }

    /// Checks that `raw` may be contacted: https, or http to a loopback host (127.0.0.0/8, ::1,
    /// localhost). Called before anything is sent, for our own URLs and every URL a server returns.
    /// - Throws: `.invalidURL` or `.insecureURL`.
    static func check(_ raw: String, role: String, redactor: Redactor) throws {
        let parsed = try parse(raw, role: role, redactor: redactor)
        if parsed.scheme == "http" && !isLoopback(parsed.host) {
            throw FalError(
                .insecureURL, url: redactor.url(raw),
                reason:
                    "refusing plain http to \(parsed.host) for the \(role): http is allowed only to loopback (127.0.0.0/8, ::1, localhost); use https"
            )
        }
    }

    /// Whether `host` (lower-cased, without brackets) is this machine's loopback.
    static func isLoopback(_ host: String) -> Bool {
        var h = host
        if h.hasSuffix(".") { h.removeLast() }
        if h == "localhost" || h.hasSuffix(".localhost") { return true }
        if h == "::1" || h == "0:0:0:0:0:0:0:1" || h == "::ffff:127.0.0.1" { return true }
        let octets = h.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return false }
        var values: [Int] = []
        for octet in octets {
            guard !octet.isEmpty, octet.count <= 3, octet.allSatisfy({ $0.isASCII && $0.isNumber }),
                let v = Int(octet), v <= 255
            else { return false }
            values.append(v)
        }
        return values[0] == 127
    }
}
