// CVision: what the colour match measures of a moving clip: the measured region followed as
// the content moves (a zoom, a pan, a head that sways), and the colour sums of its cells, so
// that a drift of colour can be told from content moving through the region.
#ifndef CVISION_COLOR_MOTION_H
#define CVISION_COLOR_MOTION_H

#include <stddef.h>
#include <stdint.h>

#include "cvision_color.h"
#include "cvision_morph.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Follows the content of one clip's frames, frame after frame, against its first frame.
/// Opaque; made by `cvision_motion_create`, freed by `cvision_motion_free`.
typedef struct cvision_motion cvision_motion;

/// A tracker for one clip whose frames will be measured over `region` (fractions of the
/// frame; not NULL), tracking on luma scaled down to at most `max_side` pixels on its longer
/// side (at least 32). Returns NULL with one line of reason in `error` on bad arguments.
cvision_motion *cvision_motion_create(const cvision_region *region, int32_t max_side, char *error,
                                      size_t error_size);

/// Takes the clip's next frame (the first call: its first frame) and writes into `moved` the
/// region as the content that was inside it in the first frame now lies: moved and scaled by
/// the similarity (scale, rotation, shift) fitted to corners of the region's middle tracked
/// frame to frame (pyramidal Lucas–Kanade on brightness- and contrast-normalised luma, each
/// point checked by tracking it back; the fit by deterministic RANSAC and least squares on its
/// inliers), rotation left out. The moved region may reach past the frame's edges. A frame with
/// too little texture to track keeps the last region. Deterministic: the same frames give the
/// same regions. Returns 0, or -1 with one line of reason in `error`.
int32_t cvision_motion_track(cvision_motion *motion, const cvision_yuv420 *picture, cvision_region *moved,
                             char *error, size_t error_size);

/// Frees a tracker made by `cvision_motion_create` (NULL is ignored).
void cvision_motion_free(cvision_motion *motion);

/// Weighted sums of Lab samples: the total weight, the sums of w·lab and of w·lab·labᵀ
/// (row-major), and how many samples were added. Sums of cells add up to the sums of their union.
typedef struct cvision_lab_sums {
    double weight;
    double sum[3];
    double products[9];
    int64_t samples;
} cvision_lab_sums;

/// The Lab sums of `picture` over `region` (fractions of the picture, not NULL; it may reach
/// past the picture's edges: the part inside counts), split into `grid`×`grid` equal cells of
/// the region, written row-major into `cells` (`grid`×`grid` entries). Samples are taken and
/// weighted as `cvision_color_stats_yuv` takes them over a region (one per `step`×`step` block
/// of chroma samples, a raised cosine across the whole region), so the cells' sums added up
/// give that function's statistics. Returns 0, or -1 with one line of reason in `error`.
int32_t cvision_color_cells_yuv(const cvision_yuv420 *picture, cvision_yuv_encoding encoding,
                                const cvision_region *region, int32_t grid, int32_t step, cvision_lab_sums *cells,
                                char *error, size_t error_size);

#ifdef __cplusplus
}
#endif

#endif
