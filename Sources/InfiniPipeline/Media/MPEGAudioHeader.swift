/// The 4-byte header of an MPEG-1/2/2.5 audio frame (Layer I, II or III), which says how long
/// the frame is. FFmpeg's MP3 demuxer hands over whatever bytes remain as the last packet, so
/// a file cut inside its last frame is recognised by comparing that packet with this length.
struct MPEGAudioHeader: Equatable {
    /// The frame's length in bytes, header included.
    let frameLength: Int

    /// Parses a frame header; nil when `bytes` does not start with a valid one (or uses the
    /// free-format bit rate, whose length the header does not give).
    init?(_ bytes: some Collection<UInt8>) {
        let b = Array(bytes.prefix(4))
        guard b.count == 4, b[0] == 0xFF, b[1] & 0xE0 == 0xE0 else { return nil }
        let version = Int(b[1] >> 3) & 3  // 0: MPEG-2.5, 2: MPEG-2, 3: MPEG-1
        let layer = 4 - (Int(b[1] >> 1) & 3)  // 1, 2 or 3 (4 is reserved)
        let bitRateIndex = Int(b[2] >> 4)
        let rateIndex = Int(b[2] >> 2) & 3
        let padding = Int(b[2] >> 1) & 1
        guard version != 1, layer <= 3, bitRateIndex != 0, bitRateIndex != 15, rateIndex != 3 else { return nil }
        let mpeg1 = version == 3
        let kbps: [Int]
        switch (mpeg1, layer) {
        case (true, 1): kbps = [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448]
        case (true, 2): kbps = [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384]
        case (true, _): kbps = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]
        case (false, 1): kbps = [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256]
        case (false, _): kbps = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]
        }
        let baseRates = [44_100, 48_000, 32_000]
        let sampleRate = baseRates[rateIndex] / (mpeg1 ? 1 : version == 2 ? 2 : 4)
        let bitRate = kbps[bitRateIndex] * 1000
        switch layer {
        case 1: frameLength = (12 * bitRate / sampleRate + padding) * 4
        case 3 where !mpeg1: frameLength = 72 * bitRate / sampleRate + padding
        default: frameLength = 144 * bitRate / sampleRate + padding
        }
    }
}
