// libjpeg with setjmp/longjmp error handling: a corrupt file returns an error code,
// it never reaches libjpeg's default error_exit (which calls exit()).
//
// libjpeg reports damaged entropy-coded data only as warnings and carries on, filling what it
// could not decode with gray (or garbage). Those warnings are refusals here, like fatal
// errors; see cms_jpeg_warning_loses_pixels for the few that are not.
#include "CMediaShims.h"
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

/* The most bytes before a marker after a scan that count as padding, not lost data. */
#define CMS_JPEG_MAX_PADDING 16

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int in_header;       // inside jpeg_read_header: no entropy-coded data has been read yet
    int premature_end;   // JWRN_JPEG_EOF seen: the data ran out
    int in_output;       // jpeg_start_decompress has returned: output_scanline counts rows
    int corrupt;         // a warning that means lost or invented pixels (premature_end included)
    char reason[JMSG_LENGTH_MAX + 64];  // why, for the first such warning
} cms_jpeg_error;

static void cms_jpeg_error_exit(j_common_ptr cinfo) {
    cms_jpeg_error *e = (cms_jpeg_error *)cinfo->err;
    longjmp(e->jump, 1);
}

/* Whether the warning now in `e` means the decoded picture is not the one the file holds. */
static int cms_jpeg_warning_loses_pixels(const cms_jpeg_error *e) {
    switch (e->pub.msg_code) {
    case JWRN_JFIF_MAJOR:      // an unknown JFIF version number: metadata
    case JWRN_ADOBE_XFORM:     // an unknown Adobe colour transform code: decoded as YCbCr
    case JWRN_BOGUS_ICC:       // a malformed ICC profile marker: metadata (and not read here)
    case JWRN_NOT_SEQUENTIAL:  // odd Ss/Se/Ah/Al bytes in a baseline SOS, which libjpeg ignores
        return 0;
    case JWRN_EXTRANEOUS_DATA:
        // Bytes libjpeg skipped to find the next marker. Between header markers they cost no
        // pixel. After a scan, a few are padding that some cameras and webcams write before
        // EOI or a restart marker; more mean the decoder lost its way in the entropy-coded
        // data and stopped short, so the pixels it made from it are wrong. (Random damage in
        // the middle of a scan, 900 trials on three fixtures: 287 of the 300 skips it caused
        // were over 16 bytes.)
        return !e->in_header && e->pub.msg_parm.i[0] > CMS_JPEG_MAX_PADDING;
    default:
        // Premature end of file or data segment, bad Huffman or arithmetic code, missing
        // restart marker, bogus progression, and any warning added later.
        return 1;
    }
}

static void cms_jpeg_emit_message(j_common_ptr cinfo, int level) {
    cms_jpeg_error *e = (cms_jpeg_error *)cinfo->err;
    if (level >= 0) return;  // trace messages
    e->pub.num_warnings++;
    if (e->corrupt || !cms_jpeg_warning_loses_pixels(e)) return;
    e->corrupt = 1;
    if (e->pub.msg_code == JWRN_JPEG_EOF) {
        e->premature_end = 1;
        snprintf(e->reason, sizeof e->reason, "the JPEG data ends early (truncated file)");
        return;
    }
    char message[JMSG_LENGTH_MAX];
    message[0] = 0;
    (*e->pub.format_message)(cinfo, message);
    const char *text = message;
    static const char prefix[] = "Corrupt JPEG data: ";
    if (strncmp(text, prefix, sizeof prefix - 1) == 0) text += sizeof prefix - 1;
    const char *why = e->pub.msg_code == JWRN_EXTRANEOUS_DATA ? " (the decoder lost its place in the image data)" : "";
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (e->in_output && cinfo->is_decompressor && d->output_scanline < d->output_height)
        snprintf(e->reason, sizeof e->reason, "corrupt data at row %u of %u: %s%s", (unsigned)d->output_scanline,
                 (unsigned)d->output_height, text, why);
    else
        snprintf(e->reason, sizeof e->reason, "corrupt data: %s%s", text, why);
}

static void cms_jpeg_output_message(j_common_ptr cinfo) { (void)cinfo; }

/* The message for a fatal error: the corrupt-data warning that led to it if there was one. */
static void cms_jpeg_format(j_common_ptr cinfo, const cms_jpeg_error *jerr, char *err, size_t err_size) {
    if (jerr->corrupt) {
        snprintf(err, err_size, "%s", jerr->reason);
        return;
    }
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

/* Reads the header into `cinfo`; a corrupt-data warning there (see emit_message) is a refusal. */
static int cms_jpeg_read_header(struct jpeg_decompress_struct *cinfo, cms_jpeg_error *jerr) {
    jerr->in_header = 1;
    jpeg_read_header(cinfo, TRUE);
    jerr->in_header = 0;
    return jerr->corrupt ? -1 : 0;
}

int CMediaShims_jpeg_read_header(const uint8_t *data, size_t size, CMediaShims_jpeg_info *info,
                                 char *err, size_t err_size) {
    struct jpeg_decompress_struct cinfo;
    cms_jpeg_error jerr;
    if (size == 0) { snprintf(err, err_size, "empty file"); return -1; }
    cms_jpeg_setup(&cinfo, &jerr);
    if (setjmp(jerr.jump)) {
        // A fatal error after the data ran out (libjpeg then inserts an EOI) is about that.
        cms_jpeg_format((j_common_ptr)&cinfo, &jerr, err, err_size);
        jpeg_destroy_decompress(&cinfo);
        return jerr.premature_end ? CMEDIASHIMS_NEED_MORE_DATA : -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    if (cms_jpeg_read_header(&cinfo, &jerr) != 0) {
        snprintf(err, err_size, "%s", jerr.reason);
        jpeg_destroy_decompress(&cinfo);
        return jerr.premature_end ? CMEDIASHIMS_NEED_MORE_DATA : -1;
    }
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
        cms_jpeg_format((j_common_ptr)&cinfo, &jerr, err, err_size);
        jpeg_destroy_decompress(&cinfo);
        free(cmyk_row);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    if (cms_jpeg_read_header(&cinfo, &jerr) != 0) goto refuse;
    cms_fill_info(&cinfo, info);

    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    int inverted = cmyk && cinfo.saw_Adobe_marker;  // Adobe writes CMYK inverted
    if (cinfo.jpeg_color_space == JCS_GRAYSCALE) cinfo.out_color_space = JCS_GRAYSCALE;
    else if (cmyk) cinfo.out_color_space = JCS_CMYK;
    else cinfo.out_color_space = JCS_RGB;

    cinfo.scale_num = 1;
    cinfo.scale_denom = (scale_denom == 2 || scale_denom == 4 || scale_denom == 8) ? (unsigned)scale_denom : 1;
    // A progressive (or any multi-scan) file is read whole here, so its warnings come now.
    jpeg_start_decompress(&cinfo);
    if (jerr.corrupt) goto refuse;
    jerr.in_output = 1;
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
    // Stops at the first corrupt-data warning: a SOF that declares far more rows than the
    // file holds costs no more than the rows it does hold.
    while (cinfo.output_scanline < cinfo.output_height && !jerr.corrupt) {
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
    }
    if (jerr.corrupt) goto refuse;
    if (cinfo.output_scanline < cinfo.output_height) {
        snprintf(jerr.reason, sizeof jerr.reason, "the JPEG data ends early (truncated file)");
        goto refuse;
    }
    // Reads up to EOI: what follows the last scan must be padding at most.
    jpeg_finish_decompress(&cinfo);
    if (jerr.corrupt) goto refuse;
    jpeg_destroy_decompress(&cinfo);
    free(cmyk_row);
    return 0;

refuse:
    snprintf(err, err_size, "%s", jerr.reason);
    jpeg_destroy_decompress(&cinfo);
    free(cmyk_row);
    return -1;
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
        cms_jpeg_format((j_common_ptr)&cinfo, &jerr, err, err_size);
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
