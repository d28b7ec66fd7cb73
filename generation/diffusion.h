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
#include <optional>
#include <string>
#include <vector>

#include "config/section.h"
#include "generation/autoencoder.h"
#include "generation/content_tokens.h"
#include "generation/ddim_sampler.h"
#include "generation/generator.h"
#include "generation/mel_codec.h"
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
  // Latent diffusion: a FROZEN autoencoder from an imprint checkpoint of the autoencoder objective, or a
  // user's TorchScript file with encode/decode ("" = pixels).
  std::string autoencoder_from, autoencoder_script;
  AutoencoderSpec autoencoder;  // the shape of autoencoder_from's model (read from that checkpoint)
  // Content as token sequences: a label -> [L, Dc] table (.npy; "" = content labels).
  std::string content_tokens;
  // Audio: the built-in Griffin-Lim vocoder's iterations, or the user's TorchScript vocoder ("" = Griffin-Lim).
  int64_t griffin_lim_iterations = 32;
  std::string vocoder_script;
  // From the encoder it is paired with: the images it draws (their side) and the identity tokens it reads.
  int64_t channels = 3, image_size = 32, id_dim = 128, id_tokens = 1;
  // Audio (data.modality audio): the generator denoises log-mels (generation/mel_codec.h) with the encoder's
  // front end settings over the run's clip, and a vocoder makes them waveforms.
  Modality modality = Modality::Image;
  MelCodecSpec mel;

  bool latent() const { return !autoencoder_from.empty() || !autoencoder_script.empty(); }
};

const Section<DiffusionSpec>& diffusion_section();
// diffusion_section() read from `values`, with the sample size and token width of `encoder`.
DiffusionSpec diffusion_spec(const ConfigValues& values, const EncoderSpec& encoder);
// The signature facts of the frozen files a generator depends on: the file it comes from (generator_from or
// generator_script: its content hash objective.denoise.generator_fnv1a64, and for a script its path and adapter
// pattern — only for scripts, so checkpoints from before these keys existed keep their signature), the frozen
// autoencoder's and the content-token table's content hashes (autoencoder_fnv1a64, content_tokens_fnv1a64).
// Empty without any. Throws std::runtime_error when a file cannot be read.
std::map<std::string, std::string> frozen_generator_facts(const DiffusionSpec& spec);
// "objective.denoise.width is 16 there, 32 here; ..." for the keys that shape a generator; empty when `a`
// and `b` build generators of the same shape.
std::string generator_shape_differences(const DiffusionSpec& here, const DiffusionSpec& there);

class Diffusion {
 public:
  // Builds the generator the spec names, its weights as initialised (a checkpoint fills them), with the frozen
  // autoencoder (a script is loaded here; imprint's own is built here and loaded by the caller from
  // autoencoder_from) and the content-token table. Scripts are checked with one trial call; throws
  // std::invalid_argument naming the file or the key when something cannot serve.
  explicit Diffusion(const DiffusionSpec& spec);

  const DiffusionSpec& spec() const { return spec_; }
  Generator& generator() { return *generator_; }
  const std::shared_ptr<Generator>& generator_module() const { return generator_; }
  const NoiseSchedule& schedule() const { return schedule_; }
  Prediction prediction() const { return spec_.prediction; }
  // What the generator denoises: [C, h, w] latents with an autoencoder, [1, n_mels, frames] log-mels for audio,
  // else [3, S, S] pixels.
  std::vector<int64_t> sample_shape() const { return sample_shape_; }
  // The frozen autoencoder (nullptr for pixel diffusion; the MelCodec for audio); its weights never train.
  const std::shared_ptr<Autoencoder>& autoencoder() const { return autoencoder_; }
  const ContentTokens* content_tokens() const { return tokens_ ? &*tokens_ : nullptr; }

  // Images in the model range (or audio clips [B, T]) -> what the generator denoises (latents or log-mels,
  // without a gradient; or the images).
  at::Tensor to_sample_space(const at::Tensor& images);
  // Back to images in the model range (or waveforms [B, T]).
  at::Tensor to_images(const at::Tensor& samples);
  bool audio() const { return spec_.modality == Modality::Audio; }
  // A sample as one can look at it, [B, 3, H, W] in the pixel model range: the images themselves, or for audio
  // the log-mel picture (MelCodec::picture) of clips [B, T].
  at::Tensor pictures(const at::Tensor& images_or_audio);
  // Content labels [B] (content_classes = dropped) -> the generator's content input: the labels, or their
  // token sequences [B, L, Dc] (zeros when dropped).
  at::Tensor content_input(const at::Tensor& labels) const;
  // Moves the generator and the autoencoder.
  void to(const at::Device& device);

  // DDIM samples (images in the model range) for content labels [B] (content_classes = none) and identity
  // tokens [B, K, D].
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
  std::shared_ptr<Autoencoder> autoencoder_;
  std::optional<ContentTokens> tokens_;
  std::vector<int64_t> sample_shape_;
  std::shared_ptr<Generator> generator_;
};

// The limit clean-sample estimates are clamped to while sampling latents: they are scaled to about unit
// variance, so 5 standard deviations (pixels use the pixel range, core/pixels.h).
constexpr double kLatentLimit = 5.0;

}  // namespace imprint
