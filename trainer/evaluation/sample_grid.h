// A grid of samples as one RGB image: rows of cells, each cell one [3, H, W] sample in the model range
// (core/pixels.h; audio shows as its log-mel picture, generation/mel_codec.h), `zoom` image pixels per sample pixel,
// 2-pixel white gaps. `imprint generate` writes it as a PNG file; the identity-fidelity evaluation logs one to
// TensorBoard at every evaluation.
#pragma once
#include <ATen/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace imprint {

class SampleGrid {
 public:
  SampleGrid(int64_t rows, int64_t cols, int64_t cell_height, int64_t cell_width, int64_t zoom = 1);
  void paste(const at::Tensor& chw, int64_t row, int64_t col);
  void write_png(const std::string& path) const;  // throws std::runtime_error naming the path
  int width() const { return static_cast<int>(width_); }
  int height() const { return static_cast<int>(height_); }
  const std::vector<uint8_t>& rgb() const { return pixels_; }  // HWC

 private:
  static constexpr int64_t kGap = 2;
  int64_t rows_px_, cols_px_, zoom_, cell_h_, cell_w_, width_, height_;
  std::vector<uint8_t> pixels_;
};

// [C, H, W] sample in the model range -> HWC bytes (clamped, rounded).
std::vector<uint8_t> sample_bytes(const at::Tensor& chw);

}  // namespace imprint
