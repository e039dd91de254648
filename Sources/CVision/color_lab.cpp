// Encoded R'G'B' → linear sRGB → XYZ → CIE Lab (D65) through two tables: the sRGB transfer and
// the cube root of Lab, each linearly interpolated. The statistics convert tens of thousands of
// samples a frame; the batch form converts four at a time with AVX2, with the same double
// operations in the same order (no fused ones), so its results are the scalar form's.
#include "color_lab.hpp"

#include <cmath>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "color_space.hpp"

namespace cvision {
namespace color {
namespace {

/// `values` (a table) at position `p` (0 ≤ p < its last index), linearly interpolated.
inline double interpolate(const std::vector<double> &values, double p) {
    const int i = static_cast<int>(p);
    const double f = p - i;
    return values[i] + (values[i + 1] - values[i]) * f;
}

/// `to_linear` by table (encoded values −0.5…1.5 in 8192 steps, linearly interpolated).
struct LinearTable {
    static constexpr double low = -0.5, high = 1.5;
    static constexpr int steps = 8192;
    std::vector<double> values;
    LinearTable() : values(steps + 1) {
        for (int i = 0; i <= steps; i++) values[i] = to_linear(low + (high - low) * i / steps);
    }
    double operator()(double c) const {
        double p = (c - low) / (high - low) * steps;
        return p >= 0 && p < steps ? interpolate(values, p) : to_linear(c);
    }
};

const LinearTable &linear_table() {
    static const LinearTable table;
    return table;
}

/// `lab_f` by table above the knee (t = XYZ ÷ white in δ³…1.25 in 16384 steps, linearly
/// interpolated: within 4·10⁻⁷ of the cube root, 2·10⁻³ of a Lab unit near black and far less
/// above), exactly below it and by cube root beyond the table: libm's cube root took half of
/// the statistics' time.
struct CubeRootTable {
    static constexpr double knee = kDelta * kDelta * kDelta, high = 1.25;
    static constexpr int steps = 16384;
    static constexpr double scale = steps / (high - knee);
    static constexpr double below = 3 * kDelta * kDelta, offset = 4.0 / 29.0;
    std::vector<double> values;
    CubeRootTable() : values(steps + 1) {
        for (int i = 0; i <= steps; i++) values[i] = std::cbrt(knee + (high - knee) * i / steps);
    }
    double operator()(double t) const {
        if (t <= knee) return t / below + offset;
        double p = (t - knee) * scale;
        return p < steps ? interpolate(values, p) : std::cbrt(t);
    }
};

const CubeRootTable &cube_root_table() {
    static const CubeRootTable table;
    return table;
}

#if defined(__x86_64__)
/// Four table values at `p` (≥ 0, below the table's end), interpolated as the tables do.
CVISION_AVX2 __m256d interpolate_avx2(const double *values, __m256d p) {
    const __m128i i = _mm256_cvttpd_epi32(p);
    const __m256d f = _mm256_sub_pd(p, _mm256_cvtepi32_pd(i));
    const __m256d l = _mm256_i32gather_pd(values, i, 8), h = _mm256_i32gather_pd(values + 1, i, 8);
    return _mm256_add_pd(l, _mm256_mul_pd(_mm256_sub_pd(h, l), f));
}

/// Colours `at`…`at` + 3 converted with AVX2; false (nothing written) when one of them is
/// beyond a table, for the scalar form to convert.
__attribute__((target("avx2"))) bool encoded_to_lab_avx2(const double *const encoded[3], double *const lab[3], int at) {
    const LinearTable &linear = linear_table();
    const CubeRootTable &cube = cube_root_table();
    __m256d rgb[3];
    for (int c = 0; c < 3; c++) {
        const __m256d e = _mm256_loadu_pd(encoded[c] + at);
        const __m256d p = _mm256_mul_pd(
            _mm256_div_pd(_mm256_sub_pd(e, _mm256_set1_pd(LinearTable::low)),
                          _mm256_set1_pd(LinearTable::high - LinearTable::low)),
            _mm256_set1_pd(LinearTable::steps));
        const __m256d inside = _mm256_and_pd(_mm256_cmp_pd(p, _mm256_setzero_pd(), _CMP_GE_OQ),
                                             _mm256_cmp_pd(p, _mm256_set1_pd(LinearTable::steps), _CMP_LT_OQ));
        if (_mm256_movemask_pd(inside) != 0xf) return false;
        rgb[c] = interpolate_avx2(linear.values.data(), p);
    }
    __m256d fs[3];
    for (int i = 0; i < 3; i++) {
        const __m256d xyz = _mm256_add_pd(_mm256_add_pd(_mm256_mul_pd(_mm256_set1_pd(kRGBToXYZ[3 * i]), rgb[0]),
                                                        _mm256_mul_pd(_mm256_set1_pd(kRGBToXYZ[3 * i + 1]), rgb[1])),
                                          _mm256_mul_pd(_mm256_set1_pd(kRGBToXYZ[3 * i + 2]), rgb[2]));
        const __m256d t = _mm256_div_pd(xyz, _mm256_set1_pd(kWhite[i]));
        const __m256d low = _mm256_cmp_pd(t, _mm256_set1_pd(CubeRootTable::knee), _CMP_LE_OQ);
        const __m256d p = _mm256_mul_pd(_mm256_sub_pd(t, _mm256_set1_pd(CubeRootTable::knee)),
                                        _mm256_set1_pd(CubeRootTable::scale));
        const __m256d inside = _mm256_or_pd(low, _mm256_cmp_pd(p, _mm256_set1_pd(CubeRootTable::steps), _CMP_LT_OQ));
        if (_mm256_movemask_pd(inside) != 0xf) return false;
        // Below the knee p is negative: the table is read at 0 there, and its value not taken.
        const __m256d table = interpolate_avx2(cube.values.data(), _mm256_max_pd(p, _mm256_setzero_pd()));
        const __m256d line = _mm256_add_pd(_mm256_div_pd(t, _mm256_set1_pd(CubeRootTable::below)),
                                           _mm256_set1_pd(CubeRootTable::offset));
        fs[i] = _mm256_blendv_pd(table, line, low);
    }
    _mm256_storeu_pd(lab[0] + at, _mm256_sub_pd(_mm256_mul_pd(_mm256_set1_pd(116), fs[1]), _mm256_set1_pd(16)));
    _mm256_storeu_pd(lab[1] + at, _mm256_mul_pd(_mm256_set1_pd(500), _mm256_sub_pd(fs[0], fs[1])));
    _mm256_storeu_pd(lab[2] + at, _mm256_mul_pd(_mm256_set1_pd(200), _mm256_sub_pd(fs[1], fs[2])));
    return true;
}

#endif

}  // namespace

void encoded_to_lab(const double encoded[3], double lab[3]) {
    const LinearTable &linear = linear_table();
    const CubeRootTable &f = cube_root_table();
    const double rgb[3] = {linear(encoded[0]), linear(encoded[1]), linear(encoded[2])};
    double fs[3];
    for (int i = 0; i < 3; i++) {
        const double xyz = kRGBToXYZ[3 * i] * rgb[0] + kRGBToXYZ[3 * i + 1] * rgb[1] + kRGBToXYZ[3 * i + 2] * rgb[2];
        fs[i] = f(xyz / kWhite[i]);
    }
    lab[0] = 116 * fs[1] - 16;
    lab[1] = 500 * (fs[0] - fs[1]);
    lab[2] = 200 * (fs[1] - fs[2]);
}

void encoded_to_lab(const double *const encoded[3], double *const lab[3], int count) {
    auto one = [&](int k) {
        const double colour[3] = {encoded[0][k], encoded[1][k], encoded[2][k]};
        double out[3];
        encoded_to_lab(colour, out);
        lab[0][k] = out[0], lab[1][k] = out[1], lab[2][k] = out[2];
    };
    int at = 0;
#if defined(__x86_64__)
    if (has_avx2()) {
        for (; at + 4 <= count; at += 4) {
            if (!encoded_to_lab_avx2(encoded, lab, at))
                for (int k = at; k < at + 4; k++) one(k);
        }
    }
#endif
    for (; at < count; at++) one(at);
}

}  // namespace color
}  // namespace cvision
