#include "data/png_write.h"

#include <png.h>

#include <cstdio>
#include <memory>
#include <stdexcept>

#include "core/temp_path.h"

namespace imprint {

void write_png_rgb(const std::string& path, int width, int height, const std::vector<uint8_t>& rgb) {
  if (width < 1 || height < 1 || rgb.size() != static_cast<size_t>(width) * height * 3)
    throw std::invalid_argument(path + ": image buffer does not match " + std::to_string(width) + "x" +
                                std::to_string(height) + " RGB");
  const std::string tmp = temp_path_for(path);  // unique to this process: two writers never share it
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(tmp.c_str(), "wb"), std::fclose);
  if (!file) throw std::runtime_error(tmp + ": cannot create");
  auto fail = [&](const std::string& message) {  // nothing is left behind: the temp file goes
    file.reset();
    std::remove(tmp.c_str());
    throw std::runtime_error(message);
  };
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!png || !info) {
    png_destroy_write_struct(&png, &info);
    fail(path + ": libpng could not start");
  }
  if (setjmp(png_jmpbuf(png))) {  // libpng reports errors by longjmp
    png_destroy_write_struct(&png, &info);
    fail(path + ": PNG write failed");
  }
  png_init_io(png, file.get());
  png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8, PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < height; ++y)
    png_write_row(png, const_cast<png_bytep>(rgb.data() + static_cast<size_t>(y) * width * 3));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  if (std::fflush(file.get()) != 0 || std::fclose(file.release()) != 0) fail(path + ": write failed");
  if (std::rename(tmp.c_str(), path.c_str()) != 0) fail(path + ": cannot move into place");
}

}  // namespace imprint
