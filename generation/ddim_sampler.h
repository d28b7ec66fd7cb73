// Draws samples from a trained conditional generator with DDIM (eta = 0) and classifier-free guidance for its
// two conditions, content and identity, each with its own scale (InstructPix2Pix's guidance for two
// conditions, Brooks et al. 2023):
//   out = e(none, none) + guidance * (e(c, none) - e(none, none)) + guidance_identity * (e(c, id) - e(c, none))
// three predictions per step, where "none" is the content dropped (the null label or a zero token sequence) or
// the identity tokens zeroed: what training's independent condition dropout (objective.denoise.drop_*) taught
// the generator. With equal scales it is the classic single-scale guidance, out = e(none, none) + guidance *
// (e(c, id) - e(none, none)), computed with two predictions.
#pragma once
#include <ATen/Tensor.h>

#include <vector>

#include "core/pixels.h"
#include "generation/generator.h"
#include "generation/noise_schedule.h"

namespace imprint {

struct SamplerOptions {
  double identity_guidance() const { return guidance_identity < 0 ? guidance : guidance_identity; }
  int64_t steps = 50;
  double guidance = 3.0;            // content scale (1 = no guidance)
  double guidance_identity = -1;    // identity scale; < 0: the same as `guidance`
  double id_scale = 1.0;            // lambda of the identity branch
  uint64_t seed = 0;                // row r's starting noise comes from (seed, noise_rows[r]), or (seed, r) when empty
  std::vector<int64_t> noise_rows;  // rows that differ only in their condition share a stream: comparisons
  double x0_limit = kModelPixelLimit;  // clean-sample estimates clamped to the data range (core/pixels.h)
};

// content: the generator's content input for each row ([B] int64 labels or [B, L, Dc] tokens), null_content
// the same rows' dropped content (the null label, or zeros); id_tokens [B, K, D] (zero rows = identity
// dropped); returns [B, ...sample_shape] clean samples. Runs without autograd.
at::Tensor sample_ddim(Generator& generator, const NoiseSchedule& schedule, Prediction prediction,
                       const at::Tensor& content, const at::Tensor& null_content, const at::Tensor& id_tokens,
                       const std::vector<int64_t>& sample_shape, const SamplerOptions& options);

}  // namespace imprint
