#include "generation/diffusion.h"

#include <ATen/ATen.h>

#include <tuple>

#include "core/checksum.h"
#include "generation/scripted_generator.h"

namespace imprint {

GeneratorSpec DiffusionSpec::generator() const {
  GeneratorSpec g;
  g.channels = channels;
  g.image_size = image_size;
  g.width = width;
  g.heads = heads;
  g.content_classes = content_classes;
  g.id_dim = id_dim;
  return g;
}

const Section<DiffusionSpec>& diffusion_section() {
  using D = DiffusionSpec;
  using R = KeyRole;
  static const auto section =
      Section<D>("objective.denoise")
          .text("generator_from", &D::generator_from, "",
                "An imprint checkpoint whose generator (trained with objective.denoise.train: generator) is "
                "loaded; required for adapter. Its path and content hash go into the model signature: a resume "
                "refuses another generator.",
                R::Shaping)
          .text("generator_script", &D::generator_script, "",
                "Bring your own generator: a TorchScript file whose forward(x_t, t, content, id_tokens, id_scale: "
                "float) predicts a tensor shaped like x_t (docs/architecture.md, \"Bring a generator\"); it "
                "replaces imprint's UNet (objective.denoise.width/heads then do not apply). Its path and content "
                "hash go into the model signature: a resume or generate refuses a changed file.")
          .text("adapter_pattern", &D::adapter_pattern, "adapter",
                "With generator_script: the parameters whose names in the file match this regex (searched) are "
                "the adapter weights that objective.denoise.train: adapter trains; the rest stays frozen.")
          .integer("width", &D::width, int64_t{32}, Range::closed(8, 1024),
                   "Channels of the generator's first level (deeper levels have twice as many).", R::Shaping)
          .integer("heads", &D::heads, int64_t{4}, Range::closed(1, 64),
                   "Attention heads of the generator's cross-attention blocks.", R::Shaping)
          .integer("content_classes", &D::content_classes, int64_t{0}, Range::closed(0, 1e6),
                   "Content labels the generator is conditioned on; must equal the dataset's count (0: none).",
                   R::Shaping)
          .choice("schedule", &D::schedule, {{"cosine", ScheduleKind::Cosine}, {"linear", ScheduleKind::Linear}},
                  ScheduleKind::Cosine,
                  "Noise schedule of the forward process: cosine (Nichol & Dhariwal) or linear (DDPM).", R::Shaping)
          .integer("timesteps", &D::timesteps, int64_t{1000}, Range::closed(2, 1e5), "Diffusion timesteps T.",
                   R::Shaping)
          .choice("prediction", &D::prediction, {{"eps", Prediction::Eps}, {"v", Prediction::V}}, Prediction::Eps,
                  "What the generator predicts: the noise (eps) or v = sqrt(ab) eps - sqrt(1 - ab) x0.", R::Shaping);
  return section;
}

DiffusionSpec diffusion_spec(const ConfigValues& values, const EncoderSpec& encoder) {
  DiffusionSpec d = diffusion_section().read(values);
  d.image_size = encoder.image_size;
  d.id_dim = encoder.embed_dim;
  return d;
}

std::map<std::string, std::string> frozen_generator_facts(const DiffusionSpec& spec) {
  const std::string& prefix = diffusion_section().prefix();
  if (!spec.generator_script.empty())
    return {{prefix + ".generator_fnv1a64", file_fnv1a64(spec.generator_script)},
            {prefix + ".generator_script", spec.generator_script},
            {prefix + ".adapter_pattern", spec.adapter_pattern}};
  if (!spec.generator_from.empty()) return {{prefix + ".generator_fnv1a64", file_fnv1a64(spec.generator_from)}};
  return {};
}

std::string generator_shape_differences(const DiffusionSpec& here, const DiffusionSpec& there) {
  const std::string& prefix = diffusion_section().prefix();
  const std::vector<std::tuple<std::string, int64_t, int64_t>> shape = {
      {prefix + ".width", here.width, there.width},
      {prefix + ".heads", here.heads, there.heads},
      {prefix + ".content_classes", here.content_classes, there.content_classes},
      {"data.image_size", here.image_size, there.image_size},
      {"model.embed_dim", here.id_dim, there.id_dim}};
  std::string diffs;
  for (const auto& [key, a, b] : shape)
    if (a != b)
      diffs +=
          (diffs.empty() ? "" : "; ") + key + " is " + std::to_string(b) + " there, " + std::to_string(a) + " here";
  return diffs;
}

Diffusion::Diffusion(const DiffusionSpec& spec) : spec_(spec), schedule_(spec.schedule, spec.timesteps) {
  if (spec.generator_script.empty()) {
    generator_ = make_generator(spec.generator());
  } else {
    generator_ = std::make_shared<ScriptedGenerator>(spec.generator_script, spec.adapter_pattern, spec.generator());
  }
}

at::Tensor Diffusion::sample(const at::Tensor& content, const at::Tensor& id_tokens, const SamplerOptions& options) {
  return sample_ddim(*generator_, schedule_, spec_.prediction, spec_.content_classes, content, id_tokens,
                     sample_shape(), options);
}

Diffusion::Paired Diffusion::sample_with_and_without_identity(const at::Tensor& content, const at::Tensor& id_tokens,
                                                              const std::vector<int64_t>& streams,
                                                              const SamplerOptions& options) {
  const int64_t rows = content.size(0);
  SamplerOptions o = options;
  o.noise_rows = streams;
  o.noise_rows.insert(o.noise_rows.end(), streams.begin(), streams.end());
  const auto both = sample(at::cat({content, content}), at::cat({id_tokens, at::zeros_like(id_tokens)}), o);
  return {both.slice(0, 0, rows), both.slice(0, rows)};
}

}  // namespace imprint
