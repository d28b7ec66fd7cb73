#include "data/synthetic_image.h"

#include <algorithm>
#include <cmath>

#include "core/pixels.h"
#include "core/rng.h"

namespace imprint {
namespace {

constexpr float kPi = 3.14159265358979f;

void random_colour(CounterRng& rng, float* rgb) {
  for (int c = 0; c < 3; ++c) rgb[c] = static_cast<float>(rng.uniform(0.05, 0.95));
}

bool inside_shape(const ImageIdentity& id, float ux, float uy) {
  const float r = std::sqrt(ux * ux + uy * uy);
  const float phi = std::atan2(uy, ux);
  switch (id.shape) {
    case 0: {
      const float ex = ux / id.aspect, ey = uy * id.aspect;
      return ex * ex + ey * ey < 0.8f * 0.8f;
    }
    case 1: {
      const float sector = 2 * kPi / id.vertices;
      const float a = std::fmod(phi + 2 * kPi, sector) - sector / 2;
      return r < 0.85f * std::cos(kPi / id.vertices) / std::cos(a);
    }
    case 2:
      return r < 0.85f * (0.6f + 0.4f * std::cos(id.vertices * phi));
    default: {
      const float ex = ux / id.aspect, ey = uy * id.aspect;
      const float er = std::sqrt(ex * ex + ey * ey);
      return er > 0.42f && er < 0.85f;
    }
  }
}

bool texture_on(const ImageIdentity& id, float ux, float uy) {
  const float c = std::cos(id.tex_angle), s = std::sin(id.tex_angle);
  const float a = ux * c + uy * s, b = -ux * s + uy * c;
  switch (id.texture) {
    case 0:
      return std::sin(id.tex_freq * a) > 0;
    case 1:
      return std::sin(id.tex_freq * a) * std::sin(id.tex_freq * b) > 0;
    default:
      return std::cos(id.tex_freq * a) + std::cos(id.tex_freq * b) > 1.0f;
  }
}

}  // namespace

ImageIdentity make_image_identity(uint64_t data_seed, int64_t identity) {
  CounterRng rng(stream_key(data_seed, Stream::SyntheticImageIdentity, static_cast<uint64_t>(identity)));
  ImageIdentity id{};
  id.shape = static_cast<int>(rng.below(4));
  id.vertices = 3 + static_cast<int>(rng.below(5));
  id.aspect = static_cast<float>(rng.uniform(0.7, 1.3));
  random_colour(rng, id.fg);
  random_colour(rng, id.bg);
  random_colour(rng, id.tex);
  id.texture = static_cast<int>(rng.below(3));
  id.tex_freq = static_cast<float>(rng.uniform(6.0, 18.0));
  id.tex_angle = static_cast<float>(rng.uniform(0.0, kPi));
  return id;
}

void render_image(const ImageIdentity& id, uint64_t data_seed, int64_t identity, int64_t index, uint64_t augment_seed,
                  int size, float* out, int content, int content_classes) {
  CounterRng pose(
      stream_key(data_seed, Stream::SyntheticImagePose, static_cast<uint64_t>(identity), static_cast<uint64_t>(index)));
  const float theta = static_cast<float>(pose.uniform(0, 2 * kPi));
  const float scale = static_cast<float>(pose.uniform(0.55, 0.95));
  float cx = static_cast<float>(pose.uniform(-0.18, 0.18)), cy = static_cast<float>(pose.uniform(-0.18, 0.18));
  if (content >= 0 && content_classes > 0) {  // a smaller shape at a fixed spot, so the spots stay apart
    const float a = 2 * kPi * static_cast<float>(content) / static_cast<float>(content_classes);
    cx = 0.4f * std::cos(a);
    cy = 0.4f * std::sin(a);
  }
  const float place = content >= 0 && content_classes > 0 ? 0.55f : 1.0f;
  const float shade = static_cast<float>(pose.uniform(0.85, 1.15));  // lighting of this sample

  float gain[3] = {shade, shade, shade}, offset = 0, noise = 0;
  CounterRng aug(augment_seed);
  if (augment_seed != 0) {
    for (float& g : gain) g *= static_cast<float>(aug.uniform(0.9, 1.1));
    offset = static_cast<float>(aug.uniform(-0.08, 0.08));
    noise = 0.04f;
  }
  const float ct = std::cos(theta), st = std::sin(theta);
  const int plane = size * size;
  for (int y = 0; y < size; ++y) {
    for (int x = 0; x < size; ++x) {
      const float px = (2.0f * x + 1) / size - 1 - cx, py = (2.0f * y + 1) / size - 1 - cy;
      const float ux = (ct * px + st * py) / (scale * place), uy = (-st * px + ct * py) / (scale * place);
      const float* rgb = id.bg;
      if (inside_shape(id, ux, uy)) rgb = texture_on(id, ux, uy) ? id.tex : id.fg;
      for (int c = 0; c < 3; ++c) {
        float v = rgb[c] * gain[c] + offset;
        if (noise > 0) v += noise * static_cast<float>(aug.normal());
        out[c * plane + y * size + x] = to_model_range(std::clamp(v, 0.0f, 1.0f));
      }
    }
  }
}

}  // namespace imprint
