import CFFmpeg

/// The visible bytes of one plane of a picture: `rows` rows of `bytesPerRow` bytes.
struct PlaneSize: Equatable {
    /// Visible bytes in one row (a frame's `linesize` may be wider: padding).
    var bytesPerRow: Int
    /// Rows in the plane.
    var rows: Int
    /// The plane's visible bytes, tightly packed.
    var byteCount: Int { bytesPerRow * rows }

    /// The visible size of every plane of a `width`×`height` picture in `format`, as FFmpeg
    /// computes it (chroma planes of subsampled formats rounded up: a 5×5 yuv420p picture has
    /// 3×3 chroma planes). Empty for a format FFmpeg does not describe (hardware frames).
    static func planes(of format: AVPixelFormat, width: Int, height: Int) -> [PlaneSize] {
        guard width > 0, height > 0, let descriptor = av_pix_fmt_desc_get(format) else { return [] }
        let count = Int(av_pix_fmt_count_planes(format))
        guard count > 0 else { return [] }
        var sizes: [PlaneSize] = []
        for plane in 0..<count {
            let bytes = Int(av_image_get_linesize(format, Int32(width), Int32(plane)))
            guard bytes > 0 else { return [] }
            // Planes 1 and 2 are the chroma planes (as in av_image_copy).
            let rows = plane == 1 || plane == 2 ? -((-height) >> Int(descriptor.pointee.log2_chroma_h)) : height
            sizes.append(PlaneSize(bytesPerRow: bytes, rows: rows))
        }
        return sizes
    }
}

/// An AVFrame's plane pointers and line sizes as the C arrays FFmpeg's functions take
/// (`uint8_t *data[8]`, `int linesize[8]`), with the visible size of each plane: the one walk
/// over a frame's planes, for libswscale, plane copies, hashes and blends. Valid only inside
/// ``with(_:_:)`` (or ``Frame/withPlanes(_:)``).
struct FramePlanes {
    /// One pointer per plane (`AVFrame.data`).
    let data: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>
    /// Bytes from one row of a plane to the next (`AVFrame.linesize`).
    let linesize: UnsafeMutablePointer<Int32>
    /// The visible size of each plane; empty when the frame's format is not described or a
    /// plane has no buffer.
    let sizes: [PlaneSize]

    /// `data` in the form libswscale takes as its source.
    var source: UnsafePointer<UnsafePointer<UInt8>?> {
        UnsafeRawPointer(data).assumingMemoryBound(to: UnsafePointer<UInt8>?.self)
    }

    /// The visible bytes of row `y` of `plane` (`plane < sizes.count`, `y < sizes[plane].rows`).
    func row(_ y: Int, of plane: Int) -> UnsafeMutableBufferPointer<UInt8> {
        UnsafeMutableBufferPointer(start: data[plane]! + y * Int(linesize[plane]), count: sizes[plane].bytesPerRow)
    }

    /// Calls `body` with the planes of `frame`.
    static func with<R>(_ frame: UnsafeMutablePointer<AVFrame>, _ body: (FramePlanes) throws -> R) rethrows -> R {
        let f = frame.pointee
        var sizes = PlaneSize.planes(of: AVPixelFormat(rawValue: f.format), width: Int(f.width), height: Int(f.height))
        return try withUnsafeMutablePointer(to: &frame.pointee.data) { dataTuple in
            try withUnsafeMutablePointer(to: &frame.pointee.linesize) { linesizeTuple in
                let data = UnsafeMutableRawPointer(dataTuple).assumingMemoryBound(to: UnsafeMutablePointer<UInt8>?.self)
                let linesize = UnsafeMutableRawPointer(linesizeTuple).assumingMemoryBound(to: Int32.self)
                if sizes.indices.contains(where: { data[$0] == nil }) { sizes = [] }
                return try body(FramePlanes(data: data, linesize: linesize, sizes: sizes))
            }
        }
    }
}

extension Frame {
    /// Calls `body` with this frame's planes (see ``FramePlanes``).
    func withPlanes<R>(_ body: (FramePlanes) throws -> R) rethrows -> R {
        try FramePlanes.with(pointer, body)
    }
}
