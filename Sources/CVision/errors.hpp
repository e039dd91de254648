// CVision's internal helper: copying a reason into the caller's error buffer.
#ifndef CVISION_ERRORS_HPP
#define CVISION_ERRORS_HPP

#include <cstddef>
#include <cstring>
#include <string>

namespace cvision {

/// Copies `message` into `buffer` (truncated, always terminated) when there is one.
inline void set_error(char *buffer, size_t size, const std::string &message) {
    if (buffer == nullptr || size == 0) return;
    size_t n = message.size() < size - 1 ? message.size() : size - 1;
    std::memcpy(buffer, message.data(), n);
    buffer[n] = '\0';
}

}  // namespace cvision

#endif
