// The colour match's measured region, followed as a clip's content moves: corners of the
// region's middle tracked frame to frame on small, normalised luma, and a similarity fitted to
// where they went since the first frame. Every OpenCV object lives and dies in this file.
#include "cvision_color_motion.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/video/tracking.hpp>

#include "errors.hpp"

/// x' = a·x − b·y + tx, y' = b·x + a·y + ty: a scale, a rotation and a shift.
struct Similarity {
    double a = 1, b = 0, tx = 0, ty = 0;
    cv::Point2d operator()(cv::Point2d p) const { return {a * p.x - b * p.y + tx, b * p.x + a * p.y + ty}; }
    double scale() const { return std::hypot(a, b); }
    Similarity inverse() const {
        const double d = a * a + b * b;
        Similarity r;
        r.a = a / d, r.b = -b / d;
        r.tx = -(r.a * tx - r.b * ty), r.ty = -(r.b * tx + r.a * ty);
        return r;
    }
};

struct cvision_motion {
    cvision_region region{};
    int max_side = 0;
    bool started = false;
    int width = 0, height = 0;
    // The luma is scaled down by a whole `factor` (the fast area average) to `size`; the frame
    // spans (width, height) / factor small pixels.
    int factor = 1;
    cv::Size size;
    // The previous frame's small luma, and its pyramid (with derivatives) for the tracking.
    cv::Mat previous;
    std::vector<cv::Mat> pyramid;
    // Where the tracked points are now, and where each was in the first frame (small-luma pixels).
    std::vector<cv::Point2f> points, origins;
    size_t detected = 0;
    // The first frame's small-luma pixels to this frame's.
    Similarity motion;
};

namespace {

constexpr int kMaxCorners = 48;
constexpr double kForwardBackward = 0.5;  // small-luma pixels
constexpr double kInlier = 1.0;           // small-luma pixels
constexpr int kIterations = 32;
const cv::Size kWindow(11, 11);
constexpr int kLevels = 2;

/// The pyramid the tracking reads, built once per frame for both directions.
std::vector<cv::Mat> pyramid_of(const cv::Mat &gray) {
    std::vector<cv::Mat> pyramid;
    cv::buildOpticalFlowPyramid(gray, pyramid, kWindow, kLevels, true);
    return pyramid;
}

bool valid(const cvision_yuv420 *p) {
    return p != nullptr && p->width > 1 && p->height > 1 && p->planes[0] != nullptr && p->strides[0] >= p->width;
}

/// The least-squares similarity taking `from` to `to` over the pairs `chosen`.
Similarity fit(const std::vector<cv::Point2f> &from, const std::vector<cv::Point2f> &to, const std::vector<int> &chosen) {
    Similarity s;
    if (chosen.size() < 2) return s;
    cv::Point2d mf(0, 0), mt(0, 0);
    for (int i : chosen) mf += cv::Point2d(from[i]), mt += cv::Point2d(to[i]);
    mf /= static_cast<double>(chosen.size()), mt /= static_cast<double>(chosen.size());
    double sxx = 0, sa = 0, sb = 0;
    for (int i : chosen) {
        const cv::Point2d p = cv::Point2d(from[i]) - mf, q = cv::Point2d(to[i]) - mt;
        sxx += p.x * p.x + p.y * p.y;
        sa += p.x * q.x + p.y * q.y;
        sb += p.x * q.y - p.y * q.x;
    }
    if (!(sxx > 1e-9)) return s;
    s.a = sa / sxx, s.b = sb / sxx;
    s.tx = mt.x - (s.a * mf.x - s.b * mf.y);
    s.ty = mt.y - (s.b * mf.x + s.a * mf.y);
    return s;
}

std::vector<int> inliers(const Similarity &s, const std::vector<cv::Point2f> &from, const std::vector<cv::Point2f> &to) {
    std::vector<int> chosen;
    for (size_t i = 0; i < from.size(); i++) {
        const cv::Point2d d = s(cv::Point2d(from[i])) - cv::Point2d(to[i]);
        if (d.x * d.x + d.y * d.y <= kInlier * kInlier) chosen.push_back(static_cast<int>(i));
    }
    return chosen;
}

/// The similarity most pairs agree on (pairs of points drawn by a fixed sequence, so the same
/// points give the same answer), refitted on its inliers; false when fewer than half the points
/// (or fewer than four) agree.
bool robust_fit(const std::vector<cv::Point2f> &from, const std::vector<cv::Point2f> &to, Similarity &result,
                std::vector<int> &agreeing) {
    const size_t n = from.size();
    if (n < 4) return false;
    uint64_t state = 0x9E3779B97F4A7C15ull;
    auto next = [&state](size_t bound) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        return static_cast<size_t>((state >> 33) % bound);
    };
    std::vector<int> best;
    for (int k = 0; k < kIterations; k++) {
        const int i = static_cast<int>(next(n)), j = static_cast<int>(next(n));
        if (i == j) continue;
        const Similarity s = fit(from, to, {i, j});
        if (!(s.scale() > 0.25 && s.scale() < 4)) continue;
        std::vector<int> chosen = inliers(s, from, to);
        if (chosen.size() > best.size()) best.swap(chosen);
    }
    if (best.size() < 4 || 2 * best.size() < n) return false;
    Similarity refined = fit(from, to, best);
    std::vector<int> chosen = inliers(refined, from, to);
    if (chosen.size() >= best.size()) {
        refined = fit(from, to, chosen);
        best.swap(chosen);
    }
    if (!(refined.scale() > 0.25 && refined.scale() < 4)) return false;
    result = refined;
    agreeing.swap(best);
    return true;
}

/// The luma scaled down to the tracker's size, its brightness and contrast normalised (a change
/// of lighting or a colour drift leaves the corners where they are).
cv::Mat small_luma(const cvision_yuv420 *picture, cv::Size size, int factor) {
    const cv::Mat luma(picture->height, picture->width, CV_8UC1, const_cast<uint8_t *>(picture->planes[0]),
                       static_cast<size_t>(picture->strides[0]));
    cv::Mat small;
    cv::resize(luma(cv::Rect(0, 0, size.width * factor, size.height * factor)), small, size, 0, 0, cv::INTER_AREA);
    cv::Scalar mean, deviation;
    cv::meanStdDev(small, mean, deviation);
    const double alpha = 40.0 / std::max(1.0, deviation[0]);
    cv::Mat normalised;
    small.convertTo(normalised, CV_8U, alpha, 128 - alpha * mean[0]);
    return normalised;
}

/// Corners of the middle of the region (half its width and height) as it lies now.
void detect(cvision_motion &m, const cv::Mat &gray) {
    const Similarity &s = m.motion;
    const double w = static_cast<double>(m.width) / m.factor, h = static_cast<double>(m.height) / m.factor;
    const cv::Point2d centre =
        s(cv::Point2d((m.region.x + m.region.width / 2) * w, (m.region.y + m.region.height / 2) * h));
    const double half_w = m.region.width * w * s.scale() / 4, half_h = m.region.height * h * s.scale() / 4;
    const int x0 = std::clamp(static_cast<int>(std::floor(centre.x - half_w)), 0, m.size.width);
    const int x1 = std::clamp(static_cast<int>(std::ceil(centre.x + half_w)), 0, m.size.width);
    const int y0 = std::clamp(static_cast<int>(std::floor(centre.y - half_h)), 0, m.size.height);
    const int y1 = std::clamp(static_cast<int>(std::ceil(centre.y + half_h)), 0, m.size.height);
    m.points.clear(), m.origins.clear(), m.detected = 0;
    if (x1 - x0 < 8 || y1 - y0 < 8) return;
    cv::Mat mask = cv::Mat::zeros(m.size, CV_8UC1);
    mask(cv::Rect(x0, y0, x1 - x0, y1 - y0)).setTo(255);
    const double spacing = std::max(3.0, std::min(x1 - x0, y1 - y0) / 12.0);
    std::vector<cv::Point2f> corners;
    cv::goodFeaturesToTrack(gray, corners, kMaxCorners, 0.01, spacing, mask, 5);
    const Similarity back = s.inverse();
    for (const cv::Point2f &p : corners) {
        m.points.push_back(p);
        const cv::Point2d o = back(cv::Point2d(p));
        m.origins.emplace_back(static_cast<float>(o.x), static_cast<float>(o.y));
    }
    m.detected = m.points.size();
}

/// The region as it lies now, its centre kept inside the frame.
cvision_region moved_region(const cvision_motion &m) {
    const double w = static_cast<double>(m.width) / m.factor, h = static_cast<double>(m.height) / m.factor;
    const cv::Point2d centre =
        m.motion(cv::Point2d((m.region.x + m.region.width / 2) * w, (m.region.y + m.region.height / 2) * h));
    const double scale = m.motion.scale();
    const double width = m.region.width * scale, height = m.region.height * scale;
    const double cx = std::clamp(centre.x / w, 0.0, 1.0), cy = std::clamp(centre.y / h, 0.0, 1.0);
    return cvision_region{cx - width / 2, cy - height / 2, width, height};
}

/// One step of `cvision_motion_track`: `picture` valid and of the clip's size.
void track(cvision_motion &m, const cvision_yuv420 *picture, cvision_region *moved) {
    if (!m.started) {
        m.width = picture->width, m.height = picture->height;
        const int side = std::max(picture->width, picture->height);
        m.factor = std::max(1, (side + m.max_side - 1) / m.max_side);
        m.size = cv::Size(picture->width / m.factor, picture->height / m.factor);
        m.started = true;
        if (m.size.width >= 16 && m.size.height >= 16) {
            m.previous = small_luma(picture, m.size, m.factor);
            m.pyramid = pyramid_of(m.previous);
            detect(m, m.previous);
        }
        *moved = m.region;
        return;
    }
    if (m.previous.empty()) {
        *moved = m.region;
        return;
    }
    cv::Mat gray = small_luma(picture, m.size, m.factor);
    std::vector<cv::Mat> pyramid = pyramid_of(gray);
    if (!m.points.empty()) {
        std::vector<cv::Point2f> forward, backward;
        std::vector<uint8_t> status_f, status_b;
        std::vector<float> errors;
        const cv::TermCriteria stop(cv::TermCriteria::COUNT | cv::TermCriteria::EPS, 10, 0.03);
        cv::calcOpticalFlowPyrLK(m.pyramid, pyramid, m.points, forward, status_f, errors, kWindow, kLevels, stop);
        cv::calcOpticalFlowPyrLK(pyramid, m.pyramid, forward, backward, status_b, errors, kWindow, kLevels, stop);
        std::vector<cv::Point2f> kept, origins;
        for (size_t i = 0; i < m.points.size(); i++) {
            if (!status_f[i] || !status_b[i]) continue;
            const cv::Point2f d = backward[i] - m.points[i];
            if (d.x * d.x + d.y * d.y > kForwardBackward * kForwardBackward) continue;
            const cv::Point2f p = forward[i];
            if (p.x < 0 || p.y < 0 || p.x > m.size.width - 1 || p.y > m.size.height - 1) continue;
            kept.push_back(p);
            origins.push_back(m.origins[i]);
        }
        Similarity fitted;
        std::vector<int> agreeing;
        if (robust_fit(origins, kept, fitted, agreeing)) {
            m.motion = fitted;
            m.points.clear(), m.origins.clear();
            for (int i : agreeing) m.points.push_back(kept[i]), m.origins.push_back(origins[i]);
        } else {
            m.points.swap(kept), m.origins.swap(origins);
        }
    }
    if (2 * m.points.size() < m.detected || m.points.size() < 8) {
        const std::vector<cv::Point2f> points = m.points, origins = m.origins;
        detect(m, gray);
        // Points still tracked well are kept as they are (their first-frame places are known
        // better than the fit gives them).
        if (m.points.size() < points.size()) m.points = points, m.origins = origins, m.detected = points.size();
    }
    m.previous = gray;
    m.pyramid.swap(pyramid);
    *moved = moved_region(m);
}

/// Runs `f` on the calling thread alone. OpenCV runs a parallel loop that starts inside
/// another one serially (a process-wide flag), and a loop of one iteration runs on the caller:
/// so wrapped, the tracking's resizing, pyramids and optical flow (a few dozen points on a
/// picture of 240 pixels, every fourth frame) are not handed to the worker threads, which
/// cost more CPU to wake and synchronise than the work they take: 0.34 ms of CPU a frame
/// instead of 0.57, for the same result (each point and row is computed the same either way).
/// While it runs, another thread's OpenCV loops run serially too, as they do whenever two
/// threads start them at once.
template <typename F>
void serially(F &&f) {
    cv::parallel_for_(cv::Range(0, 1), [&](const cv::Range &) { f(); });
}

}  // namespace

cvision_motion *cvision_motion_create(const cvision_region *region, int32_t max_side, char *error, size_t error_size) {
    if (region == nullptr || !(region->width > 0 && region->height > 0) || !std::isfinite(region->x) ||
        !std::isfinite(region->y) || !std::isfinite(region->width) || !std::isfinite(region->height) ||
        max_side < 32) {
        cvision::set_error(error, error_size, "invalid arguments to cvision_motion_create");
        return nullptr;
    }
    return cvision::guarded(error, error_size, "motion tracking", static_cast<cvision_motion *>(nullptr),
                            [&]() -> cvision_motion * {
                                auto *m = new cvision_motion();
                                m->region = *region;
                                m->max_side = max_side;
                                return m;
                            });
}

int32_t cvision_motion_track(cvision_motion *motion, const cvision_yuv420 *picture, cvision_region *moved, char *error,
                             size_t error_size) {
    if (motion == nullptr || moved == nullptr || !valid(picture)) {
        cvision::set_error(error, error_size, "invalid arguments to cvision_motion_track");
        return -1;
    }
    if (motion->started && (picture->width != motion->width || picture->height != motion->height)) {
        cvision::set_error(error, error_size, "cvision_motion_track: the clip's frames change size");
        return -1;
    }
    return cvision::guarded(error, error_size, "motion tracking", int32_t{-1}, [&]() -> int32_t {
        serially([&] { track(*motion, picture, moved); });
        return 0;
    });
}

void cvision_motion_free(cvision_motion *motion) { delete motion; }
