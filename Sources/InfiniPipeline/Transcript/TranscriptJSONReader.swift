// InfiniPipeline: reading transcripts as JSON, Whisper-style or as fal returns them, with lines.

import Foundation

/// Reads `{"segments": [{"start", "end", "text", "words": [...]}]}` (Whisper, faster-whisper,
/// WhisperX, OpenAI's `verbose_json` with top-level `words`), whisper.cpp's
/// `{"transcription": [{"offsets": {"from", "to"}, "text"}]}` and fal's
/// `{"chunks": [{"timestamp": [start, end], "text", "speaker"}]}` (a `null` end ends at the next
/// chunk's start, or the audio's end). Its own small JSON parser keeps each value's line, so a
/// bad value is refused naming its line.
struct TranscriptJSONReader {
    let text: String
    let name: String
    let audioDuration: Double?

    func read() throws -> Transcript.Lined {
        var parser = JSONParser(bytes: Array(text.utf8), name: name)
        let root = try parser.document()
        var lined = Transcript.Lined()
        var list: [Node]
        if case .array(let items) = root.value {
            list = items
        } else {
            list = []
            for key in ["chunks", "segments", "transcription"] {
                if let value = root[key] { list = try array(value, key) }
            }
            if let words = root["words"] { lined.words = try array(words, "words").map { try word($0, segment: nil) } }
        }
        for (index, item) in list.enumerated() {
            if item["timestamp"] != nil {
                try chunk(item, next: list.dropFirst(index + 1).first, into: &lined)
            } else {
                let segment = try segment(item)
                lined.segments.append((segment, item.line))
                if let words = item["words"] {
                    lined.words += try array(words, "words").map { try word($0, segment: segment) }
                }
            }
        }
        // Chunks of one word each are word-level chunks: the segments are the sentences they
        // make. When some chunks hold several words, all are segments, and the one-word ones
        // are not word timings.
        if list.contains(where: { $0["timestamp"] != nil }) {
            if lined.words.count == lined.segments.count {
                lined.segments = Self.sentences(lined.words)
            } else {
                lined.words = []
            }
        }
        guard !lined.segments.isEmpty || !lined.words.isEmpty else {
            throw TranscriptError.empty(file: name, "segments or chunks (\"segments\": [...] or \"chunks\": [...])")
        }
        return lined
    }

    func fail(_ node: Node, _ reason: String) -> TranscriptError {
        TranscriptError.malformed(file: name, line: node.line, reason)
    }

    func array(_ node: Node, _ key: String) throws -> [Node] {
        guard case .array(let items) = node.value else { throw fail(node, "\"\(key)\" is not a list") }
        return items
    }

    func number(_ node: Node?, _ key: String, in parent: Node) throws -> Double? {
        guard let node else { return nil }
        switch node.value {
        case .number(let n) where n.isFinite && n >= 0: return n
        case .null: return nil
        default: throw fail(node, "\"\(key)\" is not a time in seconds ≥ 0")
        }
    }

    func string(_ node: Node?, _ key: String) throws -> String? {
        guard let node else { return nil }
        switch node.value {
        case .string(let s): return s
        case .null: return nil
        default: throw fail(node, "\"\(key)\" is not text")
        }
    }

    func checkedOrder(_ start: Double, _ end: Double, _ node: Node) throws {
        if end < start { throw fail(node, "ends (\(end)) before it starts (\(start))") }
    }

    func segment(_ item: Node) throws -> Transcript.Segment {
        var start = try number(item["start"], "start", in: item)
        var end = try number(item["end"], "end", in: item)
        if let offsets = item["offsets"] {  // whisper.cpp: milliseconds
            start = try number(offsets["from"], "from", in: offsets).map { $0 / 1000 }
            end = try number(offsets["to"], "to", in: offsets).map { $0 / 1000 }
        }
        guard let start, let end else { throw fail(item, "a segment needs \"start\" and \"end\" in seconds") }
        try checkedOrder(start, end, item)
        let text = try string(item["text"], "text") ?? ""
        return Transcript.Segment(
            start: start, end: end, text: Self.oneLine(text), speaker: try string(item["speaker"], "speaker"))
    }

    /// A word; one without times (WhisperX leaves numbers untimed) takes its segment's.
    func word(_ item: Node, segment: Transcript.Segment?) throws -> (Transcript.Word, line: Int) {
        guard let text = try string(item["word"] ?? item["text"], "word") else { throw fail(item, "a word needs \"word\"") }
        let start = try number(item["start"], "start", in: item) ?? segment?.start
        let end = try number(item["end"], "end", in: item) ?? segment?.end
        guard let start, let end else { throw fail(item, "the word \"\(text)\" has no \"start\" and \"end\"") }
        try checkedOrder(start, end, item)
        let speaker = try string(item["speaker"], "speaker") ?? segment?.speaker
        return (
            Transcript.Word(word: text.trimmingCharacters(in: .whitespacesAndNewlines), start: start, end: end, speaker: speaker),
            item.line
        )
    }

    /// A fal chunk: one word (word-level chunks) or a segment.
    func chunk(_ item: Node, next: Node?, into lined: inout Transcript.Lined) throws {
        let stamp = try array(item["timestamp"]!, "timestamp")
        guard stamp.count == 2, let start = try number(stamp[0], "timestamp", in: item) else {
            throw fail(item, "\"timestamp\" must be [start, end] in seconds")
        }
        var end = try number(stamp[1], "timestamp", in: item)
        if end == nil, let next, let nextStamp = next["timestamp"], case .array(let pair) = nextStamp.value,
            let first = pair.first
        {
            end = try number(first, "timestamp", in: next)
        }
        let end2 = max(start, end ?? audioDuration ?? start)
        try checkedOrder(start, end2, item)
        let text = try string(item["text"], "text") ?? ""
        let speaker = try string(item["speaker"], "speaker")
        let words = text.split(whereSeparator: \.isWhitespace)
        if words.count == 1 {
            lined.words.append((Transcript.Word(word: String(words[0]), start: start, end: end2, speaker: speaker), item.line))
        }
        lined.segments.append(
            (Transcript.Segment(start: start, end: end2, text: Self.oneLine(text), speaker: speaker), item.line))
    }

    /// Words grouped into segments that end after `.`, `?` or `!` or at a change of speaker.
    static func sentences(_ words: [(Transcript.Word, line: Int)]) -> [(Transcript.Segment, line: Int)] {
        var out: [(Transcript.Segment, line: Int)] = []
        var open: [(Transcript.Word, line: Int)] = []
        func close() {
            guard let first = open.first, let last = open.last else { return }
            let text = open.map(\.0.word).joined(separator: " ")
            out.append(
                (Transcript.Segment(start: first.0.start, end: last.0.end, text: text, speaker: first.0.speaker), first.line))
            open = []
        }
        for word in words {
            if let last = open.last, last.0.speaker != word.0.speaker { close() }
            open.append(word)
            if let end = word.0.word.last, ".?!".contains(end) { close() }
        }
        close()
        return out
    }

    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }
}

/// A JSON value and the line it starts on.
struct Node {
    indirect enum Value {
        case object([(String, Node)]), array([Node]), string(String), number(Double), bool(Bool), null
    }
    let value: Value
    let line: Int

    subscript(key: String) -> Node? {
        guard case .object(let members) = value else { return nil }
        return members.last { $0.0 == key }?.1
    }
}

/// A small JSON parser (RFC 8259) that keeps lines.
struct JSONParser {
    let bytes: [UInt8]
    let name: String
    var index = 0
    var line = 1

    init(bytes: [UInt8], name: String) {
        self.bytes = bytes
        self.name = name
    }

    mutating func document() throws -> Node {
        let root = try value(depth: 0)
        skipSpace()
        guard index == bytes.count else { throw fail("unexpected text after the JSON value") }
        return root
    }

    func fail(_ reason: String) -> TranscriptError { TranscriptError.malformed(file: name, line: line, reason) }

    mutating func skipSpace() {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) {
            if bytes[index] == 0x0A { line += 1 }
            index += 1
        }
    }

    mutating func expect(_ byte: UInt8) throws {
        skipSpace()
        guard index < bytes.count, bytes[index] == byte else {
            throw fail("expected \"\(Character(Unicode.Scalar(byte)))\" in the JSON")
        }
        index += 1
    }

    mutating func value(depth: Int) throws -> Node {
        skipSpace()
        guard depth < 64 else { throw fail("JSON nested too deeply") }
        guard index < bytes.count else { throw fail("the JSON ends too early") }
        let startLine = line
        switch bytes[index] {
        case UInt8(ascii: "{"):
            index += 1
            var members: [(String, Node)] = []
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
            } else {
                repeat {
                    skipSpace()
                    let key = try string()
                    try expect(UInt8(ascii: ":"))
                    members.append((key, try value(depth: depth + 1)))
                    skipSpace()
                } while try more(close: UInt8(ascii: "}"))
            }
            return Node(value: .object(members), line: startLine)
        case UInt8(ascii: "["):
            index += 1
            var items: [Node] = []
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
            } else {
                repeat {
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                } while try more(close: UInt8(ascii: "]"))
            }
            return Node(value: .array(items), line: startLine)
        case UInt8(ascii: "\""):
            return Node(value: .string(try string()), line: startLine)
        default:
            var end = index
            while end < bytes.count, !" \t\r\n,]}".utf8.contains(bytes[end]) { end += 1 }
            let word = String(decoding: bytes[index..<end], as: UTF8.self)
            index = end
            switch word {
            case "null": return Node(value: .null, line: startLine)
            case "true": return Node(value: .bool(true), line: startLine)
            case "false": return Node(value: .bool(false), line: startLine)
            default:
                guard let n = Double(word), word.first.map({ $0 == "-" || $0.isNumber }) == true else {
                    throw fail("\"\(word.prefix(30))\" is not a JSON value")
                }
                return Node(value: .number(n), line: startLine)
            }
        }
    }

    /// After a member or item: true at a comma, false at `close`.
    mutating func more(close: UInt8) throws -> Bool {
        guard index < bytes.count else { throw fail("the JSON ends too early") }
        index += 1
        switch bytes[index - 1] {
        case UInt8(ascii: ","): return true
        case close: return false
        default: throw fail("expected \",\" or \"\(Character(Unicode.Scalar(close)))\" in the JSON")
        }
    }

    mutating func string() throws -> String {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a JSON string") }
        index += 1
        var out: [UInt8] = []
        var pendingHigh: UInt32?
        while index < bytes.count {
            let b = bytes[index]
            index += 1
            if b == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
            if b == 0x0A { throw fail("a JSON string runs past the end of its line") }
            guard b == UInt8(ascii: "\\") else {
                out.append(b)
                continue
            }
            guard index < bytes.count else { break }
            let e = bytes[index]
            index += 1
            let simple: [UInt8: UInt8] = [
                UInt8(ascii: "\""): 0x22, UInt8(ascii: "\\"): 0x5C, UInt8(ascii: "/"): 0x2F, UInt8(ascii: "b"): 0x08,
                UInt8(ascii: "f"): 0x0C, UInt8(ascii: "n"): 0x0A, UInt8(ascii: "r"): 0x0D, UInt8(ascii: "t"): 0x09,
            ]
            if let s = simple[e] {
                out.append(s)
                continue
            }
            guard e == UInt8(ascii: "u"), index + 4 <= bytes.count,
                let code = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16)
            else { throw fail("a bad escape in a JSON string") }
            index += 4
            var scalar: Unicode.Scalar?
            if (0xD800..<0xDC00).contains(code) {
                pendingHigh = code
                continue
            } else if (0xDC00..<0xE000).contains(code), let high = pendingHigh {
                scalar = Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (code - 0xDC00))
            } else {
                scalar = Unicode.Scalar(code)
            }
            pendingHigh = nil
            out += Array(String(Character(scalar ?? "\u{FFFD}")).utf8)
        }
        throw fail("a JSON string is not closed")
    }
}
