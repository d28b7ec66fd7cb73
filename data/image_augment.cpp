#include "data/image_augment.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/rng.h"

namespace imprint {
namespace {

constexpr double kPi = 3.14159265358979323846;
// Each operation draws from its own stream, so enabling one leaves the others' draws where they were.

double radians(double degrees) { return degrees * kPi / 180.0; }

}  // namespace

ImageWarp identity_warp(int size) {
  ImageWarp w;
  w.centre_x = w.centre_y = size / 2.0;
  w.width = w.height = size;
  return w;
}

ImageWarp draw_image_warp(uint64_t seed, const ImageAugmentOptions& o, int size) {
  ImageWarp w = identity_warp(size);
  CounterRng rng(stream_key(seed, Stream::AugmentWarp));
  if (o.crop_scale_min < 1) {
    // torchvision's RandomResizedCrop ranges: area fraction in [min, 1], log-uniform aspect in [3/4, 4/3].
    const double area = rng.uniform(o.crop_scale_min, 1.0), aspect = rng.log_uniform(3.0 / 4.0, 4.0 / 3.0);
    w.width = std::min<double>(size, size * std::sqrt(area * aspect));
    w.height = std::min<double>(size, size * std::sqrt(area / aspect));
    w.centre_x = rng.uniform(w.width / 2, size - w.width / 2);
    w.centre_y = rng.uniform(w.height / 2, size - w.height / 2);
  }
  if (o.rotate_degrees > 0) w.angle = radians(rng.uniform(-o.rotate_degrees, o.rotate_degrees));
  if (o.shear_degrees > 0) w.shear = std::tan(radians(rng.uniform(-o.shear_degrees, o.shear_degrees)));
  if (o.translate > 0) {
    w.shift_x = rng.uniform(-o.translate, o.translate);
    w.shift_y = rng.uniform(-o.translate, o.translate);
  }
  return w;
}

void warp_image(const float* in, int size, const ImageWarp& w, float* out) {
  const int64_t plane = static_cast<int64_t>(size) * size;
  const double c = std::cos(w.angle), s = std::sin(w.angle);
  auto at = [&](int ch, int y, int x) {
    return in[ch * plane + static_cast<int64_t>(std::clamp(y, 0, size - 1)) * size + std::clamp(x, 0, size - 1)];
  };
  for (int v = 0; v < size; ++v)
    for (int u = 0; u < size; ++u) {
      const double px = (u + 0.5) / size - 0.5, py = (v + 0.5) / size - 0.5;
      const double hx = px + w.shear * py;  // shear, then rotate, then shift
      const double qx = c * hx - s * py + w.shift_x, qy = s * hx + c * py + w.shift_y;
      // Continuous source position to pixel-centre coordinates.
      const double sx = w.centre_x + qx * w.width - 0.5, sy = w.centre_y + qy * w.height - 0.5;
      const double fx0 = std::floor(sx), fy0 = std::floor(sy);
      const int x0 = static_cast<int>(fx0), y0 = static_cast<int>(fy0);
      const double ax = sx - fx0, ay = sy - fy0;
      for (int ch = 0; ch < 3; ++ch) {
        const double top = (1 - ax) * at(ch, y0, x0) + ax * at(ch, y0, x0 + 1);
        const double bottom = (1 - ax) * at(ch, y0 + 1, x0) + ax * at(ch, y0 + 1, x0 + 1);
        out[ch * plane + static_cast<int64_t>(v) * size + u] = static_cast<float>((1 - ay) * top + ay * bottom);
      }
    }
}

void gaussian_blur(float* chw, int size, double sigma) {
  const int radius = static_cast<int>(std::ceil(3 * sigma));
  std::vector<double> k(static_cast<size_t>(2 * radius + 1));
  double total = 0;
  for (int i = -radius; i <= radius; ++i) total += k[i + radius] = std::exp(-0.5 * i * i / (sigma * sigma));
  for (double& x : k) x /= total;
  std::vector<float> tmp(static_cast<size_t>(size) * size);
  for (int ch = 0; ch < 3; ++ch) {
    float* p = chw + static_cast<int64_t>(ch) * size * size;
    for (int pass = 0; pass < 2; ++pass) {  // rows, then columns
      for (int y = 0; y < size; ++y)
        for (int x = 0; x < size; ++x) {
          double acc = 0;
          for (int i = -radius; i <= radius; ++i) {
            const int xi = std::clamp(pass == 0 ? x + i : x, 0, size - 1),
                      yi = std::clamp(pass == 0 ? y : y + i, 0, size - 1);
            acc += k[i + radius] * p[yi * size + xi];
          }
          tmp[static_cast<size_t>(y) * size + x] = static_cast<float>(acc);
        }
      std::copy(tmp.begin(), tmp.end(), p);
    }
  }
}

void augment_image(float* chw, int size, const ImageAugmentOptions& o, uint64_t seed) {
  const int64_t plane = static_cast<int64_t>(size) * size;
  if (o.geometric()) {
    std::vector<float> src(chw, chw + 3 * plane);
    warp_image(src.data(), size, draw_image_warp(seed, o, size), chw);
  }
  if (o.blur_prob > 0) {
    CounterRng rng(stream_key(seed, Stream::AugmentBlur));
    if (rng.uniform() < o.blur_prob) gaussian_blur(chw, size, rng.uniform(0.1, std::max(0.1, o.blur_sigma)));
  }
  if (o.contrast > 0) {
    CounterRng rng(stream_key(seed, Stream::AugmentContrast));
    const double factor = rng.uniform(1 - o.contrast, 1 + o.contrast);
    double mean = 0;
    for (int64_t i = 0; i < 3 * plane; ++i) mean += chw[i];
    mean /= static_cast<double>(3 * plane);
    for (int64_t i = 0; i < 3 * plane; ++i) chw[i] = static_cast<float>(mean + factor * (chw[i] - mean));
  }
  // The colour jitter of earlier releases, drawn from the seed's own stream as before.
  CounterRng rng(seed);
  float gain[3];
  for (float& g : gain) g = static_cast<float>(rng.uniform(1 - o.gain, 1 + o.gain));
  const float offset = static_cast<float>(rng.uniform(-o.brightness, o.brightness));
  const float noise = static_cast<float>(o.pixel_noise);
  for (int64_t p = 0; p < plane; ++p)
    for (int ch = 0; ch < 3; ++ch) {
      float& v = chw[ch * plane + p];
      v = v * gain[ch] + offset;
      if (noise > 0) v += noise * static_cast<float>(rng.normal());
      v = std::clamp(v, 0.0f, 1.0f);
    }
}

}  // namespace imprint
