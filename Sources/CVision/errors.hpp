// CVision's internal helpers: copying a reason into the caller's error buffer, and keeping
// every C++ exception on this side of the C interface.
#ifndef CVISION_ERRORS_HPP
#define CVISION_ERRORS_HPP

#include <cstddef>
#include <cstring>
#include <exception>
#include <string>

namespace cvision {

/// Copies `message` into `buffer` (truncated, always terminated) when there is one.
inline void set_error(char *buffer, size_t size, const std::string &message) {
    if (buffer == nullptr || size == 0) return;
    size_t n = message.size() < size - 1 ? message.size() : size - 1;
    std::memcpy(buffer, message.data(), n);
    buffer[n] = '\0';
}

/// Runs `body` and returns what it returns; an exception it throws becomes `failure`, with
/// "`what` failed: reason" in `buffer`. Every function of the C interface runs its OpenCV work
/// through this, so that no exception crosses into C or Swift.
template <typename Result, typename Body>
Result guarded(char *buffer, size_t size, const char *what, Result failure, Body body) {
    try {
        return body();
    } catch (const std::exception &e) {
        set_error(buffer, size, std::string(what) + " failed: " + e.what());
    } catch (...) {
        set_error(buffer, size, std::string(what) + " failed");
    }
    return failure;
}

}  // namespace cvision

#endif
