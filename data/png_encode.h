// An 8-bit RGB image as PNG bytes in memory, with Debian's libpng: what a TensorBoard image summary holds
// (trainer/tensorboard_writer.h). data/png_write.h writes such an image to a file.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace imprint {

// rgb: height * width * 3 bytes, HWC. Throws std::invalid_argument when the buffer does not match the size.
std::string encode_png_rgb(int width, int height, const std::vector<uint8_t>& rgb);

}  // namespace imprint
