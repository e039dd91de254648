import CFFmpeg
import Foundation

/// 3GPP timed text (`mov_text`, `tx3g`), the soft subtitles MP4 players show or hide: the
/// sample description a track declares, one sample per cue, ISO 639-2 language tags, and
/// reading a track back.
package enum MovText {
    /// Subtitle timestamps are milliseconds.
    static let timeBase = AVRational(num: 1, den: 1000)

    /// The text sample entry after its box header (what FFmpeg's own encoder declares): no
    /// display flags, centred at the bottom, a transparent background, white sans-serif text.
    static let sampleEntry: [UInt8] = {
        let font = Array("Sans-Serif".utf8)
        var bytes: [UInt8] = [0, 0, 0, 0, 0x01, 0xFF, 0, 0, 0, 0]  // flags, centred, bottom, background
        bytes += [UInt8](repeating: 0, count: 8)  // the text box: the whole track
        bytes += [0, 0, 0, 0, 0, 1, 0, 0x12, 0xFF, 0xFF, 0xFF, 0xFF]  // style: font 1, plain, 18, white
        let ftabSize = 8 + 2 + 2 + 1 + font.count
        bytes += [0, 0, UInt8(ftabSize >> 8), UInt8(ftabSize & 0xFF)] + Array("ftab".utf8) + [0, 1, 0, 1, UInt8(font.count)]
        return bytes + font
    }()

    /// One cue's sample: the UTF-8 text's length (16 bits, big-endian), then the text.
    static func sample(_ text: String) -> [UInt8] {
        var utf8 = Array(text.utf8)
        if utf8.count > Int(UInt16.max) { utf8 = Array(utf8.prefix(Int(UInt16.max))) }
        return [UInt8(utf8.count >> 8), UInt8(utf8.count & 0xFF)] + utf8
    }

    /// `seconds` in whole milliseconds (rounded; never negative).
    static func milliseconds(_ seconds: Double) -> Int64 { Int64((max(0, seconds) * 1000).rounded()) }

    /// ISO 639-1 codes (as Whisper reports languages) and their ISO 639-2 (bibliographic)
    /// forms, which MP4 language tags use.
    private static let iso639_2: [String: String] = [
        "ar": "ara", "bg": "bul", "ca": "cat", "cs": "cze", "cy": "wel", "da": "dan", "de": "ger", "el": "gre",
        "en": "eng", "es": "spa", "et": "est", "eu": "baq", "fa": "per", "fi": "fin", "fr": "fre", "ga": "gle",
        "gl": "glg", "he": "heb", "hi": "hin", "hr": "hrv", "hu": "hun", "id": "ind", "is": "ice", "it": "ita",
        "ja": "jpn", "ko": "kor", "lt": "lit", "lv": "lav", "ms": "may", "nl": "dut", "no": "nor", "pl": "pol",
        "pt": "por", "ro": "rum", "ru": "rus", "sk": "slo", "sl": "slv", "sr": "srp", "sv": "swe", "th": "tha",
        "tl": "tgl", "tr": "tur", "uk": "ukr", "ur": "urd", "vi": "vie", "zh": "chi",
    ]

    /// The MP4 language tag for `code`: a three-letter code as given (lowercased), a
    /// two-letter one translated, `und` for anything else or nothing.
    package static func languageTag(_ code: String?) -> String {
        guard let code = code?.lowercased().split(separator: "-").first.map(String.init) else { return "und" }
        if code.count == 3, code.allSatisfy({ ("a"..."z").contains($0) }) { return code }
        return iso639_2[code] ?? "und"
    }

    /// One cue read back from a file.
    package struct Cue: Sendable, Equatable {
        package var start: Double
        package var end: Double
        package var text: String
    }

    /// The first subtitle track of `path`: its codec's name, its language tag and its cues (the
    /// empty samples that fill the gaps between cues left out).
    /// - Throws: `MediaError` when the file cannot be read or has no subtitle track.
    package static func readTrack(path: String) throws -> (codec: String, language: String?, cues: [Cue]) {
        let demuxer = try Demuxer(path: path)
        guard let info = demuxer.streams.first(where: { $0.kind == .subtitle }) else {
            throw MediaError(.noStream, file: path, "has no subtitle track")
        }
        let stream = demuxer.avStream(info.index)
        let language = av_dict_get(stream.pointee.metadata, "language", nil, 0).map { String(cString: $0.pointee.value) }
        let tb = stream.pointee.time_base
        let seconds = { (t: Int64) in Double(t) * Double(tb.num) / Double(tb.den) }
        var cues: [Cue] = []
        let packet = try Packet()
        while try demuxer.read(into: packet) {
            let p = packet.pointer.pointee
            guard Int(p.stream_index) == info.index, p.size >= 2, let data = p.data else { continue }
            let length = min(Int(data[0]) << 8 | Int(data[1]), Int(p.size) - 2)
            guard length > 0 else { continue }
            let text = String(decoding: UnsafeBufferPointer(start: data + 2, count: length), as: UTF8.self)
            let start = seconds(p.pts == FFmpeg.noPTS ? p.dts : p.pts)
            cues.append(Cue(start: start, end: start + seconds(p.duration), text: text))
        }
        return (info.codecName, language, cues)
    }
}
