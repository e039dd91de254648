// CMediaShims: the C that Swift cannot or must not write itself.
//  - libjpeg reports fatal errors through error_exit, which by default calls exit(); ours
//    longjmp()s back to a setjmp in these functions and returns an error code instead.
//  - FFmpeg's log callback receives a va_list; ours formats the line in C and hands Swift a
//    finished string.
//  - libpng's regular API reports errors by longjmp() too, and is told here which chunks to
//    skip; its simplified API (for writing) needs PNG_IMAGE_* macros Swift does not import.
//  - fontconfig: which font burned captions will be drawn with (checked before drawing).
// Every function returns 0 on success and a negative value on failure, with a message in `err`.
#ifndef CMEDIASHIMS_H
#define CMEDIASHIMS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// What the header readers return when the data ends before the header does: a prefix of a
/// file was given, and more of it may hold the rest.
#define CMEDIASHIMS_NEED_MORE_DATA (-2)

// MARK: - FFmpeg logging

/// Receives one formatted FFmpeg log line. Called from any thread, possibly concurrently.
typedef void (*CMediaShims_log_handler)(int level, const char *_Nonnull line);

/// Routes FFmpeg's log through `handler` for messages at or below `max_level` (AV_LOG_*).
/// A NULL handler silences FFmpeg. Safe to call at any time from any thread.
void CMediaShims_ffmpeg_log_install(int max_level, CMediaShims_log_handler _Nullable handler);

// MARK: - JPEG

typedef struct {
    int width;
    int height;
    /// Components the decoder outputs: 1 (gray) or 3 (RGB); CMYK/YCCK are converted to RGB.
    int output_components;
    /// The file's own colour space (J_COLOR_SPACE value) and component count.
    int jpeg_color_space;
    int num_components;
    int progressive;
} CMediaShims_jpeg_info;

/// Reads only the JPEG header (the markers up to the first scan): size and colour space, no
/// pixels decoded. Returns CMEDIASHIMS_NEED_MORE_DATA if `data` ends inside the header.
int CMediaShims_jpeg_read_header(const uint8_t *_Nonnull data, size_t size,
                                 CMediaShims_jpeg_info *_Nonnull info,
                                 char *_Nonnull err, size_t err_size);

/// Decodes a whole JPEG into `out` (width * height * output_components bytes, rows packed),
/// shrunk by 1/`scale_denom` (1, 2, 4 or 8) in the DCT domain; `info` then holds the decoded
/// size, ceil(size / scale_denom). A file that ends early is an error, not a gray-filled picture,
/// and so is any corrupt-data warning from libjpeg that means lost or invented pixels (bad
/// Huffman code, a marker inside the data, a missing restart marker, more than 16 bytes
/// skipped before a marker after a scan...). Tolerated: bytes skipped between header markers,
/// up to 16 skipped before a marker after a scan (encoder padding, e.g. before EOI), unknown
/// JFIF/Adobe version fields, odd SOS bytes in a baseline file. libjpeg-turbo does not report
/// every damaged byte (its fast Huffman path decodes a bad code silently), so some damage
/// still decodes.
int CMediaShims_jpeg_decode(const uint8_t *_Nonnull data, size_t size, int scale_denom,
                            uint8_t *_Nonnull out, size_t out_size,
                            CMediaShims_jpeg_info *_Nonnull info,
                            char *_Nonnull err, size_t err_size);

/// Encodes packed 8-bit pixels (components 1 or 3) as a baseline JPEG with no metadata.
/// On success `*out` holds `*out_size` bytes allocated with malloc: release with CMediaShims_free.
int CMediaShims_jpeg_encode(const uint8_t *_Nonnull pixels, int width, int height, int components,
                            int quality, uint8_t *_Nullable *_Nonnull out, size_t *_Nonnull out_size,
                            char *_Nonnull err, size_t err_size);

// MARK: - PNG

typedef struct {
    int width;
    int height;
    int has_alpha;
    int has_color;
    int is_16bit;
    int is_palette;
} CMediaShims_png_info;

/// Reads only the PNG header (the chunks before the first IDAT): size and format, no pixels
/// decoded and no ancillary chunk decompressed. Returns CMEDIASHIMS_NEED_MORE_DATA if `data`
/// ends before the first IDAT.
int CMediaShims_png_read_header(const uint8_t *_Nonnull data, size_t size,
                                CMediaShims_png_info *_Nonnull info,
                                char *_Nonnull err, size_t err_size);

/// Decodes a PNG to 8-bit sRGB with `channels` = 1 (gray), 3 (RGB) or 4 (RGBA) per pixel:
/// 1 only for a gray file without transparency, 3 for any file without it, 4 for any file.
/// Samples are taken as sRGB unless gAMA/sRGB say otherwise (16-bit ones too). Only the
/// critical chunks, tRNS, gAMA, cHRM and sRGB are read: text, ICC profiles, EXIF and unknown
/// chunks are skipped without being decompressed.
int CMediaShims_png_decode(const uint8_t *_Nonnull data, size_t size, int channels,
                           uint8_t *_Nonnull out, size_t out_size,
                           char *_Nonnull err, size_t err_size);

/// Encodes packed 8-bit pixels (channels 1, 3 or 4) as PNG with no metadata.
/// On success `*out` is malloc'ed: release with CMediaShims_free.
int CMediaShims_png_encode(const uint8_t *_Nonnull pixels, int width, int height, int channels,
                           uint8_t *_Nullable *_Nonnull out, size_t *_Nonnull out_size,
                           char *_Nonnull err, size_t err_size);

// MARK: - Fonts

/// The font fontconfig matches for `pattern` (e.g. "sans-serif:bold"), as libass would find it:
/// its family name and file. Fails (-1, with a message in `err`) when fontconfig has no font at
/// all or the one it matches cannot be read. Uses a configuration of its own, freed before it
/// returns (FONTCONFIG_FILE and the system's files, as they are now).
int CMediaShims_font_match(const char *_Nonnull pattern, char *_Nonnull family, size_t family_size,
                           char *_Nonnull file, size_t file_size, char *_Nonnull err, size_t err_size);

/// Frees memory returned by this module.
void CMediaShims_free(void *_Nullable p);

#ifdef __cplusplus
}
#endif
#endif
