// libpng through its simplified API, which reports errors in png_image.message instead of
// longjmp()ing into the caller. Nothing here calls exit().
#include "CMediaShims.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <png.h>

static int cms_png_fail(png_image *image, const char *fallback, char *err, size_t err_size) {
    snprintf(err, err_size, "%s", image->message[0] ? image->message : fallback);
    png_image_free(image);
    return -1;
}

/* Checks the signature and reads the header into a fresh `image`; on error `image` holds nothing
 * to free and `err` says why. */
static int cms_png_begin(png_image *image, const uint8_t *data, size_t size, char *err, size_t err_size) {
    memset(image, 0, sizeof *image);
    image->version = PNG_IMAGE_VERSION;
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
        snprintf(err, err_size, "not a PNG file (bad signature)");
        return -1;
    }
    if (!png_image_begin_read_from_memory(image, data, size))
        return cms_png_fail(image, "invalid PNG header", err, err_size);
    return 0;
}

int CMediaShims_png_read_header(const uint8_t *data, size_t size, CMediaShims_png_info *info,
                                char *err, size_t err_size) {
    png_image image;
    if (cms_png_begin(&image, data, size, err, err_size) != 0) return -1;
    info->width = (int)image.width;
    info->height = (int)image.height;
    info->has_alpha = (image.format & PNG_FORMAT_FLAG_ALPHA) != 0;
    info->has_color = (image.format & PNG_FORMAT_FLAG_COLOR) != 0;
    info->is_16bit = (image.format & PNG_FORMAT_FLAG_LINEAR) != 0;
    info->is_palette = (image.format & PNG_FORMAT_FLAG_COLORMAP) != 0;
    png_image_free(&image);
    return 0;
}

int CMediaShims_png_decode(const uint8_t *data, size_t size, int channels, uint8_t *out, size_t out_size,
                           char *err, size_t err_size) {
    png_image image;
    if (cms_png_begin(&image, data, size, err, err_size) != 0) return -1;
    switch (channels) {
    case 1: image.format = PNG_FORMAT_GRAY; break;
    case 3: image.format = PNG_FORMAT_RGB; break;
    case 4: image.format = PNG_FORMAT_RGBA; break;
    default:
        png_image_free(&image);
        snprintf(err, err_size, "unsupported channel count %d", channels);
        return -1;
    }
    if (out_size < (size_t)PNG_IMAGE_SIZE(image)) {
        png_image_free(&image);
        snprintf(err, err_size, "output buffer too small");
        return -1;
    }
    if (!png_image_finish_read(&image, NULL, out, 0, NULL))
        return cms_png_fail(&image, "invalid PNG data", err, err_size);
    png_image_free(&image);
    return 0;
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
