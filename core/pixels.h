// The one pixel normalisation of imprint's images: RGB in [0, 1] is fed to encoders and generators as
// (x - 0.5) * 4, i.e. [-2, 2] (what the synthetic images were first drawn in; shards, exports, embedding and
// generation all use these two functions, so a file trains, embeds and generates in the same range).
#pragma once
#include <cstdint>

namespace imprint {

// The model range of a pixel in [0, 1], and back. Templates so they serve floats, doubles and tensors.
template <class T>
inline T to_model_range(const T& unit) {
  return (unit - 0.5f) * 4.0f;
}
template <class T>
inline T to_unit_range(const T& model) {
  return model / 4.0f + 0.5f;
}
// The sample range bound a sampler clamps clean estimates to: to_model_range(0) and (1) are -2 and 2.
constexpr double kModelPixelLimit = 2.0;

}  // namespace imprint
