// Colour correction of YUV 4:2:0 pictures by an affine map of Lab colours: the map is made into
// a table over a 17×17×17 grid of YUV values, and every pixel is interpolated trilinearly from it.
//
// A corrected clip maps every frame, so both halves are kept cheap:
// - the table: the Lab colour of each grid point does not depend on the map and is computed once
//   per encoding; the way back (Lab → linear → encoded) takes no pow (`fast_encoded`); only the
//   grid columns that the pictures' chroma needs are made; a map bit-equal to the thread's
//   previous one (the plan holds a map over runs of frames) reuses all the table has;
// - the pixels: the trilinear blend is split, the (u, v) blend made once per distinct chroma pair
//   (a picture has a few thousand for tens of thousands of blocks, and the next frame mostly the
//   same ones), so each sample only interpolates along luma; a row of blocks has its columns
//   looked up first, then its samples mapped, eight blocks at a time with AVX2 where the CPU has
//   it (bit for bit as one by one).
#include "cvision_color.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

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

/// The map over the grid of YUV values, in code values (unclamped), made grid column by grid
/// column (the 17 luma entries of one (u, v) grid point) as pictures need them: a picture's
/// chroma covers a small part of the (u, v) plane.
struct Table {
    std::vector<Entry> entries = std::vector<Entry>(kEntries);
    std::array<bool, kGrid * kGrid> made{};
    cvision_lab_affine map{};
    cvision_yuv_encoding encoding{-1, -1};

    /// Starts the table of `m` for `e`, keeping what is made when it is for the same map
    /// (bit-equal) and encoding. Returns whether it was kept.
    bool use(const cvision_lab_affine &m, cvision_yuv_encoding e) {
        if (encoding.matrix == e.matrix && encoding.full_range == e.full_range && std::memcmp(&map, &m, sizeof m) == 0)
            return true;
        made.fill(false);
        map = m;
        encoding = e;
        return false;
    }

    /// The entry at luma cell 0 of grid column (iu, iv), the column made first if it is not yet.
    const Entry *column(int iu, int iv) {
        if (!made[iu * kGrid + iv]) {
            const GridLab &grid = grid_lab(encoding);
            const YUVCoding coding(encoding);
            for (int iy = 0; iy < kGrid; iy++) make_entry((iy * kGrid + iu) * kGrid + iv, grid, coding);
            made[iu * kGrid + iv] = true;
        }
        return entries.data() + iu * kGrid + iv;
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

/// The four (u, v) corners around `corner` (the table at luma cell 0), blended by `w`, at luma cell `iy`.
inline Entry blend(const Entry *corner, int iy, const Entry w[4]) {
    const Entry *p = corner + iy * (kGrid * kGrid);
    return w[0] * p[0] + w[1] * p[1] + w[2] * p[kGrid] + w[3] * p[kGrid + 1];
}

/// The table's column along luma at one (u, v) pair of chroma code values: the four grid
/// columns around the pair blended, one array a channel.
struct Column {
    float y[kGrid], u[kGrid], v[kGrid];
};

/// The columns of the (u, v) pairs pictures have, made on first use from `table` and kept
/// while its map is: a picture has a few thousand distinct pairs for tens of thousands of
/// blocks, and the next picture mostly the same ones, so each pair's blend is made once and a
/// block's samples only interpolate along luma.
struct Columns {
    /// Kept at most (3.3 MB): beyond, they are forgotten and made again as needed.
    static constexpr size_t most = 16384;
    /// The column of each pair (u · 256 + v), as an index into `columns` (−1: not made).
    std::vector<int32_t> slot = std::vector<int32_t>(256 * 256, -1);
    std::vector<uint16_t> pairs;
    std::vector<Column> columns;

    /// The index in `columns` of the column of (u, v) in `table`, made if it is not yet.
    int32_t index(int u, int v, const Cells &grid, Table &table) {
        const int key = (u << 8) | v;
        if (slot[key] >= 0) return slot[key];
        const float fu = grid.fraction[u], fv = grid.fraction[v];
        const Entry w[4] = {splat((1 - fu) * (1 - fv)), splat((1 - fu) * fv), splat(fu * (1 - fv)), splat(fu * fv)};
        const int iu = grid.cell[u], iv = grid.cell[v];
        const Entry *corner = table.column(iu, iv);
        table.column(iu, iv + 1), table.column(iu + 1, iv), table.column(iu + 1, iv + 1);
        slot[key] = static_cast<int32_t>(columns.size());
        pairs.push_back(static_cast<uint16_t>(key));
        Column &made = columns.emplace_back();
        for (int iy = 0; iy < kGrid; iy++) {
            const Entry e = blend(corner, iy, w);
            made.y[iy] = e[0], made.u[iy] = e[1], made.v[iy] = e[2];
        }
        return slot[key];
    }

    /// Makes room for `count` more columns: forgets them all (the slots of the pairs used
    /// only) when they would be more than `most`. Called before a row's columns are looked up,
    /// so that the indices of one row stay valid together.
    void reserve(size_t count) {
        if (columns.size() + count <= most) return;
        for (uint16_t key : pairs) slot[key] = -1;
        pairs.clear();
        columns.clear();
    }

    void clear() { reserve(most + 1); }
};

/// Rounded (halves up) and clamped to 0…255.
inline uint8_t to_byte(float value) {
    const int rounded = static_cast<int>(value + 0.5f);  // truncated: below −½ it ends at 0 too
    return static_cast<uint8_t>(std::clamp(rounded, 0, 255));
}

/// One row of blocks of a picture: its two luma rows (the same one twice for the last row of
/// an odd height), its chroma rows, and the column of each block's chroma pair.
struct BlockRow {
    uint8_t *luma[2], *u, *v;
    const int32_t *index;
    const Column *columns;
    int width;  // in luma samples
};

/// Maps blocks `from`…`to` − 1 of `row` one by one: each luma sample along its block's
/// column, the chroma at the block's mean luma (all read before any is written; the last
/// column of an odd width has the same sample written twice).
void map_blocks(const BlockRow &row, int from, int to, const Cells &grid) {
    auto luma = [&grid](const Column &column, int y) {
        const int cell = grid.cell[y];
        const float l = column.y[cell], h = column.y[cell + 1];
        return to_byte(l + (h - l) * grid.fraction[y]);
    };
    uint8_t *row0 = row.luma[0], *row1 = row.luma[1];
    for (int cx = from; cx < to; cx++) {
        const Column &column = row.columns[row.index[cx]];
        const int x0 = 2 * cx, x1 = std::min(2 * cx + 1, row.width - 1);
        const int a = row0[x0], b = row0[x1], c = row1[x0], d = row1[x1];
        const int sum = a + b + c + d, iy = grid.sum_cell[sum];
        const float f = grid.sum_fraction[sum];
        const uint8_t u = to_byte(column.u[iy] + (column.u[iy + 1] - column.u[iy]) * f);
        const uint8_t v = to_byte(column.v[iy] + (column.v[iy + 1] - column.v[iy]) * f);
        const uint8_t ya = luma(column, a), yb = luma(column, b), yc = luma(column, c), yd = luma(column, d);
        row.u[cx] = u;
        row.v[cx] = v;
        row0[x0] = ya;
        row0[x1] = yb;
        row1[x0] = yc;
        row1[x1] = yd;
    }
}

#if defined(__x86_64__)
/// The cell and the position in it of eight values (code values, or block sums ÷ 4), as
/// `Cells` has them.
CVISION_AVX2 void cells_avx2(__m256 value, __m256i &cell, __m256 &fraction) {
    const __m256 p = _mm256_div_ps(_mm256_mul_ps(value, _mm256_set1_ps(static_cast<float>(kGrid - 1))),
                                   _mm256_set1_ps(255.0f));
    cell = _mm256_min_epi32(_mm256_cvttps_epi32(p), _mm256_set1_epi32(kGrid - 2));
    fraction = _mm256_sub_ps(p, _mm256_cvtepi32_ps(cell));
}

/// Eight values of the columns at `base`, interpolated between the entries at `at` and the next
/// by `fraction`, as bytes (`to_byte`) in the low half. Each pair of entries is gathered as one
/// 64-bit element: half the loads of gathering them one by one.
CVISION_AVX2 __m128i interpolate_avx2(const float *base, __m256i at, __m256 fraction) {
    const long long *pairs = reinterpret_cast<const long long *>(base);
    const __m256 first = _mm256_castsi256_ps(_mm256_i32gather_epi64(pairs, _mm256_castsi256_si128(at), 4));
    const __m256 second = _mm256_castsi256_ps(_mm256_i32gather_epi64(pairs, _mm256_extracti128_si256(at, 1), 4));
    // (l0 h0 l1 h1 | l2 h2 l3 h3), (l4 h4 l5 h5 | l6 h6 l7 h7) → l0 l1 l4 l5 | l2 l3 l6 l7 → in order.
    const __m256 l = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(first, second, 0x88)), 0xd8));
    const __m256 h = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(first, second, 0xdd)), 0xd8));
    const __m256 value = _mm256_add_ps(l, _mm256_mul_ps(_mm256_sub_ps(h, l), fraction));
    const __m256i rounded = _mm256_cvttps_epi32(_mm256_add_ps(value, _mm256_set1_ps(0.5f)));
    const __m256i r = _mm256_min_epi32(_mm256_max_epi32(rounded, _mm256_setzero_si256()), _mm256_set1_epi32(255));
    const __m128i words = _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
    return _mm_packus_epi16(words, words);
}

/// `map_blocks` eight blocks at a time with AVX2 (the columns' values gathered), for the
/// blocks whose two luma columns are both inside the picture; returns the first block it left.
/// Bit-identical to `map_blocks`: the same float operations in the same order, no fused ones.
__attribute__((target("avx2"))) int map_blocks_avx2(const BlockRow &row, int blocks) {
    constexpr int stride = static_cast<int>(sizeof(Column) / sizeof(float));
    static_assert(sizeof(Column) == 3 * kGrid * sizeof(float), "a column is three arrays of floats");
    const float *base = row.columns[0].y;
    const __m256i pairs = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
    int cx = 0;
    for (; cx + 8 <= blocks && 2 * cx + 16 <= row.width; cx += 8) {
        const __m256i columns = _mm256_mullo_epi32(
            _mm256_loadu_si256(reinterpret_cast<const __m256i *>(row.index + cx)), _mm256_set1_epi32(stride));
        // The blocks' chroma, at their mean luma (read before any luma is written).
        const __m128i top_row = _mm_loadu_si128(reinterpret_cast<const __m128i *>(row.luma[0] + 2 * cx));
        const __m128i bottom_row = _mm_loadu_si128(reinterpret_cast<const __m128i *>(row.luma[1] + 2 * cx));
        const __m128i ones = _mm_set1_epi8(1);
        const __m128i sums = _mm_add_epi16(_mm_maddubs_epi16(top_row, ones), _mm_maddubs_epi16(bottom_row, ones));
        __m256i cell;
        __m256 fraction;
        cells_avx2(_mm256_div_ps(_mm256_cvtepi32_ps(_mm256_cvtepu16_epi32(sums)), _mm256_set1_ps(4.0f)), cell, fraction);
        const __m256i at = _mm256_add_epi32(columns, cell);
        const __m128i u = interpolate_avx2(base + kGrid, at, fraction);
        const __m128i v = interpolate_avx2(base + 2 * kGrid, at, fraction);
        // Each luma row, eight samples (four blocks) at a time.
        for (int r = 0; r < (row.luma[1] == row.luma[0] ? 1 : 2); r++) {
            uint8_t *samples = row.luma[r] + 2 * cx;
            __m128i out[2];
            for (int half_row = 0; half_row < 2; half_row++) {
                const __m256i four = _mm256_permutevar8x32_epi32(
                    half_row == 0 ? columns : _mm256_permute4x64_epi64(columns, 0x0e), pairs);
                const __m256i y = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(samples + 8 * half_row)));
                cells_avx2(_mm256_cvtepi32_ps(y), cell, fraction);
                out[half_row] = interpolate_avx2(base, _mm256_add_epi32(four, cell), fraction);
            }
            _mm_storeu_si128(reinterpret_cast<__m128i *>(samples), _mm_unpacklo_epi64(out[0], out[1]));
        }
        _mm_storel_epi64(reinterpret_cast<__m128i *>(row.u + cx), u);
        _mm_storel_epi64(reinterpret_cast<__m128i *>(row.v + cx), v);
    }
    return cx;
}

#endif

/// Maps the pixels of `picture` by `table`, through `columns` (made from it as needed): row of
/// blocks by row of blocks, first the column of every block looked up (or made), then the
/// samples mapped.
void map_pixels(const cvision_yuv420_out &picture, Table &table, Columns &columns) {
    const Cells &grid = cells();
    const int cw = (picture.width + 1) / 2, ch = (picture.height + 1) / 2;
    std::vector<int32_t> index(cw);
    for (int cy = 0; cy < ch; cy++) {
        BlockRow row;
        row.u = picture.planes[1] + static_cast<size_t>(cy) * picture.strides[1];
        row.v = picture.planes[2] + static_cast<size_t>(cy) * picture.strides[2];
        row.luma[0] = picture.planes[0] + static_cast<size_t>(2 * cy) * picture.strides[0];
        row.luma[1] = 2 * cy + 1 < picture.height ? row.luma[0] + picture.strides[0] : row.luma[0];
        row.width = picture.width;
        columns.reserve(cw);
        for (int cx = 0; cx < cw; cx++) index[cx] = columns.index(row.u[cx], row.v[cx], grid, table);
        row.index = index.data();
        row.columns = columns.columns.data();
        int done = 0;
#if defined(__x86_64__)
        if (has_avx2()) done = map_blocks_avx2(row, cw);
#endif
        map_blocks(row, done, cw, grid);
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
        // Each thread keeps the table and columns of the last map it applied (a corrected clip
        // is mapped frame by frame on one thread).
        thread_local Table table;
        thread_local Columns columns;
        if (!table.use(*map, encoding)) columns.clear();
        map_pixels(*picture, table, columns);
        return 0;
    });
}
