// CVision's internal conversion of encoded R'G'B' colours to CIE Lab through tables, for the
// colour statistics (color.cpp), which convert tens of thousands of samples a frame.
#ifndef CVISION_COLOR_LAB_HPP
#define CVISION_COLOR_LAB_HPP

namespace cvision {
namespace color {

/// The encoded R'G'B' (0…1) colour to Lab (D65), through the tables.
void encoded_to_lab(const double encoded[3], double lab[3]);

/// `count` colours to Lab as `encoded_to_lab` does, bit for bit: the colours as three arrays
/// (R', G', B'), Lab into three (L, a, b). Four at a time with AVX2 where the CPU has it.
void encoded_to_lab(const double *const encoded[3], double *const lab[3], int count);

}  // namespace color
}  // namespace cvision

#endif
