#include "generation/ddim_sampler.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "core/rng.h"

namespace imprint {

at::Tensor sample_ddim(Generator& generator, const NoiseSchedule& schedule, Prediction prediction,
                       const at::Tensor& content, const at::Tensor& null_content, const at::Tensor& id_tokens,
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
  const double s_content = o.guidance, s_identity = o.identity_guidance();
  const bool split = s_content != s_identity;     // three predictions: none, content only, both
  const bool guided = split || s_content != 1.0;  // two: none, both
  const auto& none = null_content;
  const auto zeros = at::zeros_like(id_tokens);
  // One forward pass over every branch: the conditional rows first, then the content-only ones, then none.
  std::vector<at::Tensor> contents{content}, tokens{id_tokens};
  if (split) contents.push_back(content), tokens.push_back(zeros);
  if (guided) contents.push_back(none), tokens.push_back(zeros);
  const auto all_content = at::cat(contents), all_tokens = at::cat(tokens);
  const int64_t branches = static_cast<int64_t>(contents.size());
  std::vector<int64_t> repeats(static_cast<size_t>(x.dim()), 1);
  repeats[0] = branches;
  const auto grid = schedule.sampling_grid(o.steps);
  for (size_t i = 0; i < grid.size(); ++i) {
    const int64_t t = grid[i], t_prev = i + 1 < grid.size() ? grid[i + 1] : -1;
    const auto xs = branches > 1 ? x.repeat(repeats) : x;
    const auto tt = at::full({xs.size(0)}, t, id_tokens.options().dtype(at::kLong));
    auto out = generator.predict(xs, tt, all_content, all_tokens, o.id_scale);
    if (split) {
      const auto both = out.slice(0, 0, B), content_only = out.slice(0, B, 2 * B), neither = out.slice(0, 2 * B);
      out = neither + s_content * (content_only - neither) + s_identity * (both - content_only);
    } else if (guided) {
      const auto both = out.slice(0, 0, B), neither = out.slice(0, B);
      out = neither + s_content * (both - neither);
    }
    x = schedule.ddim_step(prediction, out, x, t, t_prev, o.x0_limit);
  }
  return x;
}

}  // namespace imprint
