// Face detection with OpenCV's Haar cascade; every OpenCV object lives and dies in this file.
#include "cvision_face.h"

#include <algorithm>
#include <exception>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include "errors.hpp"

int32_t cvision_detect_faces(const char *cascade_path, const uint8_t *gray, int32_t width,
                             int32_t height, int32_t stride, int32_t max_side, double min_fraction,
                             cvision_rect *faces, int32_t capacity, char *error, size_t error_size) {
    if (cascade_path == nullptr || gray == nullptr || width <= 0 || height <= 0 || stride < width ||
        max_side <= 0 || capacity < 0 || (capacity > 0 && faces == nullptr)) {
        cvision::set_error(error, error_size, "invalid arguments to cvision_detect_faces");
        return -1;
    }
    try {
        cv::CascadeClassifier cascade;
        if (!cascade.load(cascade_path)) {
            cvision::set_error(error, error_size,
                               std::string("cannot read the face cascade ") + cascade_path);
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
        std::sort(found.begin(), found.end(),
                  [](const cv::Rect &a, const cv::Rect &b) { return a.area() > b.area(); });
        int32_t n = static_cast<int32_t>(found.size());
        for (int32_t i = 0; i < std::min(n, capacity); i++) {
            const cv::Rect &r = found[static_cast<size_t>(i)];
            int x = std::clamp(static_cast<int>(r.x * scale), 0, width - 1);
            int y = std::clamp(static_cast<int>(r.y * scale), 0, height - 1);
            faces[i].x = x;
            faces[i].y = y;
            faces[i].width = std::clamp(static_cast<int>(r.width * scale), 1, width - x);
            faces[i].height = std::clamp(static_cast<int>(r.height * scale), 1, height - y);
        }
        return n;
    } catch (const std::exception &e) {
        cvision::set_error(error, error_size, std::string("face detection failed: ") + e.what());
        return -1;
    } catch (...) {
        cvision::set_error(error, error_size, "face detection failed");
        return -1;
    }
}
