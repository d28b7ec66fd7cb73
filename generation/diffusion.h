// The generative module's one object: a conditional generator (imprint's UNet or a user's TorchScript file),
// its noise schedule and what it predicts. The denoise objective trains it; `imprint generate` and the
// identity-fidelity evaluation sample from it, rebuilt from a checkpoint (trainer/checkpoint/
// checkpoint_reader.h) without a training objective or the YAML validator.
//
// Its keys are the `objective.denoise.*` keys that shape the generator (diffusion_section()); the denoise
// objective declares them as its own, so they stay where users have always written them.
#pragma once
#include <ATen/Tensor.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/section.h"
#include "generation/ddim_sampler.h"
#include "generation/generator.h"
#include "generation/noise_schedule.h"
#include "models/encoder.h"

namespace imprint {

struct DiffusionSpec {
  int64_t width = 32, heads = 4, content_classes = 0;
  ScheduleKind schedule = ScheduleKind::Cosine;
  int64_t timesteps = 1000;
  Prediction prediction = Prediction::Eps;
  std::string generator_from;    // an imprint checkpoint whose generator is loaded ("" = none)
  std::string generator_script;  // or the user's TorchScript generator ("" = imprint's UNet)
  std::string adapter_pattern = "adapter";
  // From the encoder it is paired with: the sample it draws and the identity tokens it reads.
  int64_t channels = 3, image_size = 32, id_dim = 128;

  GeneratorSpec generator() const;
};

const Section<DiffusionSpec>& diffusion_section();
// diffusion_section() read from `values`, with the sample size and token width of `encoder`.
DiffusionSpec diffusion_spec(const ConfigValues& values, const EncoderSpec& encoder);
// The signature facts of the frozen file the generator comes from (generator_from or generator_script): its
// content hash (objective.denoise.generator_fnv1a64), and for a script its path and adapter pattern (only
// for scripts, so checkpoints from before these keys existed keep their signature). Empty without one.
// Throws std::runtime_error when the file cannot be read.
std::map<std::string, std::string> frozen_generator_facts(const DiffusionSpec& spec);
// "objective.denoise.width is 16 there, 32 here; ..." for the keys that shape a generator; empty when `a`
// and `b` build generators of the same shape.
std::string generator_shape_differences(const DiffusionSpec& here, const DiffusionSpec& there);

class Diffusion {
 public:
  // Builds the generator the spec names, its weights as initialised (a checkpoint fills them). A script is
  // loaded and checked with one trial call; std::invalid_argument naming the file when it cannot serve.
  explicit Diffusion(const DiffusionSpec& spec);

  const DiffusionSpec& spec() const { return spec_; }
  Generator& generator() { return *generator_; }
  const std::shared_ptr<Generator>& generator_module() const { return generator_; }
  const NoiseSchedule& schedule() const { return schedule_; }
  Prediction prediction() const { return spec_.prediction; }
  std::vector<int64_t> sample_shape() const { return {spec_.channels, spec_.image_size, spec_.image_size}; }

  // DDIM samples for content labels [B] (content_classes = none) and identity tokens [B, K, D].
  at::Tensor sample(const at::Tensor& content, const at::Tensor& id_tokens, const SamplerOptions& options);
  // Row r drawn twice from the same starting noise (stream streams[r]): with its identity tokens and with
  // them dropped, so the two differ only by what the identity adds.
  struct Paired {
    at::Tensor with_identity, without_identity;  // [B, C, H, W] each
  };
  Paired sample_with_and_without_identity(const at::Tensor& content, const at::Tensor& id_tokens,
                                          const std::vector<int64_t>& streams, const SamplerOptions& options);

 private:
  DiffusionSpec spec_;
  NoiseSchedule schedule_;
  std::shared_ptr<Generator> generator_;
};

}  // namespace imprint
