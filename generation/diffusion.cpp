#include "generation/diffusion.h"

#include <ATen/ATen.h>

#include <torch/csrc/autograd/grad_mode.h>

#include <cmath>
#include <stdexcept>
#include <tuple>

#include "core/checksum.h"
#include "generation/scripted_generator.h"

namespace imprint {

const Section<DiffusionSpec>& diffusion_section() {
  using D = DiffusionSpec;
  using R = KeyRole;
  static const auto section =
      Section<D>("objective.denoise")
          .path("generator_from", &D::generator_from, "",
                "An imprint checkpoint whose generator (trained with objective.denoise.train: generator) is "
                "loaded; required for adapter. When that run kept a weight average (ema.decay), the average is "
                "loaded, as generation does. Its path and content hash go into the model signature: a resume "
                "refuses another generator.",
                R::Shaping)
          .path("generator_script", &D::generator_script, "",
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
          .choice(
              "schedule", &D::schedule,
              {{"cosine", ScheduleKind::Cosine},
               {"linear", ScheduleKind::Linear},
               {"scaled_linear", ScheduleKind::ScaledLinear}},
              ScheduleKind::Cosine,
              "Noise schedule of the forward process: cosine (Nichol & Dhariwal), linear (DDPM) or scaled_linear "
              "(Stable Diffusion's betas, not rescaled: what a pretrained SD-class UNet needs, with timesteps 1000).",
              R::Shaping)
          .integer("timesteps", &D::timesteps, int64_t{1000}, Range::closed(2, 1e5), "Diffusion timesteps T.",
                   R::Shaping)
          .choice("prediction", &D::prediction, {{"eps", Prediction::Eps}, {"v", Prediction::V}}, Prediction::Eps,
                  "What the generator predicts: the noise (eps) or v = sqrt(ab) eps - sqrt(1 - ab) x0.", R::Shaping)
          .path("autoencoder_from", &D::autoencoder_from, "",
                "Latent diffusion with imprint's own autoencoder: the checkpoint of a run of the autoencoder objective "
                "(objective.autoencoder.weight > 0), used FROZEN: targets are encoded to its latents, samples decoded "
                "from them; the generator's channels and size follow the latent shape. Its path and content hash "
                "go into the model signature.",
                R::Shaping)
          .path("autoencoder_script", &D::autoencoder_script, "",
                "Latent diffusion with your own autoencoder: a TorchScript file with methods encode(x) -> z and "
                "decode(z) -> x (pixels in [-1, 1], as diffusers' AutoencoderKL) and an optional float attribute "
                "scale_factor that latents are multiplied by (SD 1.5: 0.18215); used FROZEN (docs/architecture.md, "
                "\"Latent diffusion\"). Its path and content hash go into the model signature.",
                R::Shaping)
          .path("content_tokens", &D::content_tokens, "",
                "Content as token sequences: a .npy array [content_classes, L, Dc] giving each content label a "
                "sequence of L token embeddings of width Dc (e.g. a text encoder's output for the label's caption), "
                "which the generator's content branch cross-attends to; a dropped content is the all-zero sequence. "
                "\"\" = content labels (learned embeddings). Its content hash goes into the model signature.",
                R::Shaping)
          .integer("griffin_lim_iterations", &D::griffin_lim_iterations, int64_t{32}, Range::closed(1, 10000),
                   "Audio: iterations of the built-in Griffin-Lim vocoder that turns generated log-mels into "
                   "waveforms (samples, fidelity evaluation, imprint generate); more is cleaner and slower.")
          .path("vocoder_script", &D::vocoder_script, "",
                "Audio: your own vocoder instead of Griffin-Lim, a TorchScript file whose forward(mel [B, n_mels, "
                "frames]: natural-log mel power as imprint's front end computes it) returns wav [B, T] at "
                "data.sample_rate (docs/architecture.md, \"Audio generation\"). Its content hash goes into the "
                "model signature.");
  return section;
}

DiffusionSpec diffusion_spec(const ConfigValues& values, const EncoderSpec& encoder) {
  DiffusionSpec d = diffusion_section().read(values);
  d.image_size = encoder.image_size;
  d.id_dim = encoder.embed_dim;
  d.id_tokens = encoder.tokens;
  d.modality = encoder.modality;
  if (d.modality == Modality::Audio) {
    d.mel.sample_rate = encoder.sample_rate;
    d.mel.n_fft = encoder.n_fft;
    d.mel.hop = encoder.hop;
    d.mel.n_mels = encoder.n_mels;
    d.mel.clip_samples =
        std::lround(std::stod(values.text("data.clip_seconds")) * static_cast<double>(encoder.sample_rate));
    d.mel.griffin_lim_iterations = d.griffin_lim_iterations;
    d.mel.vocoder_script = d.vocoder_script;
  }
  return d;
}

std::map<std::string, std::string> frozen_generator_facts(const DiffusionSpec& spec) {
  const std::string& prefix = diffusion_section().prefix();
  std::map<std::string, std::string> facts;
  if (!spec.generator_script.empty()) {
    facts = {{prefix + ".generator_fnv1a64", file_fnv1a64(spec.generator_script)},
             {prefix + ".generator_script", spec.generator_script},
             {prefix + ".adapter_pattern", spec.adapter_pattern}};
  } else if (!spec.generator_from.empty()) {
    facts = {{prefix + ".generator_fnv1a64", file_fnv1a64(spec.generator_from)}};
  }
  const std::string& autoencoder = spec.autoencoder_script.empty() ? spec.autoencoder_from : spec.autoencoder_script;
  if (!autoencoder.empty()) facts[prefix + ".autoencoder_fnv1a64"] = file_fnv1a64(autoencoder);
  if (!spec.content_tokens.empty()) facts[prefix + ".content_tokens_fnv1a64"] = file_fnv1a64(spec.content_tokens);
  if (!spec.vocoder_script.empty()) facts[prefix + ".vocoder_fnv1a64"] = file_fnv1a64(spec.vocoder_script);
  return facts;
}

std::string generator_shape_differences(const DiffusionSpec& here, const DiffusionSpec& there) {
  const std::string& prefix = diffusion_section().prefix();
  const std::vector<std::tuple<std::string, int64_t, int64_t>> shape = {
      {prefix + ".width", here.width, there.width},
      {prefix + ".heads", here.heads, there.heads},
      {prefix + ".content_classes", here.content_classes, there.content_classes},
      {"data.image_size", here.image_size, there.image_size},
      {"model.audio.n_mels", here.mel.n_mels, there.mel.n_mels},
      {"clip samples (data.clip_seconds x data.sample_rate)", here.mel.clip_samples, there.mel.clip_samples},
      {"model.embed_dim", here.id_dim, there.id_dim}};
  std::string diffs;
  for (const auto& [key, a, b] : shape)
    if (a != b)
      diffs +=
          (diffs.empty() ? "" : "; ") + key + " is " + std::to_string(b) + " there, " + std::to_string(a) + " here";
  return diffs;
}

Diffusion::Diffusion(const DiffusionSpec& spec) : spec_(spec), schedule_(spec.schedule, spec.timesteps) {
  const std::string prefix = diffusion_section().prefix();
  if (spec.modality == Modality::Audio && spec.latent())
    throw std::invalid_argument(prefix +
                                (spec.autoencoder_script.empty() ? ".autoencoder_from" : ".autoencoder_script") +
                                ": an audio generator denoises log-mels (the built-in mel codec); an image "
                                "autoencoder does not apply");
  if (spec.modality == Modality::Audio) {
    autoencoder_ = std::make_shared<MelCodec>(spec.mel);
  } else if (!spec.autoencoder_script.empty()) {
    autoencoder_ = std::make_shared<ScriptedAutoencoder>(spec.autoencoder_script, spec.image_size);
  } else if (!spec.autoencoder_from.empty()) {
    if (spec.image_size % spec.autoencoder.downsample != 0)
      throw std::invalid_argument(prefix + ".autoencoder_from: its autoencoder downsamples " +
                                  std::to_string(spec.autoencoder.downsample) + "x; data.image_size " +
                                  std::to_string(spec.image_size) + " is not a multiple of that");
    autoencoder_ = std::make_shared<KlAutoencoder>(spec.autoencoder);
  }
  if (autoencoder_) {
    autoencoder_->eval();
    for (auto& p : autoencoder_->parameters()) p.set_requires_grad(false);
    sample_shape_ = autoencoder_->latent_shape(spec.image_size);
  } else {
    sample_shape_ = {spec.channels, spec.image_size, spec.image_size};
  }
  GeneratorSpec g;
  g.channels = sample_shape_[0];
  g.image_size = sample_shape_[1];
  g.sample_width = sample_shape_[2];
  g.width = spec.width;
  g.heads = spec.heads;
  g.content_classes = spec.content_classes;
  g.id_dim = spec.id_dim;
  g.id_tokens = spec.id_tokens;
  if (!spec.content_tokens.empty()) {
    tokens_ = ContentTokens::load(spec.content_tokens);
    if (tokens_->labels() != spec.content_classes)
      throw std::invalid_argument(prefix + ".content_tokens: " + spec.content_tokens + " holds " +
                                  std::to_string(tokens_->labels()) + " labels' tokens but " + prefix +
                                  ".content_classes is " + std::to_string(spec.content_classes));
    g.context_length = tokens_->length();
    g.context_dim = tokens_->width();
  }
  if (spec.generator_script.empty()) {
    if (sample_shape_[1] % 4 != 0 || sample_shape_[2] % 4 != 0)
      throw std::invalid_argument(prefix + ": imprint's generator needs sample sides that are multiples of 4; " +
                                  (audio()        ? "the log-mels are "
                                   : autoencoder_ ? "the autoencoder's latents are "
                                                  : "the samples are ") +
                                  c10::str(at::IntArrayRef(sample_shape_)));
    generator_ = make_generator(g);
  } else {
    generator_ = std::make_shared<ScriptedGenerator>(spec.generator_script, spec.adapter_pattern, g);
  }
}

at::Tensor Diffusion::to_sample_space(const at::Tensor& images) {
  if (!autoencoder_) return images;
  torch::NoGradGuard no_grad;
  return autoencoder_->encode(images);
}

at::Tensor Diffusion::to_images(const at::Tensor& samples) {
  if (!autoencoder_) return samples;
  torch::NoGradGuard no_grad;
  return autoencoder_->decode(samples);
}

at::Tensor Diffusion::pictures(const at::Tensor& x) {
  if (!audio()) return x;
  return MelCodec::picture(to_sample_space(x));
}

at::Tensor Diffusion::content_input(const at::Tensor& labels) const {
  return tokens_ ? tokens_->lookup(labels) : labels;
}

void Diffusion::to(const at::Device& device) {
  generator_->to(device);
  if (autoencoder_) autoencoder_->to(device);
}

at::Tensor Diffusion::sample(const at::Tensor& content, const at::Tensor& id_tokens, const SamplerOptions& options) {
  SamplerOptions o = options;
  if (autoencoder_) o.x0_limit = kLatentLimit;  // latents and normalised log-mels alike
  const auto none = at::full_like(content, spec_.content_classes);
  const auto samples = sample_ddim(*generator_, schedule_, spec_.prediction, content_input(content),
                                   content_input(none), id_tokens, sample_shape(), o);
  return to_images(samples);
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
