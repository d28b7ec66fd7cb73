// Draws samples from a trained conditional generator with DDIM (eta = 0) and classifier-free guidance:
// out = uncond + guidance * (cond - uncond), the unconditional branch having the content label dropped and the
// identity tokens zeroed (what training's condition dropout taught the generator).
#pragma once
#include <ATen/Tensor.h>

#include <vector>

#include "core/pixels.h"
#include "generation/generator.h"
#include "generation/noise_schedule.h"

namespace imprint {

struct SamplerOptions {
  int64_t steps = 50;
  double guidance = 3.0;            // 1 = no guidance
  double id_scale = 1.0;            // lambda of the identity branch
  uint64_t seed = 0;                // row r's starting noise comes from (seed, noise_rows[r]), or (seed, r) when empty
  std::vector<int64_t> noise_rows;  // rows that differ only in their condition share a stream: comparisons
  double x0_limit = kModelPixelLimit;  // clean-sample estimates clamped to the data range (core/pixels.h)
};

// content [B] int64 (content_classes = none), id_tokens [B, K, D] (zero rows = identity dropped); returns
// [B, C, H, W] clean samples. Runs without autograd.
at::Tensor sample_ddim(Generator& generator, const NoiseSchedule& schedule, Prediction prediction,
                       int64_t content_classes, const at::Tensor& content, const at::Tensor& id_tokens,
                       const std::vector<int64_t>& sample_shape, const SamplerOptions& options);

}  // namespace imprint
