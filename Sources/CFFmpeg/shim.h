// CFFmpeg: FFmpeg's headers plus what Swift cannot import from them.
// Only `static inline` functions and `static const` values here (no symbols are emitted).
#ifndef CFFMPEG_SHIM_H
#define CFFMPEG_SHIM_H

#include <errno.h>
#include <libavformat/avformat.h>
#include <libavformat/avio.h>
#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/avutil.h>
#include <libavutil/channel_layout.h>
#include <libavutil/display.h>
#include <libavutil/error.h>
#include <libavutil/imgutils.h>
#include <libavutil/mathematics.h>
#include <libavutil/mem.h>
#include <libavutil/opt.h>
#include <libavutil/samplefmt.h>
#include <libavutil/sha.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>

/// AVERROR(e): FFmpeg's negative errno. EAGAIN differs between Linux and macOS, so never hard-code it.
static inline int CFFmpeg_AVERROR(int e) { return AVERROR(e); }
static inline int CFFmpeg_AVERROR_EAGAIN(void) { return AVERROR(EAGAIN); }
static inline int CFFmpeg_AVERROR_ENOMEM(void) { return AVERROR(ENOMEM); }
static inline int CFFmpeg_AVERROR_EINVAL(void) { return AVERROR(EINVAL); }
static const int CFFmpeg_AVERROR_EOF = AVERROR_EOF;
static const int CFFmpeg_AVERROR_INVALIDDATA = AVERROR_INVALIDDATA;
static const int CFFmpeg_AVERROR_DECODER_NOT_FOUND = AVERROR_DECODER_NOT_FOUND;
static const int CFFmpeg_AVERROR_ENCODER_NOT_FOUND = AVERROR_ENCODER_NOT_FOUND;
static const int CFFmpeg_AVERROR_STREAM_NOT_FOUND = AVERROR_STREAM_NOT_FOUND;
static const int64_t CFFmpeg_AV_NOPTS_VALUE = AV_NOPTS_VALUE;

/// The display matrix a stream declares (9 int32_t: how to turn or mirror the picture for
/// display), or NULL when it has none. It moved into the codec parameters in FFmpeg 6.1.
static inline const int32_t *CFFmpeg_stream_display_matrix(const AVStream *stream) {
#if LIBAVCODEC_VERSION_MAJOR > 60 || (LIBAVCODEC_VERSION_MAJOR == 60 && LIBAVCODEC_VERSION_MINOR >= 31)
    const AVPacketSideData *sd = av_packet_side_data_get(
        stream->codecpar->coded_side_data, stream->codecpar->nb_coded_side_data, AV_PKT_DATA_DISPLAYMATRIX);
    return (sd != NULL && sd->size >= 9 * sizeof(int32_t)) ? (const int32_t *)sd->data : NULL;
#else
    size_t size = 0;
    const uint8_t *data = av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, &size);
    return (data != NULL && size >= 9 * sizeof(int32_t)) ? (const int32_t *)data : NULL;
#endif
}

/// Whether a decoded frame is a key frame (the field moved into `flags` in FFmpeg 6.1).
static inline int CFFmpeg_frame_is_key(const AVFrame *frame) {
#if LIBAVUTIL_VERSION_MAJOR > 58 || (LIBAVUTIL_VERSION_MAJOR == 58 && LIBAVUTIL_VERSION_MINOR >= 29)
    return (frame->flags & AV_FRAME_FLAG_KEY) != 0;
#else
    return frame->key_frame != 0;
#endif
}

/// Marks a frame to be encoded as a key frame (or not), across FFmpeg versions.
static inline void CFFmpeg_frame_set_key(AVFrame *frame, int key) {
    frame->pict_type = key ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
#if LIBAVUTIL_VERSION_MAJOR > 58 || (LIBAVUTIL_VERSION_MAJOR == 58 && LIBAVUTIL_VERSION_MINOR >= 29)
    if (key) frame->flags |= AV_FRAME_FLAG_KEY; else frame->flags &= ~AV_FRAME_FLAG_KEY;
#else
    frame->key_frame = key;
#endif
}

/// The AVFMT_GLOBALHEADER test on an output format.
static inline int CFFmpeg_oformat_wants_global_header(const AVFormatContext *ctx) {
    return ctx->oformat && (ctx->oformat->flags & AVFMT_GLOBALHEADER) != 0;
}

/// Whether an output format writes to no file of its own (AVFMT_NOFILE).
static inline int CFFmpeg_oformat_is_nofile(const AVFormatContext *ctx) {
    return ctx->oformat && (ctx->oformat->flags & AVFMT_NOFILE) != 0;
}

/// AV_CODEC_FLAG_GLOBAL_HEADER is a shifted constant; set it from C.
static inline void CFFmpeg_codec_set_global_header(AVCodecContext *ctx) {
    ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
}

/// Whether an encoder accepts frames of any size (AV_CODEC_CAP_VARIABLE_FRAME_SIZE).
static inline int CFFmpeg_codec_variable_frame_size(const AVCodec *codec) {
    return (codec->capabilities & AV_CODEC_CAP_VARIABLE_FRAME_SIZE) != 0;
}

static inline int CFFmpeg_packet_is_key(const AVPacket *pkt) { return (pkt->flags & AV_PKT_FLAG_KEY) != 0; }

#endif
