#include "data/png_write.h"

#include <stdexcept>

#include "data/atomic_write.h"
#include "data/png_encode.h"

namespace imprint {

void write_png_rgb(const std::string& path, int width, int height, const std::vector<uint8_t>& rgb) {
  if (width < 1 || height < 1 || rgb.size() != static_cast<size_t>(width) * height * 3)
    throw std::invalid_argument(path + ": image buffer does not match " + std::to_string(width) + "x" +
                                std::to_string(height) + " RGB");
  std::string bytes;
  try {
    bytes = encode_png_rgb(width, height, rgb);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
  write_file_atomically(path, bytes);
}

}  // namespace imprint
