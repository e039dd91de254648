// Face detection with OpenCV's Haar cascade; every OpenCV object lives and dies in this file.
#include "cvision_face.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include "errors.hpp"

namespace {

/// Whether a face box holds a pair of eyes where a face's eyes are: two eye detections in the
/// upper 60% of the box, one in each half, about level, of similar size, each 1/8 to 1/2 of the
/// box's width. The region is searched at 160 pixels across, so that the rule is the same for
/// every face size. A box around a whole head or a person (the cascade sometimes boxes a small
/// person's head several times too large) has eyes far smaller than that, or none.
bool has_eye_pair(cv::CascadeClassifier &eyes, const cv::Mat &image, cv::Rect box) {
    box &= cv::Rect(0, 0, image.cols, image.rows);
    int band = static_cast<int>(box.height * 0.6);
    if (box.width < 8 || band < 4) return false;
    const int across = 160;
    double scale = static_cast<double>(across) / box.width;
    cv::Mat region;
    cv::resize(image(cv::Rect(box.x, box.y, box.width, band)), region,
               cv::Size(across, std::max(1, static_cast<int>(band * scale))), 0, 0,
               scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    cv::equalizeHist(region, region);
    std::vector<cv::Rect> found;
    eyes.detectMultiScale(region, found, 1.1, 3, 0, cv::Size(across / 8, across / 8),
                          cv::Size(across / 2, across / 2));
    for (const cv::Rect &a : found) {
        for (const cv::Rect &b : found) {
            double ax = a.x + a.width / 2.0, bx = b.x + b.width / 2.0;
            double ay = a.y + a.height / 2.0, by = b.y + b.height / 2.0;
            bool sides = ax < across / 2.0 && bx > across / 2.0;
            bool apart = bx - ax > 0.2 * across && bx - ax < 0.7 * across;
            bool level = std::abs(ay - by) < 0.15 * across;
            bool alike = std::max(a.width, b.width) < 1.6 * std::min(a.width, b.width);
            if (sides && apart && level && alike) return true;
        }
    }
    return false;
}

} // namespace

int32_t cvision_detect_faces(const char *cascade_path, const char *eye_cascade_path,
                             const uint8_t *gray, int32_t width, int32_t height, int32_t stride,
                             int32_t max_side, double min_fraction, cvision_rect *faces,
                             int32_t capacity, int32_t *rejected, char *error, size_t error_size) {
    if (cascade_path == nullptr || gray == nullptr || width <= 0 || height <= 0 || stride < width ||
        max_side <= 0 || capacity < 0 || (capacity > 0 && faces == nullptr)) {
        cvision::set_error(error, error_size, "invalid arguments to cvision_detect_faces");
        return -1;
    }
    if (rejected != nullptr) *rejected = 0;
    return cvision::guarded(error, error_size, "face detection", int32_t{-1}, [&]() -> int32_t {
        cv::CascadeClassifier cascade;
        if (!cascade.load(cascade_path)) {
            cvision::set_error(error, error_size,
                               std::string("cannot read the face cascade ") + cascade_path);
            return -1;
        }
        cv::CascadeClassifier eyes;
        if (eye_cascade_path != nullptr && !eyes.load(eye_cascade_path)) {
            cvision::set_error(error, error_size,
                               std::string("cannot read the eye cascade ") + eye_cascade_path);
            return -1;
        }
        // A view of the caller's pixels: nothing is copied until the resize.
        const cv::Mat image(height, width, CV_8UC1, const_cast<uint8_t *>(gray),
                            static_cast<size_t>(stride));
        double scale = 1.0;
        cv::Mat small;
        int longer = std::max(width, height);
        if (longer > max_side) {
            scale = static_cast<double>(longer) / max_side;
            cv::resize(image, small,
                       cv::Size(std::max(1, static_cast<int>(width / scale)),
                                std::max(1, static_cast<int>(height / scale))),
                       0, 0, cv::INTER_AREA);
        } else {
            small = image.clone();
        }
        cv::equalizeHist(small, small);
        int shorter = std::min(small.cols, small.rows);
        int min_size = std::max(20, static_cast<int>(shorter * std::max(0.0, min_fraction)));
        std::vector<cv::Rect> found;
        cascade.detectMultiScale(small, found, 1.1, 5, 0, cv::Size(min_size, min_size));
        // In the caller's pixels; with an eye cascade, only boxes with a face's eyes are kept.
        std::vector<cv::Rect> kept;
        for (const cv::Rect &r : found) {
            int x = std::clamp(static_cast<int>(r.x * scale), 0, width - 1);
            int y = std::clamp(static_cast<int>(r.y * scale), 0, height - 1);
            cv::Rect box(x, y, std::clamp(static_cast<int>(r.width * scale), 1, width - x),
                         std::clamp(static_cast<int>(r.height * scale), 1, height - y));
            if (eye_cascade_path != nullptr && !has_eye_pair(eyes, image, box)) {
                if (rejected != nullptr) (*rejected)++;
                continue;
            }
            kept.push_back(box);
        }
        std::sort(kept.begin(), kept.end(),
                  [](const cv::Rect &a, const cv::Rect &b) { return a.area() > b.area(); });
        int32_t n = static_cast<int32_t>(kept.size());
        for (int32_t i = 0; i < std::min(n, capacity); i++) {
            const cv::Rect &r = kept[static_cast<size_t>(i)];
            faces[i] = cvision_rect{r.x, r.y, r.width, r.height};
        }
        return n;
    });
}
