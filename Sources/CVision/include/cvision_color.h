// CVision: colour statistics in CIE Lab and colour correction of 8-bit YUV 4:2:0 pictures,
// behind a C interface.
#ifndef CVISION_COLOR_H
#define CVISION_COLOR_H

#include <stddef.h>
#include <stdint.h>

#include "cvision_morph.h"

#ifdef __cplusplus
extern "C" {
#endif

/// How a picture's YUV values stand for colours: the matrix (`CVISION_MATRIX_BT601` or
/// `CVISION_MATRIX_BT709`) and whether the range is full (0…255) or limited (16…235 luma,
/// 16…240 chroma). Either way the primaries and transfer taken are sRGB's, with a D65 white.
typedef struct cvision_yuv_encoding {
    int32_t matrix;
    int32_t full_range;
} cvision_yuv_encoding;

enum { CVISION_MATRIX_BT601 = 0, CVISION_MATRIX_BT709 = 1 };

/// A region of a picture as fractions of its width and height (0…1); a zero-sized region
/// stands for the whole picture.
typedef struct cvision_region {
    double x, y, width, height;
} cvision_region;

/// The colour statistics of a picture in CIE Lab (D65): the mean (L, a, b) and the 3×3
/// covariance, row-major, over `samples` samples.
typedef struct cvision_lab_stats {
    double mean[3];
    double covariance[9];
    int64_t samples;
} cvision_lab_stats;

/// An affine map of Lab colours: lab' = m · lab + offset, `m` 3×3 row-major.
typedef struct cvision_lab_affine {
    double m[9];
    double offset[3];
} cvision_lab_affine;

/// The Lab statistics of `picture` over `region` (NULL: the whole picture), one sample per
/// `step`×`step` block of chroma samples (the colour of a 2×2 luma block with its chroma).
/// Over a region the samples are weighted by a raised cosine across it (1 at its centre, 0 at
/// its edges), so that content crossing the region's edge moves the statistics gradually.
/// Returns 0, or -1 with one line of reason in `error`.
int32_t cvision_color_stats_yuv(const cvision_yuv420 *picture, cvision_yuv_encoding encoding,
                                const cvision_region *region, int32_t step, cvision_lab_stats *stats, char *error,
                                size_t error_size);

/// The Lab statistics of a packed 8-bit RGB picture (sRGB, `stride` bytes a row) over
/// `region` (NULL: the whole picture; weighted as for `cvision_color_stats_yuv`), one sample
/// per 2×2 block averaged, as a 4:2:0 picture of it would give. Returns 0, or -1 with one line of reason in `error`.
int32_t cvision_color_stats_rgb(const uint8_t *rgb, int32_t width, int32_t height, int32_t stride,
                                const cvision_region *region, cvision_lab_stats *stats, char *error, size_t error_size);

/// The map that moves the Gaussian of `from` toward that of `to` by `strength` (0: the identity,
/// 1: all the way): the linear Monge-Kantorovich transport between the two (the map of least
/// total colour change that turns one mean and covariance into the other), its linear part
/// mixed with the identity by `strength`. Covariances are regularised (a variance of at least
/// 1 Lab unit squared per axis) and the linear part's scale kept within 0.5…2, so a flat or
/// degenerate picture never gets an extreme map. Returns 0, or -1 with one line of reason.
int32_t cvision_color_transport(const cvision_lab_stats *from, const cvision_lab_stats *to, double strength,
                                cvision_lab_affine *map, char *error, size_t error_size);

/// The CIEDE2000 colour difference between two Lab colours (kL = kC = kH = 1).
double cvision_delta_e2000(const double lab1[3], const double lab2[3]);

/// Maps every pixel of `picture` (in place) by the Lab affine `map`: a table of the map over a
/// 17×17×17 grid of YUV values, interpolated trilinearly. Each luma sample is mapped with its
/// block's chroma; each chroma pair with the mean of its block's four luma samples (read
/// before any is written). Results are rounded and clamped to 0…255. Returns 0, or -1 with one
/// line of reason in `error`.
int32_t cvision_color_apply(const cvision_yuv420_out *picture, cvision_yuv_encoding encoding,
                            const cvision_lab_affine *map, char *error, size_t error_size);

#ifdef __cplusplus
}
#endif

#endif
