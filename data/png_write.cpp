#include "data/png_write.h"

#include <cstdio>
#include <memory>
#include <stdexcept>

#include "core/temp_path.h"
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
  const std::string tmp = temp_path_for(path);  // unique to this process: two writers never share it
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(tmp.c_str(), "wb"), std::fclose);
  if (!file) throw std::runtime_error(tmp + ": cannot create");
  auto fail = [&](const std::string& message) {  // nothing is left behind: the temp file goes
    file.reset();
    std::remove(tmp.c_str());
    throw std::runtime_error(message);
  };
  if (std::fwrite(bytes.data(), 1, bytes.size(), file.get()) != bytes.size()) fail(path + ": write failed");
  if (std::fflush(file.get()) != 0 || std::fclose(file.release()) != 0) fail(path + ": write failed");
  if (std::rename(tmp.c_str(), path.c_str()) != 0) fail(path + ": cannot move into place");
}

}  // namespace imprint
