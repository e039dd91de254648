// libpng. Reading uses the regular API so that it can be told which chunks to look at:
// ancillary chunks we do not use (zTXt, iTXt, tEXt, iCCP, eXIf, unknown ones...) are skipped
// without being decompressed, so a file full of compressed text cannot make a header read
// or a decode slow. libpng's errors longjmp() back to a setjmp in the function that called it
// (never across Swift frames) and come back as text. Writing uses the simplified API, which
// reports errors in png_image.message. Nothing here calls exit().
#include "CMediaShims.h"
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <png.h>

// MARK: - Reading

/* Where libpng reads from, and where its error message goes. */
typedef struct {
    const uint8_t *data;
    size_t size;
    size_t offset;
    int ran_out;  // the data ended where libpng wanted more
    char *err;
    size_t err_size;
} cms_png_source;

static void cms_png_error_fn(png_structp png, png_const_charp message) {
    cms_png_source *source = (cms_png_source *)png_get_error_ptr(png);
    snprintf(source->err, source->err_size, "%s", message && message[0] ? message : "invalid PNG data");
    png_longjmp(png, 1);  // to the setjmp(png_jmpbuf(png)) in the caller of libpng
}

/* Warnings (including benign errors, see below) are not failures: the decode goes on. */
static void cms_png_warning_fn(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

static void cms_png_read_fn(png_structp png, png_bytep out, size_t count) {
    cms_png_source *source = (cms_png_source *)png_get_io_ptr(png);
    if (count > source->size - source->offset) {
        source->ran_out = 1;
        png_error(png, "the PNG data ends early (truncated file)");
    }
    memcpy(out, source->data + source->offset, count);
    source->offset += count;
}

/* Reads from `source` and looks only at the chunks that decoding needs: the critical ones,
 * tRNS (transparency), and gAMA, cHRM and sRGB (how the samples are encoded, for the
 * conversion to 8-bit sRGB). Every other chunk is skipped: read to check its CRC, never
 * decompressed or kept. */
static void cms_png_configure(png_structp png, cms_png_source *source) {
    static const png_byte used[] = "gAMA\0cHRM\0sRGB";  // 5 bytes per name, NUL included
    png_set_read_fn(png, source, cms_png_read_fn);
    // As the simplified API did: recoverable problems (a bad CRC on an ancillary chunk, an
    // over-long chunk we skip anyway...) are warnings.
    png_set_benign_errors(png, 1);
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_AS_DEFAULT, used, 3);
    // Second line of defence should a chunk that allocates ever be handled again: at most
    // 32 stored ancillary chunks and 1 MiB for any one of them (libpng's defaults are 1000
    // and 8 MB). Width and height stay at libpng's limit of a million each; the caller
    // limits their product.
    png_set_chunk_cache_max(png, 32);
    png_set_chunk_malloc_max(png, 1u << 20);
}

/* png_create_read_struct + png_create_info_struct, or NULL and a message. */
static png_structp cms_png_create(cms_png_source *source, png_infop *info) {
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, source, cms_png_error_fn, cms_png_warning_fn);
    *info = png ? png_create_info_struct(png) : NULL;
    if (!*info) {
        if (png) png_destroy_read_struct(&png, NULL, NULL);
        snprintf(source->err, source->err_size, "out of memory");
        return NULL;
    }
    return png;
}

static int cms_png_check_signature(const uint8_t *data, size_t size, char *err, size_t err_size) {
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
        snprintf(err, err_size, "not a PNG file (bad signature)");
        return -1;
    }
    return 0;
}

static void cms_png_fill_info(png_structp png, png_infop info, CMediaShims_png_info *out) {
    int color_type = png_get_color_type(png, info);
    int num_trans = 0;
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_get_tRNS(png, info, NULL, &num_trans, NULL);
    out->width = (int)png_get_image_width(png, info);
    out->height = (int)png_get_image_height(png, info);
    out->has_alpha = (color_type & PNG_COLOR_MASK_ALPHA) != 0 || num_trans > 0;
    out->has_color = (color_type & PNG_COLOR_MASK_COLOR) != 0;
    out->is_16bit = png_get_bit_depth(png, info) == 16;
    out->is_palette = color_type == PNG_COLOR_TYPE_PALETTE;
}

int CMediaShims_png_read_header(const uint8_t *data, size_t size, CMediaShims_png_info *info,
                                char *err, size_t err_size) {
    cms_png_source source = {data, size, 0, 0, err, err_size};
    png_infop png_info;
    if (cms_png_check_signature(data, size, err, err_size) != 0) return -1;
    png_structp png = cms_png_create(&source, &png_info);
    if (!png) return -1;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &png_info, NULL);
        return source.ran_out ? CMEDIASHIMS_NEED_MORE_DATA : -1;
    }
    cms_png_configure(png, &source);
    png_read_info(png, png_info);  // up to the first IDAT's length and type
    cms_png_fill_info(png, png_info, info);
    png_destroy_read_struct(&png, &png_info, NULL);
    return 0;
}

int CMediaShims_png_decode(const uint8_t *data, size_t size, int channels, uint8_t *out, size_t out_size,
                           char *err, size_t err_size) {
    cms_png_source source = {data, size, 0, 0, err, err_size};
    png_infop png_info;
    if (channels != 1 && channels != 3 && channels != 4) {
        snprintf(err, err_size, "unsupported channel count %d", channels);
        return -1;
    }
    if (cms_png_check_signature(data, size, err, err_size) != 0) return -1;
    png_structp png = cms_png_create(&source, &png_info);
    if (!png) return -1;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &png_info, NULL);
        return -1;
    }
    cms_png_configure(png, &source);
    png_read_info(png, png_info);
    CMediaShims_png_info header;
    cms_png_fill_info(png, png_info, &header);
    int want_color = channels >= 3, want_alpha = channels == 4;
    // Colour to gray and dropping alpha need a policy (weights, a background): not offered.
    if (header.has_color && !want_color) png_error(png, "cannot decode a colour PNG to gray");
    if (header.has_alpha && !want_alpha) png_error(png, "cannot decode a PNG with alpha without its alpha channel");
    size_t row_bytes = (size_t)header.width * (size_t)channels;
    if (header.height > 0 && out_size / (size_t)header.height < row_bytes) png_error(png, "output buffer too small");

    // The transformations the simplified API made for 8-bit output, in its order: palette,
    // low-bit gray and tRNS expanded to 8-bit channels (and alpha); gray to RGB if asked; the
    // samples converted from the file's gamma (gAMA/sRGB; sRGB when it has none) to sRGB;
    // 16-bit samples scaled (rounded) to 8; an opaque alpha channel added if asked.
    png_set_expand(png);
    if (want_color && !header.has_color) png_set_gray_to_rgb(png);
    png_set_alpha_mode_fixed(png, PNG_ALPHA_PNG, PNG_DEFAULT_sRGB);  // the file's gamma when it has none
    if (header.is_16bit) png_set_scale_16(png);
    if (want_alpha && !header.has_alpha) png_set_add_alpha(png, 0xff, PNG_FILLER_AFTER);
    png_set_alpha_mode_fixed(png, PNG_ALPHA_PNG, PNG_DEFAULT_sRGB);  // the output gamma
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, png_info);
    if (png_get_bit_depth(png, png_info) != 8 || png_get_channels(png, png_info) != channels
        || png_get_rowbytes(png, png_info) != row_bytes)
        png_error(png, "unexpected PNG row format after conversion");
    // Interlaced images come in 7 passes over the same rows; png_read_row merges each pass
    // into the row already there.
    for (int pass = 0; pass < passes; pass++) {
        for (size_t y = 0; y < (size_t)header.height; y++) png_read_row(png, out + y * row_bytes, NULL);
    }
    // The chunks after the image data (and IEND) are not read: nothing there is used.
    png_destroy_read_struct(&png, &png_info, NULL);
    return 0;
}

// MARK: - Writing

static int cms_png_fail(png_image *image, const char *fallback, char *err, size_t err_size) {
    snprintf(err, err_size, "%s", image->message[0] ? image->message : fallback);
    png_image_free(image);
    return -1;
}

int CMediaShims_png_encode(const uint8_t *pixels, int width, int height, int channels,
                           uint8_t **out, size_t *out_size, char *err, size_t err_size) {
    png_image image;
    *out = NULL;
    *out_size = 0;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = (png_uint_32)width;
    image.height = (png_uint_32)height;
    switch (channels) {
    case 1: image.format = PNG_FORMAT_GRAY; break;
    case 3: image.format = PNG_FORMAT_RGB; break;
    case 4: image.format = PNG_FORMAT_RGBA; break;
    default:
        snprintf(err, err_size, "unsupported channel count %d", channels);
        return -1;
    }
    // Fast zlib settings (uploads and caches, not archives), and one pass into a buffer of the
    // worst-case size instead of compressing twice to learn the size first.
    image.flags |= PNG_IMAGE_FLAG_FAST;
    png_alloc_size_t needed = PNG_IMAGE_PNG_SIZE_MAX(image);
    uint8_t *buffer = malloc(needed);
    if (!buffer) { png_image_free(&image); snprintf(err, err_size, "out of memory"); return -1; }
    if (!png_image_write_to_memory(&image, buffer, &needed, 0, pixels, 0, NULL)) {
        free(buffer);
        return cms_png_fail(&image, "PNG encoding failed", err, err_size);
    }
    png_image_free(&image);
    *out = buffer;
    *out_size = (size_t)needed;
    return 0;
}
