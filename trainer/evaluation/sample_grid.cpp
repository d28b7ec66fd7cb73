#include "trainer/evaluation/sample_grid.h"

#include <ATen/ATen.h>

#include "core/pixels.h"
#include "data/png_write.h"

namespace imprint {

std::vector<uint8_t> sample_bytes(const at::Tensor& chw) {
  const auto hwc =
      (to_unit_range(chw.detach().cpu()).clamp(0, 1) * 255).round().to(at::kByte).permute({1, 2, 0}).contiguous();
  return std::vector<uint8_t>(hwc.data_ptr<uint8_t>(), hwc.data_ptr<uint8_t>() + hwc.numel());
}

SampleGrid::SampleGrid(int64_t rows, int64_t cols, int64_t size, int64_t zoom)
    : size_(size),
      zoom_(zoom),
      cell_(size * zoom),
      width_(cols * cell_ + (cols - 1) * kGap),
      height_(rows * cell_ + (rows - 1) * kGap),
      pixels_(static_cast<size_t>(width_ * height_ * 3), 255) {}

void SampleGrid::paste(const at::Tensor& chw, int64_t row, int64_t col) {
  const auto px = sample_bytes(chw);
  const int64_t y0 = row * (cell_ + kGap), x0 = col * (cell_ + kGap);
  for (int64_t y = 0; y < cell_; ++y)
    for (int64_t x = 0; x < cell_; ++x)
      for (int c = 0; c < 3; ++c)
        pixels_[static_cast<size_t>(((y0 + y) * width_ + x0 + x) * 3 + c)] =
            px[static_cast<size_t>(((y / zoom_) * size_ + x / zoom_) * 3 + c)];
}

void SampleGrid::write_png(const std::string& path) const {
  write_png_rgb(path, static_cast<int>(width_), static_cast<int>(height_), pixels_);
}

}  // namespace imprint
