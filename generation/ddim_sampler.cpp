#include "generation/ddim_sampler.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "core/rng.h"

namespace imprint {

at::Tensor sample_ddim(Generator& generator, const NoiseSchedule& schedule, Prediction prediction,
                       int64_t content_classes, const at::Tensor& content, const at::Tensor& id_tokens,
                       const std::vector<int64_t>& sample_shape, const SamplerOptions& o) {
  torch::NoGradGuard no_grad;
  const int64_t B = content.size(0);
  TORCH_CHECK(o.noise_rows.empty() || static_cast<int64_t>(o.noise_rows.size()) == B, "sample_ddim: noise_rows names ",
              o.noise_rows.size(), " rows for a batch of ", B);
  std::vector<int64_t> shape{B};
  shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
  at::Tensor x = at::empty(shape, at::kFloat);
  const int64_t numel = x.numel() / B;
  float* p = x.data_ptr<float>();
  for (int64_t r = 0; r < B; ++r) {
    const int64_t stream = o.noise_rows.empty() ? r : o.noise_rows[static_cast<size_t>(r)];
    CounterRng rng(stream_key(o.seed, Stream::SamplerNoise, static_cast<uint64_t>(stream)));
    for (int64_t i = 0; i < numel; ++i) p[r * numel + i] = static_cast<float>(rng.normal());
  }
  x = x.to(id_tokens.device());
  const bool guided = o.guidance != 1.0;
  // Conditional rows first, then the unconditional ones, in one forward pass.
  const auto both_content = guided ? at::cat({content, at::full_like(content, content_classes)}) : content;
  const auto both_tokens = guided ? at::cat({id_tokens, at::zeros_like(id_tokens)}) : id_tokens;
  const auto grid = schedule.sampling_grid(o.steps);
  for (size_t i = 0; i < grid.size(); ++i) {
    const int64_t t = grid[i], t_prev = i + 1 < grid.size() ? grid[i + 1] : -1;
    const auto xs = guided ? at::cat({x, x}) : x;
    const auto tt = at::full({xs.size(0)}, t, content.options());
    auto out = generator.predict(xs, tt, both_content, both_tokens, o.id_scale);
    if (guided) {
      const auto cond = out.slice(0, 0, B), uncond = out.slice(0, B);
      out = uncond + o.guidance * (cond - uncond);
    }
    x = schedule.ddim_step(prediction, out, x, t, t_prev, o.x0_limit);
  }
  return x;
}

}  // namespace imprint
