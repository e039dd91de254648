// Colour statistics in CIE Lab and colour correction of YUV 4:2:0 pictures: the measuring and
// mapping half of the stitcher's colour match (the plan over time is made in Swift, from the
// statistics measured here; the mapping itself is in color_apply.cpp). Every OpenCV object
// lives and dies in this file.
//
// Colours: YUV by the picture's matrix and range → R'G'B' → linear sRGB → XYZ → Lab with a D65
// white (color_space.hpp).
#include "cvision_color.h"
#include "cvision_color_motion.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <opencv2/core.hpp>

#include "color_lab.hpp"
#include "color_space.hpp"
#include "errors.hpp"

namespace {

using namespace cvision::color;

/// Weighted sums of Lab samples and of their products, for a mean and a covariance.
struct Accumulator {
    double sum[3] = {0, 0, 0};
    double products[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
    double weight = 0;
    int64_t count = 0;
    void add(const double lab[3], double w) {
        // The products' upper triangle only (`finish` mirrors it).
        for (int i = 0; i < 3; i++) {
            const double wl = w * lab[i];
            sum[i] += wl;
            for (int j = i; j < 3; j++) products[3 * i + j] += wl * lab[j];
        }
        weight += w;
        count++;
    }
    /// The products' lower triangle, from the upper: once all samples are added.
    void finish() {
        for (int i = 1; i < 3; i++)
            for (int j = 0; j < i; j++) products[3 * i + j] = products[3 * j + i];
    }
    void write(cvision_lab_stats *stats) const {
        const double n = weight > 0 ? weight : 1;
        for (int i = 0; i < 3; i++) stats->mean[i] = sum[i] / n;
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                stats->covariance[3 * i + j] = products[3 * i + j] / n - stats->mean[i] * stats->mean[j];
        stats->samples = count;
    }
};

/// The weight of each cell of `range` along one axis: 1 everywhere for the whole picture; for
/// a region, a raised cosine over it (1 at its centre, falling to 0 at its edges), so that
/// content moving across the region's edge enters and leaves the statistics gradually.
std::vector<double> window_weights(bool windowed, const int range[2], double begin, double end) {
    std::vector<double> weights(std::max(0, range[1] - range[0]), 1.0);
    if (!windowed || !(end > begin)) return weights;
    const double pi = 3.14159265358979323846;
    const double centre = (begin + end) / 2, half = (end - begin) / 2;
    for (int i = range[0]; i < range[1]; i++) {
        const double d = std::min(1.0, std::fabs((i + 0.5) - centre) / half);
        weights[i - range[0]] = 0.5 + 0.5 * std::cos(pi * d);
    }
    return weights;
}

/// The range [begin, end) of `count` cells that `region` covers (all of them for no region).
bool region_range(const cvision_region *region, int count_x, int count_y, int range[4]) {
    range[0] = 0, range[1] = count_x, range[2] = 0, range[3] = count_y;
    if (region == nullptr || region->width <= 0 || region->height <= 0) return true;
    if (!std::isfinite(region->x) || !std::isfinite(region->y) || !std::isfinite(region->width) ||
        !std::isfinite(region->height))
        return false;
    range[0] = std::clamp(static_cast<int>(std::floor(region->x * count_x)), 0, count_x);
    range[1] = std::clamp(static_cast<int>(std::ceil((region->x + region->width) * count_x)), 0, count_x);
    range[2] = std::clamp(static_cast<int>(std::floor(region->y * count_y)), 0, count_y);
    range[3] = std::clamp(static_cast<int>(std::ceil((region->y + region->height) * count_y)), 0, count_y);
    return range[1] > range[0] && range[3] > range[2];
}

/// A symmetric 3×3 matrix's square root (`power` 0.5) or inverse square root (−0.5), its
/// eigenvalues first clamped to `low`…`high`.
cv::Matx33d symmetric_power(const cv::Matx33d &m, double power, double low, double high) {
    cv::Mat values, vectors;
    cv::eigen(cv::Mat(m), values, vectors);  // rows of `vectors` are the eigenvectors
    cv::Matx33d result = cv::Matx33d::zeros();
    for (int k = 0; k < 3; k++) {
        double lambda = std::clamp(values.at<double>(k), low, high);
        double p = std::pow(lambda, power);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) result(i, j) += p * vectors.at<double>(k, i) * vectors.at<double>(k, j);
    }
    return result;
}

cv::Matx33d matrix(const double m[9]) {
    return cv::Matx33d(m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8]);
}

/// The smallest variance a covariance is given per axis, in Lab units squared.
constexpr double kMinimumVariance = 1.0;

cv::Matx33d regularised(const double m[9]) {
    cv::Matx33d c = matrix(m);
    c = (c + c.t()) * 0.5;
    return c + cv::Matx33d::eye() * kMinimumVariance;
}

/// Calls `f(cx, cy, lab, weight)` for every `step`-th 2×2 luma block in `range` (chroma
/// columns, then rows) whose weight `wx[cx] · wy[cy]` is above zero, with the block's Lab colour:
/// its mean luma and its chroma. A row's colours are converted together (`encoded_to_lab`).
template <typename F>
void for_each_lab_block(const cvision_yuv420 *picture, const YUVCoding &coding, const int range[4], int step,
                        const std::vector<double> &wx, const std::vector<double> &wy, F &&f) {
    // `coding.to_rgb` with its divisions made multiplications, the block's luma sum taken as it is.
    const double ys = 1 / (4 * coding.y_scale), cs = 1 / coding.c_scale, gs = 1 / coding.kg;
    const double yo = coding.y_offset / coding.y_scale, rv = 2 * (1 - coding.kr), bu = 2 * (1 - coding.kb);
    // One row's blocks: their columns and weights, colours (R', G', B') and Lab colours.
    const size_t most = static_cast<size_t>((range[1] - range[0] + step - 1) / step);
    std::vector<int> columns(most);
    std::vector<double> weights(most), values(6 * most);
    double *const encoded[3] = {values.data(), values.data() + most, values.data() + 2 * most};
    double *const lab[3] = {values.data() + 3 * most, values.data() + 4 * most, values.data() + 5 * most};
    for (int cy = range[2]; cy < range[3]; cy += step) {
        const uint8_t *u = picture->planes[1] + static_cast<size_t>(cy) * picture->strides[1];
        const uint8_t *v = picture->planes[2] + static_cast<size_t>(cy) * picture->strides[2];
        const int y0 = 2 * cy, y1 = std::min(2 * cy + 1, picture->height - 1);
        const uint8_t *row0 = picture->planes[0] + static_cast<size_t>(y0) * picture->strides[0];
        const uint8_t *row1 = picture->planes[0] + static_cast<size_t>(y1) * picture->strides[0];
        int count = 0;
        for (int cx = range[0]; cx < range[1]; cx += step) {
            const double w = wx[cx - range[0]] * wy[cy - range[2]];
            if (w <= 0) continue;
            const int x0 = 2 * cx, x1 = std::min(2 * cx + 1, picture->width - 1);
            const double yy = (row0[x0] + row0[x1] + row1[x0] + row1[x1]) * ys - yo;
            const double cb = (u[cx] - 128) * cs, cr = (v[cx] - 128) * cs;
            const double r = yy + rv * cr, b = yy + bu * cb;
            encoded[0][count] = r;
            encoded[2][count] = b;
            encoded[1][count] = (yy - coding.kr * r - coding.kb * b) * gs;
            columns[count] = cx;
            weights[count] = w;
            count++;
        }
        encoded_to_lab(encoded, lab, count);
        for (int k = 0; k < count; k++) {
            const double colour[3] = {lab[0][k], lab[1][k], lab[2][k]};
            f(columns[k], cy, colour, weights[k]);
        }
    }
}

}  // namespace

int32_t cvision_color_stats_yuv(const cvision_yuv420 *picture, cvision_yuv_encoding encoding,
                                const cvision_region *region, int32_t step, cvision_lab_stats *stats, char *error,
                                size_t error_size) {
    if (picture == nullptr || stats == nullptr || step < 1 ||
        !valid_picture(picture->planes, picture->strides, picture->width, picture->height)) {
        cvision::set_error(error, error_size, "invalid arguments to cvision_color_stats_yuv");
        return -1;
    }
    const int cw = (picture->width + 1) / 2, ch = (picture->height + 1) / 2;
    int range[4];
    if (!region_range(region, cw, ch, range)) {
        cvision::set_error(error, error_size, "cvision_color_stats_yuv: the region is empty or outside the picture");
        return -1;
    }
    return cvision::guarded(error, error_size, "colour statistics", int32_t{-1}, [&]() -> int32_t {
        const YUVCoding coding(encoding);
        const bool windowed = region != nullptr && region->width > 0 && region->height > 0;
        const std::vector<double> wx = window_weights(windowed, range, windowed ? region->x * cw : 0,
                                                      windowed ? (region->x + region->width) * cw : 0);
        const std::vector<double> wy = window_weights(windowed, range + 2, windowed ? region->y * ch : 0,
                                                      windowed ? (region->y + region->height) * ch : 0);
        Accumulator sums;
        for_each_lab_block(picture, coding, range, step, wx, wy,
                           [&](int, int, const double lab[3], double w) { sums.add(lab, w); });
        sums.finish();
        sums.write(stats);
        return 0;
    });
}

int32_t cvision_color_stats_rgb(const uint8_t *rgb, int32_t width, int32_t height, int32_t stride,
                                const cvision_region *region, cvision_lab_stats *stats, char *error,
                                size_t error_size) {
    if (rgb == nullptr || stats == nullptr || width < 2 || height < 2 || stride < width * 3) {
        cvision::set_error(error, error_size, "invalid arguments to cvision_color_stats_rgb");
        return -1;
    }
    const int bw = (width + 1) / 2, bh = (height + 1) / 2;
    int range[4];
    if (!region_range(region, bw, bh, range)) {
        cvision::set_error(error, error_size, "cvision_color_stats_rgb: the region is empty or outside the picture");
        return -1;
    }
    return cvision::guarded(error, error_size, "colour statistics", int32_t{-1}, [&]() -> int32_t {
        const bool windowed = region != nullptr && region->width > 0 && region->height > 0;
        const std::vector<double> wx = window_weights(windowed, range, windowed ? region->x * bw : 0,
                                                      windowed ? (region->x + region->width) * bw : 0);
        const std::vector<double> wy = window_weights(windowed, range + 2, windowed ? region->y * bh : 0,
                                                      windowed ? (region->y + region->height) * bh : 0);
        Accumulator sums;
        for (int by = range[2]; by < range[3]; by++) {
            const uint8_t *row0 = rgb + static_cast<size_t>(2 * by) * stride;
            const uint8_t *row1 = rgb + static_cast<size_t>(std::min(2 * by + 1, height - 1)) * stride;
            for (int bx = range[0]; bx < range[1]; bx++) {
                const int x0 = 2 * bx * 3, x1 = std::min(2 * bx + 1, width - 1) * 3;
                double encoded[3], lab[3];
                for (int c = 0; c < 3; c++)
                    encoded[c] = (row0[x0 + c] + row0[x1 + c] + row1[x0 + c] + row1[x1 + c]) / (4.0 * 255.0);
                const double w = wx[bx - range[0]] * wy[by - range[2]];
                if (w <= 0) continue;
                encoded_to_lab(encoded, lab);
                sums.add(lab, w);
            }
        }
        sums.finish();
        sums.write(stats);
        return 0;
    });
}

int32_t cvision_color_cells_yuv(const cvision_yuv420 *picture, cvision_yuv_encoding encoding,
                                const cvision_region *region, int32_t grid, int32_t step, cvision_lab_sums *cells,
                                char *error, size_t error_size) {
    if (picture == nullptr || region == nullptr || cells == nullptr || step < 1 || grid < 1 || grid > 16 ||
        !(region->width > 0 && region->height > 0) ||
        !valid_picture(picture->planes, picture->strides, picture->width, picture->height)) {
        cvision::set_error(error, error_size, "invalid arguments to cvision_color_cells_yuv");
        return -1;
    }
    const int cw = (picture->width + 1) / 2, ch = (picture->height + 1) / 2;
    int range[4];
    if (!region_range(region, cw, ch, range)) {
        cvision::set_error(error, error_size, "cvision_color_cells_yuv: the region is empty or outside the picture");
        return -1;
    }
    return cvision::guarded(error, error_size, "colour statistics", int32_t{-1}, [&]() -> int32_t {
        const YUVCoding coding(encoding);
        const double bx = region->x * cw, ex = (region->x + region->width) * cw;
        const double by = region->y * ch, ey = (region->y + region->height) * ch;
        const std::vector<double> wx = window_weights(true, range, bx, ex);
        const std::vector<double> wy = window_weights(true, range + 2, by, ey);
        // The cell column of each chroma column, the cell row of each chroma row.
        auto cell = [grid](int i, double begin, double end) {
            return std::clamp(static_cast<int>(std::floor((i + 0.5 - begin) / (end - begin) * grid)), 0, grid - 1);
        };
        std::vector<Accumulator> sums(static_cast<size_t>(grid) * grid);
        for_each_lab_block(picture, coding, range, step, wx, wy, [&](int cx, int cy, const double lab[3], double w) {
            sums[static_cast<size_t>(cell(cy, by, ey)) * grid + cell(cx, bx, ex)].add(lab, w);
        });
        for (size_t i = 0; i < sums.size(); i++) {
            sums[i].finish();
            cvision_lab_sums &out = cells[i];
            out.weight = sums[i].weight;
            for (int c = 0; c < 3; c++) out.sum[c] = sums[i].sum[c];
            for (int c = 0; c < 9; c++) out.products[c] = sums[i].products[c];
            out.samples = sums[i].count;
        }
        return 0;
    });
}

int32_t cvision_color_transport(const cvision_lab_stats *from, const cvision_lab_stats *to, double strength,
                                cvision_lab_affine *map, char *error, size_t error_size) {
    if (from == nullptr || to == nullptr || map == nullptr || !(strength >= 0 && strength <= 1)) {
        cvision::set_error(error, error_size, "invalid arguments to cvision_color_transport");
        return -1;
    }
    for (int i = 0; i < 9; i++) {
        if (!std::isfinite(from->covariance[i]) || !std::isfinite(to->covariance[i]) ||
            (i < 3 && (!std::isfinite(from->mean[i]) || !std::isfinite(to->mean[i])))) {
            cvision::set_error(error, error_size, "cvision_color_transport: statistics that are not finite");
            return -1;
        }
    }
    return cvision::guarded(error, error_size, "colour transport", int32_t{-1}, [&]() -> int32_t {
        const double huge = 1e12;
        // T = Σs^-½ (Σs^½ Σt Σs^½)^½ Σs^-½: symmetric, positive, and it maps N(μs, Σs) onto
        // N(μt, Σt) with the least mean squared change of colour.
        const cv::Matx33d source = regularised(from->covariance), target = regularised(to->covariance);
        const cv::Matx33d half = symmetric_power(source, 0.5, kMinimumVariance, huge);
        const cv::Matx33d inverse_half = symmetric_power(source, -0.5, kMinimumVariance, huge);
        const cv::Matx33d middle = symmetric_power(half * target * half, 0.5, 0, huge);
        cv::Matx33d transport = inverse_half * middle * inverse_half;
        // Its scale kept within 0.5…2 (a map beyond that is no drift's).
        transport = symmetric_power((transport + transport.t()) * 0.5, 1, 0.5, 2);
        const cv::Matx33d linear = cv::Matx33d::eye() * (1 - strength) + transport * strength;
        const cv::Vec3d mu_s(from->mean[0], from->mean[1], from->mean[2]);
        const cv::Vec3d mu_t(to->mean[0], to->mean[1], to->mean[2]);
        // lab' = μs + s(μt − μs) + L(lab − μs)
        const cv::Vec3d offset = mu_s + strength * (mu_t - mu_s) - linear * mu_s;
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 3; j++) map->m[3 * i + j] = linear(i, j);
            map->offset[i] = offset[i];
        }
        return 0;
    });
}

double cvision_delta_e2000(const double lab1[3], const double lab2[3]) {
    const double pi = 3.14159265358979323846;
    auto degrees = [pi](double r) { return r * 180 / pi; };
    auto radians = [pi](double d) { return d * pi / 180; };
    const double L1 = lab1[0], a1 = lab1[1], b1 = lab1[2];
    const double L2 = lab2[0], a2 = lab2[1], b2 = lab2[2];
    const double c_mean = (std::hypot(a1, b1) + std::hypot(a2, b2)) / 2;
    const double c7 = std::pow(c_mean, 7);
    const double g = 0.5 * (1 - std::sqrt(c7 / (c7 + std::pow(25.0, 7))));
    const double a1p = (1 + g) * a1, a2p = (1 + g) * a2;
    const double c1p = std::hypot(a1p, b1), c2p = std::hypot(a2p, b2);
    auto hue = [&](double b, double ap) {
        if (b == 0 && ap == 0) return 0.0;
        double h = degrees(std::atan2(b, ap));
        return h < 0 ? h + 360 : h;
    };
    const double h1p = hue(b1, a1p), h2p = hue(b2, a2p);
    const double dL = L2 - L1, dC = c2p - c1p;
    double dh = 0;
    if (c1p * c2p != 0) {
        dh = h2p - h1p;
        if (dh > 180) dh -= 360;
        if (dh < -180) dh += 360;
    }
    const double dH = 2 * std::sqrt(c1p * c2p) * std::sin(radians(dh / 2));
    const double L_mean = (L1 + L2) / 2, c_mean_p = (c1p + c2p) / 2;
    double h_mean = h1p + h2p;
    if (c1p * c2p != 0) {
        if (std::fabs(h1p - h2p) <= 180) {
            h_mean /= 2;
        } else {
            h_mean = h1p + h2p < 360 ? (h1p + h2p + 360) / 2 : (h1p + h2p - 360) / 2;
        }
    }
    const double t = 1 - 0.17 * std::cos(radians(h_mean - 30)) + 0.24 * std::cos(radians(2 * h_mean)) +
                     0.32 * std::cos(radians(3 * h_mean + 6)) - 0.20 * std::cos(radians(4 * h_mean - 63));
    const double d_theta = 30 * std::exp(-std::pow((h_mean - 275) / 25, 2));
    const double c7p = std::pow(c_mean_p, 7);
    const double rc = 2 * std::sqrt(c7p / (c7p + std::pow(25.0, 7)));
    const double l50 = (L_mean - 50) * (L_mean - 50);
    const double sl = 1 + 0.015 * l50 / std::sqrt(20 + l50);
    const double sc = 1 + 0.045 * c_mean_p;
    const double sh = 1 + 0.015 * c_mean_p * t;
    const double rt = -std::sin(radians(2 * d_theta)) * rc;
    const double x = dL / sl, y = dC / sc, z = dH / sh;
    return std::sqrt(x * x + y * y + z * z + rt * y * z);
}
