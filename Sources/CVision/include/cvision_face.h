// CVision: face detection (OpenCV's Haar cascade) behind a C interface.
#ifndef CVISION_FACE_H
#define CVISION_FACE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// A rectangle in pixels of the image that was searched.
typedef struct cvision_rect {
    int32_t x, y, width, height;
} cvision_rect;

/// Finds frontal faces in an 8-bit grayscale image with the Haar cascade at `cascade_path`.
///
/// Images larger than `max_side` pixels on their longer side are searched at that size (faces
/// are returned in the original image's pixels). Faces smaller than `min_fraction` of the
/// image's shorter side are ignored. With `eye_cascade_path` (an eye cascade, e.g.
/// `haarcascade_eye.xml`; NULL skips the check), a box is kept only when it holds a pair of
/// eyes where a face's eyes are (in the upper part, one each side, about level, each 1/8 to
/// 1/2 of the box across): a box several times larger than the face it holds, or one around no
/// face, is dropped and counted in `*rejected` (when not NULL). Up to `capacity` faces are
/// written to `faces`, largest first. Returns how many faces were kept (possibly more than
/// `capacity`), or -1 with one line of reason in `error` (a cascade cannot be read, bad
/// arguments, an OpenCV error).
int32_t cvision_detect_faces(const char *cascade_path, const char *eye_cascade_path,
                             const uint8_t *gray, int32_t width, int32_t height, int32_t stride,
                             int32_t max_side, double min_fraction, cvision_rect *faces,
                             int32_t capacity, int32_t *rejected, char *error, size_t error_size);

#ifdef __cplusplus
}
#endif

#endif
