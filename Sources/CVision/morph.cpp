// Seam transitions on YUV 4:2:0 pictures: an optical-flow morph (DIS flow, both directions),
// a punch-in zoom, and a sharpness measure. Every OpenCV object lives and dies in this file.
#include "cvision_morph.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/video/tracking.hpp>

#include "errors.hpp"

struct cvision_morph {
    // The two pictures' planes (Y, U, V), owned copies.
    cv::Mat a[3], b[3];
    // Flow from a to b and from b to a, per plane size: [0] luma, [1] chroma (CV_32FC2, in
    // that plane's pixels).
    cv::Mat ab[2], ba[2];
    double mean_motion = 0;
};

namespace {

int chroma_size(int n) { return (n + 1) / 2; }

bool valid(const cvision_yuv420 *p) {
    if (p == nullptr || p->width <= 1 || p->height <= 1) return false;
    for (int i = 0; i < 3; i++) {
        int w = i == 0 ? p->width : chroma_size(p->width);
        if (p->planes[i] == nullptr || p->strides[i] < w) return false;
    }
    return true;
}

bool valid(const cvision_yuv420_out *p) {
    if (p == nullptr || p->width <= 1 || p->height <= 1) return false;
    for (int i = 0; i < 3; i++) {
        int w = i == 0 ? p->width : chroma_size(p->width);
        if (p->planes[i] == nullptr || p->strides[i] < w) return false;
    }
    return true;
}

/// A view of plane `i` of a picture (nothing copied).
cv::Mat view(const cvision_yuv420 *p, int i) {
    int w = i == 0 ? p->width : chroma_size(p->width);
    int h = i == 0 ? p->height : chroma_size(p->height);
    return cv::Mat(h, w, CV_8UC1, const_cast<uint8_t *>(p->planes[i]), static_cast<size_t>(p->strides[i]));
}

cv::Mat view(const cvision_yuv420_out *p, int i) {
    int w = i == 0 ? p->width : chroma_size(p->width);
    int h = i == 0 ? p->height : chroma_size(p->height);
    return cv::Mat(h, w, CV_8UC1, p->planes[i], static_cast<size_t>(p->strides[i]));
}

/// `flow` (computed on a smaller picture) resized to `size`, its vectors scaled likewise.
cv::Mat scaled_flow(const cv::Mat &flow, cv::Size size) {
    cv::Mat out;
    if (flow.size() == size) {
        out = flow.clone();
    } else {
        cv::resize(flow, out, size, 0, 0, cv::INTER_LINEAR);
        std::vector<cv::Mat> parts;
        cv::split(out, parts);
        parts[0] *= static_cast<double>(size.width) / flow.cols;
        parts[1] *= static_cast<double>(size.height) / flow.rows;
        cv::merge(parts, out);
    }
    return out;
}

/// Remap coordinates `x - k·flow(x)` for every pixel.
void warp_maps(const cv::Mat &flow, double k, cv::Mat &map) {
    map.create(flow.size(), CV_32FC2);
    const float kf = static_cast<float>(k);
    for (int y = 0; y < flow.rows; y++) {
        const cv::Vec2f *f = flow.ptr<cv::Vec2f>(y);
        cv::Vec2f *m = map.ptr<cv::Vec2f>(y);
        for (int x = 0; x < flow.cols; x++) {
            m[x][0] = static_cast<float>(x) - kf * f[x][0];
            m[x][1] = static_cast<float>(y) - kf * f[x][1];
        }
    }
}

/// `m` moved by (`x`, `y`): out(p) = m(p + (x, y)).
cv::Mat sampled_at_offset(const cv::Mat &m, double x, double y) {
    cv::Mat out;
    cv::Mat to_source = (cv::Mat_<double>(2, 3) << 1, 0, x, 0, 1, y);
    cv::warpAffine(m, out, to_source, m.size(), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_REPLICATE);
    return out;
}

/// The flow from `a` to `b` (a(p) ≈ b(p + ab(p))) and from `b` to `a`.
///
/// DIS alone (coarse to fine) loses its way when the whole picture moves by more than about
/// 15 px, which a seam does; so the dominant shift `s` is found first by phase correlation,
/// `a` is moved by it, DIS finds the rest (rotation, local motion), and the two are composed:
/// ab(p) = s + r(p + s), where r is the flow from `a` moved to `b`. A weak correlation peak (a
/// picture without texture) means no shift.
void dense_flow(const cv::Mat &a, const cv::Mat &b, cv::Mat &ab, cv::Mat &ba) {
    cv::Mat fa, fb, window;
    a.convertTo(fa, CV_32F);
    b.convertTo(fb, CV_32F);
    cv::createHanningWindow(window, a.size(), CV_32F);
    double response = 0;
    cv::Point2d shift = cv::phaseCorrelate(fa, fb, window, &response);
    if (!(response >= 0.05) || !std::isfinite(shift.x) || !std::isfinite(shift.y)) shift = cv::Point2d(0, 0);
    // PRESET_FAST at the finest scale: the medium preset's variational refinement and a
    // coarser finest scale both smear the flow of fine texture (measured on synthetic seams).
    cv::Ptr<cv::DISOpticalFlow> dis = cv::DISOpticalFlow::create(cv::DISOpticalFlow::PRESET_FAST);
    dis->setFinestScale(0);
    cv::Mat residual;
    // a moved: a'(q) = a(q − s) ≈ b(q).
    dis->calc(sampled_at_offset(a, -shift.x, -shift.y), b, residual);
    ab = sampled_at_offset(residual, shift.x, shift.y);
    ab += cv::Scalar(shift.x, shift.y);
    // b moved the other way: b'(q) = b(q + s) ≈ a(q).
    dis->calc(sampled_at_offset(b, shift.x, shift.y), a, residual);
    ba = sampled_at_offset(residual, -shift.x, -shift.y);
    ba += cv::Scalar(-shift.x, -shift.y);
}

}  // namespace

cvision_morph *cvision_morph_create(const cvision_yuv420 *a, const cvision_yuv420 *b,
                                    int32_t flow_max_side, char *error, size_t error_size) {
    if (!valid(a) || !valid(b) || a->width != b->width || a->height != b->height || flow_max_side < 0) {
        cvision::set_error(error, error_size, "invalid arguments to cvision_morph_create");
        return nullptr;
    }
    cvision_morph *m = nullptr;
    try {
        m = new cvision_morph();
        for (int i = 0; i < 3; i++) {
            m->a[i] = view(a, i).clone();
            m->b[i] = view(b, i).clone();
        }
        const cv::Size full = m->a[0].size();
        cv::Mat small_a = m->a[0], small_b = m->b[0];
        int longer = std::max(full.width, full.height);
        if (flow_max_side > 0 && longer > flow_max_side) {
            double s = static_cast<double>(flow_max_side) / longer;
            cv::Size size(std::max(8, static_cast<int>(std::lround(full.width * s))),
                          std::max(8, static_cast<int>(std::lround(full.height * s))));
            cv::resize(m->a[0], small_a, size, 0, 0, cv::INTER_AREA);
            cv::resize(m->b[0], small_b, size, 0, 0, cv::INTER_AREA);
        }
        cv::Mat ab, ba;
        dense_flow(small_a, small_b, ab, ba);
        m->ab[0] = scaled_flow(ab, full);
        m->ba[0] = scaled_flow(ba, full);
        m->ab[1] = scaled_flow(ab, m->a[1].size());
        m->ba[1] = scaled_flow(ba, m->a[1].size());
        std::vector<cv::Mat> parts;
        cv::split(m->ab[0], parts);
        cv::Mat length;
        cv::magnitude(parts[0], parts[1], length);
        m->mean_motion = cv::mean(length)[0];
        return m;
    } catch (const std::exception &e) {
        delete m;
        cvision::set_error(error, error_size, std::string("optical flow failed: ") + e.what());
        return nullptr;
    } catch (...) {
        delete m;
        cvision::set_error(error, error_size, "optical flow failed");
        return nullptr;
    }
}

int32_t cvision_morph_frame(const cvision_morph *m, double t, const cvision_yuv420_out *out,
                            char *error, size_t error_size) {
    if (m == nullptr || !valid(out) || out->width != m->a[0].cols || out->height != m->a[0].rows ||
        !(t >= 0 && t <= 1)) {
        cvision::set_error(error, error_size, "invalid arguments to cvision_morph_frame");
        return -1;
    }
    return cvision::guarded(error, error_size, "morph", int32_t{-1}, [&]() -> int32_t {
        cv::Mat map, warped_a, warped_b;
        for (int i = 0; i < 3; i++) {
            const int f = i == 0 ? 0 : 1;
            // a's content moves forward by t along a→b; b's comes back by 1 − t along b→a.
            warp_maps(m->ab[f], t, map);
            cv::remap(m->a[i], warped_a, map, cv::noArray(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
            warp_maps(m->ba[f], 1 - t, map);
            cv::remap(m->b[i], warped_b, map, cv::noArray(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
            cv::Mat target = view(out, i);
            cv::addWeighted(warped_a, 1 - t, warped_b, t, 0, target);
        }
        return 0;
    });
}

double cvision_morph_mean_motion(const cvision_morph *m) { return m == nullptr ? 0 : m->mean_motion; }

void cvision_morph_free(cvision_morph *m) { delete m; }

int32_t cvision_zoom(const cvision_yuv420 *in, double scale, double center_x, double center_y,
                     const cvision_yuv420_out *out, char *error, size_t error_size) {
    if (!valid(in) || !valid(out) || in->width != out->width || in->height != out->height ||
        !(scale >= 1 && scale <= 8) || !std::isfinite(center_x) || !std::isfinite(center_y)) {
        cvision::set_error(error, error_size, "invalid arguments to cvision_zoom");
        return -1;
    }
    return cvision::guarded(error, error_size, "zoom", int32_t{-1}, [&]() -> int32_t {
        const double w = in->width, h = in->height;
        const double window_w = w / scale, window_h = h / scale;
        const double x0 = std::clamp(center_x - window_w / 2, 0.0, w - window_w);
        const double y0 = std::clamp(center_y - window_h / 2, 0.0, h - window_h);
        for (int i = 0; i < 3; i++) {
            const double k = i == 0 ? 1.0 : 0.5;
            // Output pixel (x, y) shows input pixel (x0 + x / scale, y0 + y / scale).
            cv::Mat to_source = (cv::Mat_<double>(2, 3) << 1 / scale, 0, x0 * k, 0, 1 / scale, y0 * k);
            cv::Mat source = view(in, i), target = view(out, i);
            cv::Mat result;
            cv::warpAffine(source, result, to_source, target.size(), cv::INTER_CUBIC | cv::WARP_INVERSE_MAP,
                           cv::BORDER_REPLICATE);
            result.copyTo(target);
        }
        return 0;
    });
}

int32_t cvision_zoom_pan_rgb(const uint8_t *in, uint8_t *out, int32_t width, int32_t height, double zoom,
                             double pan_x, double pan_y, char *error, size_t error_size) {
    if (in == nullptr || out == nullptr || in == out || width < 1 || height < 1 || !(zoom >= 1 && zoom <= 8) ||
        !std::isfinite(pan_x) || !std::isfinite(pan_y)) {
        cvision::set_error(error, error_size, "invalid arguments to cvision_zoom_pan_rgb");
        return -1;
    }
    return cvision::guarded(error, error_size, "zoom", int32_t{-1}, [&]() -> int32_t {
        const cv::Mat source(height, width, CV_8UC3, const_cast<uint8_t *>(in));
        cv::Mat target(height, width, CV_8UC3, out);
        // u = c + (i + 1/2 - size/2) / zoom - 1/2 = i / zoom + offset, with c = size/2 + pan * size.
        auto offset = [zoom](double size, double pan) {
            return size / 2 + pan * size + (0.5 - size / 2) / zoom - 0.5;
        };
        cv::Mat to_source =
            (cv::Mat_<double>(2, 3) << 1 / zoom, 0, offset(width, pan_x), 0, 1 / zoom, offset(height, pan_y));
        cv::warpAffine(source, target, to_source, target.size(), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP,
                       cv::BORDER_REPLICATE);
        return 0;
    });
}

double cvision_sharpness(const uint8_t *gray, int32_t width, int32_t height, int32_t stride,
                         double sigma, char *error, size_t error_size) {
    if (gray == nullptr || width <= 2 || height <= 2 || stride < width || !(sigma >= 0)) {
        cvision::set_error(error, error_size, "invalid arguments to cvision_sharpness");
        return -1;
    }
    return cvision::guarded(error, error_size, "sharpness", -1.0, [&]() -> double {
        const cv::Mat image(height, width, CV_8UC1, const_cast<uint8_t *>(gray), static_cast<size_t>(stride));
        cv::Mat blurred, lap;
        if (sigma > 0) {
            image.convertTo(blurred, CV_32F);
            cv::GaussianBlur(blurred, blurred, cv::Size(0, 0), sigma, sigma, cv::BORDER_REPLICATE);
        } else {
            image.convertTo(blurred, CV_32F);
        }
        cv::Laplacian(blurred, lap, CV_32F, 1, 1, 0, cv::BORDER_REPLICATE);
        cv::Scalar mean, deviation;
        cv::meanStdDev(lap, mean, deviation);
        return deviation[0] * deviation[0];
    });
}
