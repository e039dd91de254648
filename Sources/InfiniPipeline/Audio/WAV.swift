// InfiniPipeline: 16-bit PCM WAV files, the audio the model is sent.

import Foundation

/// Minimal 16-bit PCM WAV writing.
enum WAV {
    /// The 44-byte RIFF/WAVE header for `frames` sample frames of 16-bit PCM.
    static func header(sampleRate: Int, channels: Int, frames: Int) -> Data {
        let dataBytes = frames * channels * 2
        var d = Data()
        func u32(_ v: Int) { var x = UInt32(truncatingIfNeeded: v).littleEndian; d.append(Data(bytes: &x, count: 4)) }
        func u16(_ v: Int) { var x = UInt16(truncatingIfNeeded: v).littleEndian; d.append(Data(bytes: &x, count: 2)) }
        d.append(contentsOf: Array("RIFF".utf8)); u32(36 + dataBytes)
        d.append(contentsOf: Array("WAVE".utf8))
        d.append(contentsOf: Array("fmt ".utf8)); u32(16); u16(1); u16(channels); u32(sampleRate)
        u32(sampleRate * channels * 2); u16(channels * 2); u16(16)
        d.append(contentsOf: Array("data".utf8)); u32(dataBytes)
        return d
    }

    /// Appends float samples as little-endian signed 16-bit, rounded and clipped.
    static func appendPCM16(_ samples: UnsafeBufferPointer<Float>, to bytes: inout [UInt8]) {
        bytes.reserveCapacity(bytes.count + samples.count * 2)
        for s in samples {
            let v = Int16(max(-32768, min(32767, (s * 32768).rounded())))
            let u = UInt16(bitPattern: v)
            bytes.append(UInt8(u & 0xFF))
            bytes.append(UInt8(u >> 8))
        }
    }

    /// A whole WAV file in memory.
    static func file(_ samples: [Float], sampleRate: Int, channels: Int) -> Data {
        var d = header(sampleRate: sampleRate, channels: channels, frames: samples.count / channels)
        var bytes: [UInt8] = []
        samples.withUnsafeBufferPointer { appendPCM16($0, to: &bytes) }
        d.append(contentsOf: bytes)
        return d
    }
}
