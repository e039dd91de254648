import CFFmpeg
import Foundation

/// Draws an ASS script into frames, in process: a libavfilter graph `buffer → ass → buffersink`
/// (libass renders the script; fonts come from fontconfig). Owns its filter graph, freed once,
/// in deinit (every filter in it with it). Used on one thread; never shared between tasks.
///
/// A frame goes in with its index on the output's timeline (25 fps) and comes out with the
/// captions of that instant drawn on it. The `ass` filter writes into a frame of its own when
/// the one given shares its pixels (a padded clip's repeated frame, the previous frame a seam
/// blends toward): what the decoding side still holds is never drawn on.
final class CaptionBurner {
    private var graph: UnsafeMutablePointer<AVFilterGraph>?
    private var source: UnsafeMutablePointer<AVFilterContext>? = nil
    private var sink: UnsafeMutablePointer<AVFilterContext>? = nil
    /// The frames' size and pixel format the graph was configured for.
    let width: Int
    let height: Int
    let format: Int32

    /// A graph for `width`×`height` frames of `format`, drawing the ASS script in the file `scriptFile`.
    /// - Throws: `MediaError` when libavfilter has no `ass` filter or refuses the script.
    init(scriptFile: String, width: Int, height: Int, format: Int32 = AV_PIX_FMT_YUV420P.rawValue) throws {
        self.width = width
        self.height = height
        self.format = format
        graph = avfilter_graph_alloc()
        // Every stored property is set: from here a throw runs deinit, which frees the graph.
        guard let graph else { throw MediaError(.outOfMemory, file: nil, "out of memory allocating a filter graph") }
        func failed(_ what: String, _ rc: Int32) -> MediaError {
            MediaError.ffmpeg(.encodeFailed, file: scriptFile, "cannot set up the captions' filter graph (\(what))", rc)
        }
        guard let buffer = avfilter_get_by_name("buffer"), let ass = avfilter_get_by_name("ass"),
            let bufferSink = avfilter_get_by_name("buffersink")
        else {
            throw MediaError(.unsupported, file: nil, "this FFmpeg's libavfilter has no ass filter (built without libass)")
        }
        let args = "video_size=\(width)x\(height):pix_fmt=\(format):time_base=1/\(ModelLimits.fps):pixel_aspect=1/1"
        var rc = avfilter_graph_create_filter(&source, buffer, "frames", args, nil, graph)
        if rc < 0 { throw failed("buffer", rc) }
        rc = avfilter_graph_create_filter(&sink, bufferSink, "burned", nil, nil, graph)
        if rc < 0 { throw failed("buffersink", rc) }
        // The script's path is set as an option, never parsed out of a filter description, so no
        // character in it needs escaping.
        guard let captions = avfilter_graph_alloc_filter(graph, ass, "captions") else {
            throw failed("ass", CFFmpeg_AVERROR_ENOMEM())
        }
        rc = av_opt_set(captions, "filename", scriptFile, Int32(AV_OPT_SEARCH_CHILDREN))
        if rc < 0 { throw failed("ass filename", rc) }
        rc = avfilter_init_str(captions, nil)
        if rc < 0 { throw failed("ass: libass cannot read the script", rc) }
        rc = avfilter_link(source, 0, captions, 0)
        if rc >= 0 { rc = avfilter_link(captions, 0, sink, 0) }
        if rc < 0 { throw failed("links", rc) }
        rc = avfilter_graph_config(graph, nil)
        if rc < 0 { throw failed("configuration", rc) }
    }

    deinit {
        avfilter_graph_free(&graph)
    }

    /// Whether `frame` is of the size and pixel format this graph takes.
    func takes(_ frame: Frame) -> Bool {
        let f = frame.pointer.pointee
        return Int(f.width) == width && Int(f.height) == height && f.format == format
    }

    /// The picture of `frame` with the captions of output frame `index` drawn on it, as a new
    /// frame. `frame` is emptied: its reference to the pixels moves into the graph (which draws
    /// on a copy when the pixels are shared).
    func burn(_ frame: Frame, index: Int64) throws -> Frame {
        frame.pointer.pointee.pts = index
        var rc = av_buffersrc_add_frame_flags(source, frame.pointer, 0)
        if rc < 0 { throw MediaError.ffmpeg(.encodeFailed, file: nil, "cannot pass frame \(index) to the captions' filter", rc) }
        let out = try Frame()
        rc = av_buffersink_get_frame(sink, out.pointer)
        if rc < 0 { throw MediaError.ffmpeg(.encodeFailed, file: nil, "cannot draw the captions on frame \(index)", rc) }
        return out
    }
}

extension CaptionBurner {
    /// `burner` when it takes `frame`, else a new one for `frame`'s size and pixel format.
    static func reusing(_ burner: CaptionBurner?, for frame: Frame, scriptFile: String) throws -> CaptionBurner {
        if let burner, burner.takes(frame) { return burner }
        let f = frame.pointer.pointee
        return try CaptionBurner(scriptFile: scriptFile, width: Int(f.width), height: Int(f.height), format: f.format)
    }
}

extension Stitcher {
    /// Writes the ASS script of `captions` for `width`×`height` frames to a temporary file beside
    /// `output` (named with the process id, so that a later stitch removes what a killed one
    /// left) and returns its path.
    static func writeCaptionScript(_ captions: StitchOptions.BurnedCaptions, width: Int, height: Int, output: String) throws
        -> String
    {
        let script = try CaptionScript.make(captions, width: width, height: height)
        let directory = URL(fileURLWithPath: output).deletingLastPathComponent()
        let prefix = ".\(URL(fileURLWithPath: output).lastPathComponent).captions-"
        AtomicFile.removeLeftovers(in: directory.path, prefixes: [prefix])
        let path = directory.appendingPathComponent("\(prefix)\(getpid()).ass").path
        do {
            try Data(script.utf8).write(to: URL(fileURLWithPath: path))
        } catch {
            throw MediaError(.writeFailed, file: path, "cannot write the captions' script (\(error.localizedDescription))")
        }
        return path
    }
}
