// libjpeg with setjmp/longjmp error handling: a corrupt file returns an error code,
// it never reaches libjpeg's default error_exit (which calls exit()).
#include "CMediaShims.h"
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int premature_end;  // JWRN_JPEG_EOF seen: the data ran out
} cms_jpeg_error;

static void cms_jpeg_error_exit(j_common_ptr cinfo) {
    cms_jpeg_error *e = (cms_jpeg_error *)cinfo->err;
    longjmp(e->jump, 1);
}

static void cms_jpeg_emit_message(j_common_ptr cinfo, int level) {
    cms_jpeg_error *e = (cms_jpeg_error *)cinfo->err;
    if (level < 0) {
        // Warnings. Running out of data makes libjpeg fill the rest with gray: refuse that.
        if (e->pub.msg_code == JWRN_JPEG_EOF) e->premature_end = 1;
        e->pub.num_warnings++;
    }
}

static void cms_jpeg_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void cms_jpeg_format(j_common_ptr cinfo, char *err, size_t err_size) {
    char buffer[JMSG_LENGTH_MAX];
    buffer[0] = 0;
    (*cinfo->err->format_message)(cinfo, buffer);
    snprintf(err, err_size, "%s", buffer[0] ? buffer : "invalid JPEG data");
}

static void cms_jpeg_setup(struct jpeg_decompress_struct *cinfo, cms_jpeg_error *jerr) {
    memset(jerr, 0, sizeof *jerr);
    cinfo->err = jpeg_std_error(&jerr->pub);
    jerr->pub.error_exit = cms_jpeg_error_exit;
    jerr->pub.emit_message = cms_jpeg_emit_message;
    jerr->pub.output_message = cms_jpeg_output_message;
}

static void cms_fill_info(const struct jpeg_decompress_struct *cinfo, CMediaShims_jpeg_info *info) {
    info->width = (int)cinfo->image_width;
    info->height = (int)cinfo->image_height;
    info->jpeg_color_space = (int)cinfo->jpeg_color_space;
    info->num_components = cinfo->num_components;
    info->progressive = cinfo->progressive_mode ? 1 : 0;
    info->output_components = cinfo->jpeg_color_space == JCS_GRAYSCALE ? 1 : 3;
}

int CMediaShims_jpeg_read_header(const uint8_t *data, size_t size, CMediaShims_jpeg_info *info,
                                 char *err, size_t err_size) {
    struct jpeg_decompress_struct cinfo;
    cms_jpeg_error jerr;
    if (size == 0) { snprintf(err, err_size, "empty file"); return -1; }
    cms_jpeg_setup(&cinfo, &jerr);
    if (setjmp(jerr.jump)) {
        cms_jpeg_format((j_common_ptr)&cinfo, err, err_size);
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    cms_fill_info(&cinfo, info);
    jpeg_destroy_decompress(&cinfo);
    return 0;
}

int CMediaShims_jpeg_decode(const uint8_t *data, size_t size, int scale_denom, uint8_t *out, size_t out_size,
                            CMediaShims_jpeg_info *info, char *err, size_t err_size) {
    struct jpeg_decompress_struct cinfo;
    cms_jpeg_error jerr;
    JSAMPLE *volatile cmyk_row = NULL;
    if (size == 0) { snprintf(err, err_size, "empty file"); return -1; }
    cms_jpeg_setup(&cinfo, &jerr);
    if (setjmp(jerr.jump)) {
        cms_jpeg_format((j_common_ptr)&cinfo, err, err_size);
        jpeg_destroy_decompress(&cinfo);
        free(cmyk_row);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    cms_fill_info(&cinfo, info);

    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    int inverted = cmyk && cinfo.saw_Adobe_marker;  // Adobe writes CMYK inverted
    if (cinfo.jpeg_color_space == JCS_GRAYSCALE) cinfo.out_color_space = JCS_GRAYSCALE;
    else if (cmyk) cinfo.out_color_space = JCS_CMYK;
    else cinfo.out_color_space = JCS_RGB;

    cinfo.scale_num = 1;
    cinfo.scale_denom = (scale_denom == 2 || scale_denom == 4 || scale_denom == 8) ? (unsigned)scale_denom : 1;
    jpeg_start_decompress(&cinfo);
    size_t width = cinfo.output_width, height = cinfo.output_height;
    info->width = (int)width;
    info->height = (int)height;
    size_t comps = (size_t)info->output_components;
    if (out_size < width * height * comps) {
        snprintf(err, err_size, "output buffer too small");
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    if (cmyk) {
        cmyk_row = malloc(width * 4);
        if (!cmyk_row) { snprintf(err, err_size, "out of memory"); jpeg_destroy_decompress(&cinfo); return -1; }
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        uint8_t *dest = out + (size_t)cinfo.output_scanline * width * comps;
        if (cmyk) {
            JSAMPROW row = cmyk_row;
            if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) break;
            for (size_t x = 0; x < width; x++) {
                unsigned c = row[4 * x], m = row[4 * x + 1], y = row[4 * x + 2], k = row[4 * x + 3];
                if (!inverted) { c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k; }
                dest[3 * x] = (uint8_t)((c * k + 127) / 255);
                dest[3 * x + 1] = (uint8_t)((m * k + 127) / 255);
                dest[3 * x + 2] = (uint8_t)((y * k + 127) / 255);
            }
        } else {
            JSAMPROW row = dest;
            if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) break;
        }
        if (jerr.premature_end) break;
    }
    if (jerr.premature_end || cinfo.output_scanline < cinfo.output_height) {
        snprintf(err, err_size, "the JPEG data ends early (truncated file)");
        jpeg_destroy_decompress(&cinfo);
        free(cmyk_row);
        return -1;
    }
    jpeg_finish_decompress(&cinfo);
    int truncated = jerr.premature_end;
    jpeg_destroy_decompress(&cinfo);
    free(cmyk_row);
    if (truncated) { snprintf(err, err_size, "the JPEG data ends early (truncated file)"); return -1; }
    return 0;
}

int CMediaShims_jpeg_encode(const uint8_t *pixels, int width, int height, int components, int quality,
                            uint8_t **out, size_t *out_size, char *err, size_t err_size) {
    struct jpeg_compress_struct cinfo;
    cms_jpeg_error jerr;
    // libjpeg's memory destination stores its buffer through this pointer; it lives in memory
    // (its address is taken), so it is valid after a longjmp.
    unsigned char *mem = NULL;
    unsigned long mem_size = 0;
    *out = NULL;
    *out_size = 0;
    if (width <= 0 || height <= 0 || (components != 1 && components != 3)) {
        snprintf(err, err_size, "cannot encode a %dx%d image with %d components as JPEG", width, height, components);
        return -1;
    }
    memset(&jerr, 0, sizeof jerr);
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = cms_jpeg_error_exit;
    jerr.pub.output_message = cms_jpeg_output_message;
    if (setjmp(jerr.jump)) {
        cms_jpeg_format((j_common_ptr)&cinfo, err, err_size);
        jpeg_destroy_compress(&cinfo);
        free(*(unsigned char *volatile *)&mem);
        return -1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &mem, &mem_size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = components;
    cinfo.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality < 1 ? 1 : (quality > 100 ? 100 : quality), TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * (size_t)width * (size_t)components);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *out = mem;
    *out_size = (size_t)mem_size;
    return 0;
}

void CMediaShims_free(void *p) { free(p); }
