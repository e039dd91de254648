// CVision's internal colour conversions, shared by the colour statistics (color.cpp) and the
// colour correction (color_apply.cpp): YUV code values ↔ R'G'B' (0…1) by the picture's matrix
// and range, the sRGB transfer (extended as an odd function beyond 0…1 so that the
// out-of-gamut corners of the YUV cube map smoothly), linear sRGB ↔ CIE Lab with a D65 white, and
// whether the CPU has AVX2.
#ifndef CVISION_COLOR_SPACE_HPP
#define CVISION_COLOR_SPACE_HPP

#include <cmath>
#include <cstdint>

#include "cvision_color.h"

namespace cvision {
namespace color {

// sRGB primaries, D65 white.
constexpr double kRGBToXYZ[9] = {0.4124564, 0.3575761, 0.1804375, 0.2126729, 0.7151522,
                                 0.0721750, 0.0193339, 0.1191920, 0.9503041};
constexpr double kXYZToRGB[9] = {3.2404542, -1.5371385, -0.4985314, -0.9692660, 1.8760108,
                                 0.0415560, 0.0556434,  -0.2040259, 1.0572252};
constexpr double kWhite[3] = {0.95047, 1.0, 1.08883};
constexpr double kDelta = 6.0 / 29.0;

/// The sRGB transfer from encoded to linear light, odd beyond 0.
inline double to_linear(double c) {
    double a = std::fabs(c);
    double l = a <= 0.04045 ? a / 12.92 : std::pow((a + 0.055) / 1.055, 2.4);
    return c < 0 ? -l : l;
}

/// The sRGB transfer from linear light to encoded, odd beyond 0.
inline double to_encoded(double l) {
    double a = std::fabs(l);
    double c = a <= 0.0031308 ? a * 12.92 : 1.055 * std::pow(a, 1 / 2.4) - 0.055;
    return l < 0 ? -c : c;
}

inline double lab_f(double t) {
    return t > kDelta * kDelta * kDelta ? std::cbrt(t) : t / (3 * kDelta * kDelta) + 4.0 / 29.0;
}

inline double lab_f_inverse(double f) { return f > kDelta ? f * f * f : 3 * kDelta * kDelta * (f - 4.0 / 29.0); }

inline void linear_to_lab(const double rgb[3], double lab[3]) {
    double f[3];
    for (int i = 0; i < 3; i++) {
        double v = kRGBToXYZ[3 * i] * rgb[0] + kRGBToXYZ[3 * i + 1] * rgb[1] + kRGBToXYZ[3 * i + 2] * rgb[2];
        f[i] = lab_f(v / kWhite[i]);
    }
    lab[0] = 116 * f[1] - 16;
    lab[1] = 500 * (f[0] - f[1]);
    lab[2] = 200 * (f[1] - f[2]);
}

inline void lab_to_linear(const double lab[3], double rgb[3]) {
    double fy = (lab[0] + 16) / 116;
    double xyz[3] = {kWhite[0] * lab_f_inverse(fy + lab[1] / 500), kWhite[1] * lab_f_inverse(fy),
                     kWhite[2] * lab_f_inverse(fy - lab[2] / 200)};
    for (int i = 0; i < 3; i++)
        rgb[i] = kXYZToRGB[3 * i] * xyz[0] + kXYZToRGB[3 * i + 1] * xyz[1] + kXYZToRGB[3 * i + 2] * xyz[2];
}

/// YUV code values ↔ R'G'B' (0…1) for one encoding.
struct YUVCoding {
    double kr, kb, kg;
    double y_offset, y_scale, c_scale;
    explicit YUVCoding(cvision_yuv_encoding e) {
        kr = e.matrix == CVISION_MATRIX_BT709 ? 0.2126 : 0.299;
        kb = e.matrix == CVISION_MATRIX_BT709 ? 0.0722 : 0.114;
        kg = 1 - kr - kb;
        y_offset = e.full_range ? 0 : 16;
        y_scale = e.full_range ? 255 : 219;
        c_scale = e.full_range ? 255 : 224;
    }
    void to_rgb(double y, double u, double v, double rgb[3]) const {
        double yy = (y - y_offset) / y_scale, cb = (u - 128) / c_scale, cr = (v - 128) / c_scale;
        rgb[0] = yy + 2 * (1 - kr) * cr;
        rgb[2] = yy + 2 * (1 - kb) * cb;
        rgb[1] = (yy - kr * rgb[0] - kb * rgb[2]) / kg;
    }
    void to_yuv(const double rgb[3], double yuv[3]) const {
        double yy = kr * rgb[0] + kg * rgb[1] + kb * rgb[2];
        yuv[0] = y_offset + y_scale * yy;
        yuv[1] = 128 + c_scale * (rgb[2] - yy) / (2 * (1 - kb));
        yuv[2] = 128 + c_scale * (rgb[0] - yy) / (2 * (1 - kr));
    }
};

/// Whether the three planes of a `width`×`height` 4:2:0 picture are there and wide enough.
inline bool valid_picture(const uint8_t *const planes[3], const int32_t strides[3], int32_t width, int32_t height) {
    if (width <= 1 || height <= 1) return false;
    for (int i = 0; i < 3; i++) {
        int w = i == 0 ? width : (width + 1) / 2;
        if (planes[i] == nullptr || strides[i] < w) return false;
    }
    return true;
}

#if defined(__x86_64__)
/// Whether the CPU has AVX2: the statistics and the correction convert and map several samples
/// at a time with it, bit for bit as they do one by one without it.
inline bool has_avx2() {
    static const bool avx2 = __builtin_cpu_supports("avx2");
    return avx2;
}

/// A helper of an AVX2 function, compiled for AVX2 and inlined into it.
#define CVISION_AVX2 __attribute__((target("avx2"), always_inline)) inline
#endif

}  // namespace color
}  // namespace cvision

#endif
