// CVision: seam transitions (optical-flow morph, punch-in zoom) and a sharpness measure,
// on 8-bit planar YUV 4:2:0 pictures, behind a C interface.
#ifndef CVISION_MORPH_H
#define CVISION_MORPH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// A read-only 8-bit YUV 4:2:0 picture: a `width`×`height` luma plane and two
/// `(width+1)/2`×`(height+1)/2` chroma planes, each with its own row stride in bytes.
typedef struct cvision_yuv420 {
    const uint8_t *planes[3];
    int32_t strides[3];
    int32_t width, height;
} cvision_yuv420;

/// A writable picture of the same layout.
typedef struct cvision_yuv420_out {
    uint8_t *planes[3];
    int32_t strides[3];
    int32_t width, height;
} cvision_yuv420_out;

/// The dense optical flow between two pictures and copies of both, from which any number of
/// in-between pictures are made. Opaque; made by `cvision_morph_create`, freed by
/// `cvision_morph_free`.
typedef struct cvision_morph cvision_morph;

/// Copies `a` (the picture before the transition) and `b` (the one after it, same size) and
/// computes the dense flow on their luma in both directions (the dominant shift by phase
/// correlation, the rest by DIS optical flow), at a size whose longer side is at most
/// `flow_max_side` pixels (0: full size); the flow is scaled back up.
/// Returns NULL with one line of reason in `error` on bad arguments or an OpenCV error.
cvision_morph *cvision_morph_create(const cvision_yuv420 *a, const cvision_yuv420 *b,
                                    int32_t flow_max_side, char *error, size_t error_size);

/// Writes the picture at position `t` (0 = `a`, 1 = `b`) into `out` (the pictures' size): each
/// end is warped toward the intermediate position along the flow and the two are blended,
/// `a` weighted `1 - t` and `b` weighted `t`, on all three planes (chroma with the flow halved).
/// Returns 0, or -1 with one line of reason in `error`.
int32_t cvision_morph_frame(const cvision_morph *morph, double t, const cvision_yuv420_out *out,
                            char *error, size_t error_size);

/// The mean length of the flow from `a` to `b`, in luma pixels (0 for a NULL morph).
double cvision_morph_mean_motion(const cvision_morph *morph);

/// Frees a morph made by `cvision_morph_create` (NULL is ignored).
void cvision_morph_free(cvision_morph *morph);

/// Writes into `out` (the same size as `in`) the window of `in` that is `1/scale` of its size,
/// centred at (`center_x`, `center_y`) in luma pixels as far as the picture allows, enlarged
/// back to full size (bicubic): a punch-in of `scale` ≥ 1. Returns 0, or -1 with a reason.
int32_t cvision_zoom(const cvision_yuv420 *in, double scale, double center_x, double center_y,
                     const cvision_yuv420_out *out, char *error, size_t error_size);

/// Writes into `out` (packed 8-bit RGB, `width`×`height`, rows of `width`×3 bytes, not
/// overlapping `in`) the picture `in` (same layout) enlarged by `zoom` ≥ 1 about its centre moved
/// by (`pan_x`, `pan_y`) (fractions of the width and height): output pixel centre i shows
/// source position c + (i + ½ − size/2) / zoom − ½, bilinear, edges repeated. Returns 0, or -1
/// with a reason.
int32_t cvision_zoom_pan_rgb(const uint8_t *in, uint8_t *out, int32_t width, int32_t height, double zoom,
                             double pan_x, double pan_y, char *error, size_t error_size);

/// The sharpness of an 8-bit grayscale picture: the variance of its Laplacian after a Gaussian
/// blur of standard deviation `sigma` pixels (0: no blur). Returns a value ≥ 0, or -1 with a
/// reason in `error`.
double cvision_sharpness(const uint8_t *gray, int32_t width, int32_t height, int32_t stride,
                         double sigma, char *error, size_t error_size);

#ifdef __cplusplus
}
#endif

#endif
