// Writes an 8-bit RGB image as a PNG file (the sample grids of `imprint generate`), encoded by data/png_encode.h.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace imprint {

// rgb: height * width * 3 bytes, HWC. Written to a temporary file and renamed into place; throws
// std::runtime_error naming the path when it cannot be written.
void write_png_rgb(const std::string& path, int width, int height, const std::vector<uint8_t>& rgb);

}  // namespace imprint
