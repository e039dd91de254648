// Colour correction of YUV 4:2:0 pictures by an affine map of Lab colours: the map is made into
// a table over a 17×17×17 grid of YUV values, and every pixel is interpolated trilinearly from it.
//
// A corrected clip maps every frame, each with a map of its own, so both halves are kept cheap:
// - the table: the Lab colour of each grid point does not depend on the map and is computed once
//   per encoding; the way back (Lab → linear → encoded) takes no pow (`fast_encoded`); only the
//   columns of it that the picture's chroma needs are made; a map bit-equal to the thread's
//   previous one (a repeated frame) reuses what its table has;
// - the pixels: the table's three channels are blended at once (one 4-float vector an entry),
//   and a block's luma samples share the blend of the cell its mean falls in.
#include "cvision_color.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <vector>

#include "color_space.hpp"
#include "errors.hpp"

namespace {

using namespace cvision::color;

constexpr int kGrid = 17;
constexpr int kEntries = kGrid * kGrid * kGrid;

/// The value at grid position p (0…kGrid−1) in code values.
double grid_value(int p) { return p * 255.0 / (kGrid - 1); }

/// An entry of the table: Y, U, V (code values, unclamped) and a lane of padding.
typedef float Entry __attribute__((vector_size(16)));

Entry splat(float x) { return Entry{x, x, x, x}; }

/// The Lab colour of every grid point of one encoding, in table order: the half of the table
/// that does not depend on the map.
struct GridLab {
    std::vector<std::array<double, 3>> lab;
    explicit GridLab(cvision_yuv_encoding encoding) : lab(kEntries) {
        const YUVCoding coding(encoding);
        for (int iy = 0; iy < kGrid; iy++) {
            for (int iu = 0; iu < kGrid; iu++) {
                for (int iv = 0; iv < kGrid; iv++) {
                    double encoded[3], rgb[3];
                    coding.to_rgb(grid_value(iy), grid_value(iu), grid_value(iv), encoded);
                    for (int c = 0; c < 3; c++) rgb[c] = to_linear(encoded[c]);
                    linear_to_lab(rgb, lab[(iy * kGrid + iu) * kGrid + iv].data());
                }
            }
        }
    }
};

/// The grid's Lab colours for `encoding`, made on first use (4 encodings at most).
const GridLab &grid_lab(cvision_yuv_encoding encoding) {
    const bool bt709 = encoding.matrix == CVISION_MATRIX_BT709, full = encoding.full_range != 0;
    if (bt709) {
        if (full) {
            static const GridLab table(cvision_yuv_encoding{CVISION_MATRIX_BT709, 1});
            return table;
        }
        static const GridLab table(cvision_yuv_encoding{CVISION_MATRIX_BT709, 0});
        return table;
    }
    if (full) {
        static const GridLab table(cvision_yuv_encoding{CVISION_MATRIX_BT601, 1});
        return table;
    }
    static const GridLab table(cvision_yuv_encoding{CVISION_MATRIX_BT601, 0});
    return table;
}

/// `to_encoded` without pow: a^(1/2.4) = a^(1/4) · a^(1/6) = √√a · √∛a (within a few units in
/// the last place of pow's, far below a code value).
double fast_encoded(double l) {
    const double a = std::fabs(l);
    const double c = a <= 0.0031308 ? a * 12.92 : 1.055 * (std::sqrt(std::sqrt(a)) * std::sqrt(std::cbrt(a))) - 0.055;
    return l < 0 ? -c : c;
}

/// The map over the grid of YUV values, in code values (unclamped), made column by column (the
/// 17 luma entries of one (u, v) grid point) as pictures need them: a picture's chroma covers
/// a small part of the (u, v) plane.
struct Table {
    std::vector<Entry> entries = std::vector<Entry>(kEntries);
    std::array<bool, kGrid * kGrid> made{};
    cvision_lab_affine map{};
    cvision_yuv_encoding encoding{-1, -1};

    /// Starts the table of `m` for `e`, keeping the columns made when they are for the same map
    /// (bit-equal) and encoding.
    void use(const cvision_lab_affine &m, cvision_yuv_encoding e) {
        if (encoding.matrix == e.matrix && encoding.full_range == e.full_range && std::memcmp(&map, &m, sizeof m) == 0)
            return;
        made.fill(false);
        map = m;
        encoding = e;
    }

    /// Makes the columns around each (u, v) grid cell marked in `cells` (16×16) that are not made yet.
    void make(const std::array<bool, (kGrid - 1) * (kGrid - 1)> &cells) {
        const GridLab &grid = grid_lab(encoding);
        const YUVCoding coding(encoding);
        for (int cu = 0; cu < kGrid - 1; cu++) {
            for (int cv = 0; cv < kGrid - 1; cv++) {
                if (!cells[cu * (kGrid - 1) + cv]) continue;
                for (int iu = cu; iu <= cu + 1; iu++) {
                    for (int iv = cv; iv <= cv + 1; iv++) {
                        if (made[iu * kGrid + iv]) continue;
                        for (int iy = 0; iy < kGrid; iy++) make_entry((iy * kGrid + iu) * kGrid + iv, grid, coding);
                        made[iu * kGrid + iv] = true;
                    }
                }
            }
        }
    }

    void make_entry(int i, const GridLab &grid, const YUVCoding &coding) {
        const double *lab = grid.lab[i].data();
        const cvision_lab_affine &m = map;
        double mapped[3], rgb[3], encoded[3], yuv[3];
        for (int k = 0; k < 3; k++)
            mapped[k] = m.m[3 * k] * lab[0] + m.m[3 * k + 1] * lab[1] + m.m[3 * k + 2] * lab[2] + m.offset[k];
        lab_to_linear(mapped, rgb);
        for (int c = 0; c < 3; c++) encoded[c] = fast_encoded(rgb[c]);
        coding.to_yuv(encoded, yuv);
        entries[i] = Entry{static_cast<float>(yuv[0]), static_cast<float>(yuv[1]), static_cast<float>(yuv[2]), 0};
    }
};

/// The identity map, exactly: a frame mapped by it is left as it is.
bool is_identity(const cvision_lab_affine &m) {
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++)
            if (m.m[3 * i + j] != (i == j ? 1.0 : 0.0)) return false;
        if (m.offset[i] != 0) return false;
    }
    return true;
}

/// Grid cell and position inside it of each luma or chroma code value (`cell`, `fraction`) and
/// of each sum of four luma samples, i.e. the mean of a block (`sum_cell`, `sum_fraction`).
struct Cells {
    int cell[256];
    float fraction[256];
    int sum_cell[1021];
    float sum_fraction[1021];
    Cells() {
        for (int v = 0; v < 256; v++) {
            float p = v * static_cast<float>(kGrid - 1) / 255.0f;
            cell[v] = std::min(kGrid - 2, static_cast<int>(p));
            fraction[v] = p - cell[v];
        }
        for (int s = 0; s < 1021; s++) {
            float p = (s / 4.0f) * static_cast<float>(kGrid - 1) / 255.0f;
            sum_cell[s] = std::min(kGrid - 2, static_cast<int>(p));
            sum_fraction[s] = p - sum_cell[s];
        }
    }
};

const Cells &cells() {
    static const Cells table;
    return table;
}

/// Clamped first, so adding ½ and truncating rounds (halves up), without libm's lround.
inline uint8_t to_byte(float value) { return static_cast<uint8_t>(std::clamp(value, 0.0f, 255.0f) + 0.5f); }

/// The four (u, v) corners around `corner` (the table at luma cell 0), blended by `w`, at luma cell `iy`.
inline Entry blend(const Entry *corner, int iy, const Entry w[4]) {
    const Entry *p = corner + iy * (kGrid * kGrid);
    return w[0] * p[0] + w[1] * p[1] + w[2] * p[kGrid] + w[3] * p[kGrid + 1];
}

/// Luma sample `y` mapped, with its block's chroma (`corner`, `w`): the blend of luma cell `iy`
/// (`low`, `high`) is the block's own, computed for its chroma.
inline uint8_t luma_sample(int y, const Cells &grid, const Entry *corner, const Entry w[4], int iy, Entry low, Entry high) {
    const int cell = grid.cell[y];
    float l = low[0], h = high[0];
    if (cell != iy) {
        l = blend(corner, cell, w)[0];
        h = blend(corner, cell + 1, w)[0];
    }
    return to_byte(l + (h - l) * grid.fraction[y]);
}

/// Maps the pixels of `picture` by `table`, first making the columns of it they need.
void map_pixels(const cvision_yuv420_out &picture, Table &map) {
    const Cells &grid = cells();
    const int cw = (picture.width + 1) / 2, ch = (picture.height + 1) / 2;
    std::array<bool, (kGrid - 1) * (kGrid - 1)> used{};
    for (int cy = 0; cy < ch; cy++) {
        const uint8_t *u_row = picture.planes[1] + static_cast<size_t>(cy) * picture.strides[1];
        const uint8_t *v_row = picture.planes[2] + static_cast<size_t>(cy) * picture.strides[2];
        for (int cx = 0; cx < cw; cx++) used[grid.cell[u_row[cx]] * (kGrid - 1) + grid.cell[v_row[cx]]] = true;
    }
    map.make(used);
    const Entry *table = map.entries.data();
    for (int cy = 0; cy < ch; cy++) {
        uint8_t *u_row = picture.planes[1] + static_cast<size_t>(cy) * picture.strides[1];
        uint8_t *v_row = picture.planes[2] + static_cast<size_t>(cy) * picture.strides[2];
        const int rows = std::min(2, picture.height - 2 * cy);
        uint8_t *luma_rows[2];
        for (int r = 0; r < 2; r++)
            luma_rows[r] = picture.planes[0] + static_cast<size_t>(2 * cy + std::min(r, rows - 1)) * picture.strides[0];
        for (int cx = 0; cx < cw; cx++) {
            const int u = u_row[cx], v = v_row[cx];
            const float fu = grid.fraction[u], fv = grid.fraction[v];
            const Entry w[4] = {splat((1 - fu) * (1 - fv)), splat((1 - fu) * fv), splat(fu * (1 - fv)), splat(fu * fv)};
            const Entry *corner = table + grid.cell[u] * kGrid + grid.cell[v];
            const int columns = std::min(2, picture.width - 2 * cx);
            // Read the block's luma before writing any of it.
            int luma[2][2];
            for (int r = 0; r < 2; r++)
                for (int c = 0; c < 2; c++) luma[r][c] = luma_rows[r][2 * cx + std::min(c, columns - 1)];
            const int sum = luma[0][0] + luma[0][1] + luma[1][0] + luma[1][1];
            // The chroma, at the block's mean luma; the luma samples in the same cell share its blend.
            const int iy = grid.sum_cell[sum];
            const Entry low = blend(corner, iy, w), high = blend(corner, iy + 1, w);
            const Entry mean = low + (high - low) * splat(grid.sum_fraction[sum]);
            u_row[cx] = to_byte(mean[1]);
            v_row[cx] = to_byte(mean[2]);
            // A whole block (all but the last column and row of an odd-sized picture) in straight code.
            if (rows == 2 && columns == 2) {
                luma_rows[0][2 * cx] = luma_sample(luma[0][0], grid, corner, w, iy, low, high);
                luma_rows[0][2 * cx + 1] = luma_sample(luma[0][1], grid, corner, w, iy, low, high);
                luma_rows[1][2 * cx] = luma_sample(luma[1][0], grid, corner, w, iy, low, high);
                luma_rows[1][2 * cx + 1] = luma_sample(luma[1][1], grid, corner, w, iy, low, high);
                continue;
            }
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < columns; c++) luma_rows[r][2 * cx + c] = luma_sample(luma[r][c], grid, corner, w, iy, low, high);
        }
    }
}

}  // namespace

int32_t cvision_color_apply(const cvision_yuv420_out *picture, cvision_yuv_encoding encoding,
                            const cvision_lab_affine *map, char *error, size_t error_size) {
    if (picture == nullptr || map == nullptr) {
        cvision::set_error(error, error_size, "invalid arguments to cvision_color_apply");
        return -1;
    }
    const uint8_t *planes[3] = {picture->planes[0], picture->planes[1], picture->planes[2]};
    if (!valid_picture(planes, picture->strides, picture->width, picture->height)) {
        cvision::set_error(error, error_size, "invalid arguments to cvision_color_apply");
        return -1;
    }
    for (int i = 0; i < 12; i++) {
        if (!std::isfinite(i < 9 ? map->m[i] : map->offset[i - 9])) {
            cvision::set_error(error, error_size, "cvision_color_apply: a map that is not finite");
            return -1;
        }
    }
    if (is_identity(*map)) return 0;
    return cvision::guarded(error, error_size, "colour correction", int32_t{-1}, [&]() -> int32_t {
        // Each thread keeps the table of the last map it applied (a corrected clip is mapped
        // frame by frame on one thread).
        thread_local Table table;
        table.use(*map, encoding);
        map_pixels(*picture, table);
        return 0;
    });
}
