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

SampleGrid::SampleGrid(int64_t rows, int64_t cols, int64_t cell_height, int64_t cell_width, int64_t zoom)
    : rows_px_(cell_height),
      cols_px_(cell_width),
      zoom_(zoom),
      cell_h_(cell_height * zoom),
      cell_w_(cell_width * zoom),
      width_(cols * cell_w_ + (cols - 1) * kGap),
      height_(rows * cell_h_ + (rows - 1) * kGap),
      pixels_(static_cast<size_t>(width_ * height_ * 3), 255) {}

void SampleGrid::paste(const at::Tensor& chw, int64_t row, int64_t col) {
  TORCH_CHECK(chw.dim() == 3 && chw.size(0) == 3 && chw.size(1) == rows_px_ && chw.size(2) == cols_px_,
              "sample grid: cells are [3, ", rows_px_, ", ", cols_px_, "], got ", chw.sizes());
  const auto px = sample_bytes(chw);
  const int64_t y0 = row * (cell_h_ + kGap), x0 = col * (cell_w_ + kGap);
  for (int64_t y = 0; y < cell_h_; ++y)
    for (int64_t x = 0; x < cell_w_; ++x)
      for (int c = 0; c < 3; ++c)
        pixels_[static_cast<size_t>(((y0 + y) * width_ + x0 + x) * 3 + c)] =
            px[static_cast<size_t>(((y / zoom_) * cols_px_ + x / zoom_) * 3 + c)];
}

void SampleGrid::write_png(const std::string& path) const {
  write_png_rgb(path, static_cast<int>(width_), static_cast<int>(height_), pixels_);
}

}  // namespace imprint
