#include "trainer/objectives/denoise.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "config/config_error.h"
#include "config/section.h"
#include "core/rng.h"
#include "core/text.h"
#include "generation/scripted_generator.h"
#include "trainer/checkpoint/checkpoint_reader.h"
#include "trainer/checkpoint/checkpoint_store.h"
#include "trainer/objectives/denoise_fidelity.h"

namespace imprint {

namespace {

// The objective's own keys under objective.denoise.*; the generator's are generation/diffusion.h's.
const Section<DenoiseOptions>& training_keys() {
  using O = DenoiseOptions;
  static const auto section =
      Section<O>("objective.denoise")
          .choice("train", &O::train,
                  {{"generator", DenoiseTraining::Generator},
                   {"adapter", DenoiseTraining::Adapter},
                   {"all", DenoiseTraining::All}},
                  DenoiseTraining::All,
                  "What learns: generator = pretraining on content only (encoder unused); adapter = generator frozen "
                  "(from generator_from) except the identity branch of its cross-attention, plus the encoder; all = "
                  "everything (from generator_from when given).",
                  KeyRole::Shaping)
          .real("drop_identity", &O::drop_identity, 0.05, Range::closed(0, 1),
                "Fraction of rows trained with the identity tokens dropped (zeroed), for classifier-free guidance.")
          .real("drop_content", &O::drop_content, 0.05, Range::closed(0, 1),
                "Fraction of rows trained with the content label dropped (the null label).")
          .real("drop_both", &O::drop_both, 0.05, Range::closed(0, 1), "Fraction of rows with both dropped.")
          .real("min_snr_gamma", &O::min_snr_gamma, 0, Range::closed(0, 1e6),
                "> 0: weight each row's loss by min(SNR, gamma) / SNR (eps) or / (SNR + 1) (v), Min-SNR (Hang et al. "
                "2023); 5 is the paper's choice. 0: unweighted.")
          .real("timestep_bias", &O::timestep_bias, 0, Range::closed(0, 10),
                "Timesteps are drawn with density (1 + b) s^b over s = t / T instead of uniformly (b = 0): b > 0 "
                "trains the noisier timesteps more often, where the target is least inferable from x_t and the "
                "identity explains most of it (adapter training; b = 1: a density rising linearly from 0 at t = 0 "
                "to twice the uniform one at t = T).")
          .real("id_scale", &O::id_scale, 1, Range::closed(0, 100),
                "Scale lambda of the identity branch of every cross-attention while training.")
          .integer("probe_every", &O::probe_every, int64_t{10}, Range::closed(0, 1e9),
                   "With train adapter or all: every this many steps, the loss is also computed without the identity "
                   "tokens on the same rows, noise and timesteps (no gradient), and logged beside the loss with them "
                   "(mse_with_identity, mse_without_identity: what the identity tokens explain); 0 turns it off. "
                   "Costs one generator forward on those steps.",
                   KeyRole::Operational);
  return section;
}

// Identity fidelity in the training loop: eval.* keys only this objective reads.
const Section<DenoiseOptions>& fidelity_keys() {
  using O = DenoiseOptions;
  static const auto section =
      Section<O>("eval")
          .path("judge", &O::judge, "",
                "Identity fidelity of generated samples (needs objective.denoise.train adapter or all): an imprint "
                "checkpoint of an encoder trained on the TRAINING identities only (e.g. a contrastive run on the "
                "same dataset) that scores samples generated from ONE reference of each held-out identity, beside "
                "the same without the identity tokens (floor) and real samples (ceiling); \"\" turns it off.")
          .path("content_judge", &O::content_judge, "",
                "The reader of content accuracy in identity fidelity: an imprint checkpoint of an encoder whose "
                "identities were the CONTENT labels (a character or word classifier, trained on the training "
                "identities' samples only, e.g. recipes/words' stage 1b); a sample reads as the label whose "
                "prototype (the mean of its embeddings over the content bank's samples) is nearest. \"\": the "
                "nearest bank sample by cosine of the mean-removed pixels (images) or log-mels (audio).")
          .integer("fidelity_identities", &O::fidelity_identities, int64_t{16}, Range::closed(2, 1e6),
                   "Held-out identities whose reference is generated from, drawn by the run's seed from all of them "
                   "(the same ones at every evaluation; top-1 chance is 1 / this).")
          .integer("fidelity_content", &O::fidelity_content, int64_t{4}, Range::closed(1, 1e4),
                   "Samples generated per reference: one per content label, spread over the vocabulary.")
          .integer("fidelity_steps", &O::fidelity_steps, int64_t{20}, Range::closed(1, 1e4),
                   "DDIM steps of the samples the judge scores.")
          .real("fidelity_guidance", &O::fidelity_guidance, 3, Range::closed(0, 100),
                "Classifier-free guidance scale of those samples (1 = none): the content's, and the identity's "
                "unless eval.fidelity_guidance_identity says otherwise.")
          .real("fidelity_guidance_identity", &O::fidelity_guidance_identity, -1, Range::closed(-1, 100),
                "The identity's own guidance scale for those samples (InstructPix2Pix's guidance for two "
                "conditions: three predictions per step); -1: the same as eval.fidelity_guidance.")
          .integer("content_bank_identities", &O::content_bank_identities, int64_t{256}, Range::closed(1, 1e6),
                   "Training identities whose samples read a sample's content label (nearest neighbour: cosine of "
                   "the mean-removed pixels). Every rank holds them all on its device: identities x samples x sample "
                   "size x 4 bytes (82 MB for the font recipe's 32x32 RGB glyphs).");
  return section;
}

std::vector<KeySpec> denoise_keys() {
  std::vector<KeySpec> keys = training_keys().keys();
  for (const auto& k : diffusion_section().keys()) keys.push_back(k);
  for (const auto& k : fidelity_keys().keys()) keys.push_back(k);
  return keys;
}

[[noreturn]] void fail(const std::string& key, const std::string& what) { throw ConfigError(key + ": " + what); }

void check_denoise(const ObjectiveContext& c) {
  const DenoiseOptions o = denoise_options(c);
  const DiffusionSpec g = diffusion_spec(c.values, c.encoder);
  if (c.encoder.modality == Modality::Audio && g.latent())
    fail(g.autoencoder_script.empty() ? "objective.denoise.autoencoder_from" : "objective.denoise.autoencoder_script",
         "an audio generator denoises log-mels (data.modality audio); an image autoencoder does not apply");
  if (c.encoder.modality == Modality::Audio && c.encoder.n_mels % 4 != 0)
    fail("model.audio.n_mels", std::to_string(c.encoder.n_mels) +
                                   " must be a multiple of 4 for the audio generator (its UNet halves the mel axis "
                                   "twice)");
  if (c.encoder.modality == Modality::Image && !g.vocoder_script.empty())
    fail("objective.denoise.vocoder_script", "turns log-mels into audio; data.modality is image");
  if (c.encoder.modality == Modality::Image && !g.latent() && g.generator_script.empty() &&
      c.encoder.image_size % 4 != 0)
    fail("data.image_size", "must be a multiple of 4 for the denoise objective's generator (two 2x downsamplings)");
  if (!g.autoencoder_from.empty() && !g.autoencoder_script.empty())
    fail("objective.denoise.autoencoder_script",
         "set together with objective.denoise.autoencoder_from; an autoencoder comes from one of them");
  // imprint's UNet (a generator_script brings its own): the timestep features take width / 2 frequencies, and
  // the attention of its deeper level splits 2 x width channels over the heads.
  if (g.generator_script.empty() && g.width % 2 != 0)
    fail("objective.denoise.width", std::to_string(g.width) +
                                        " must be even (the timestep features take width / 2 "
                                        "sine-cosine pairs)");
  if (g.generator_script.empty() && (2 * g.width) % g.heads != 0)
    fail("objective.denoise.heads", std::to_string(g.heads) + " does not divide the attention's 2 x width = " +
                                        std::to_string(2 * g.width) + " channels");
  if (g.schedule == ScheduleKind::ScaledLinear && g.timesteps != 1000)
    fail("objective.denoise.timesteps", std::to_string(g.timesteps) +
                                            " with schedule scaled_linear: Stable Diffusion's betas are for 1000 "
                                            "steps (a pretrained UNet knows only those)");
  if (o.drop_identity + o.drop_content + o.drop_both > 1)
    fail("objective.denoise.drop_both", "the three dropout rates add up to more than 1");
  if (o.train == DenoiseTraining::Adapter && g.generator_from.empty() && g.generator_script.empty())
    fail("objective.denoise.generator_from",
         "is required with objective.denoise.train: adapter (the checkpoint of a "
         "run with objective.denoise.train: generator), or a TorchScript "
         "generator in objective.denoise.generator_script");
  if (!g.generator_from.empty() && !g.generator_script.empty())
    fail("objective.denoise.generator_script",
         "set together with objective.denoise.generator_from; a generator "
         "comes from one of them");
  if (o.train == DenoiseTraining::Generator)
    for (const auto& other : c.enabled)
      if (other != "denoise")
        fail("objective." + other + ".weight",
             "generator pretraining (objective.denoise.train: generator) does not train the encoder; set it to 0");
  if (!o.judge.empty()) {
    if (o.train == DenoiseTraining::Generator)
      fail("eval.judge",
           "scores samples generated from a reference's identity tokens: it needs the denoise "
           "objective with objective.denoise.train adapter or all");
    if (c.gallery_per_identity < 2)
      fail("eval.gallery_per_identity", "must be at least 2 with eval.judge (real samples are scored leave-one-out)");
  }
  if (!o.content_judge.empty() && o.judge.empty())
    fail("eval.content_judge", "reads the content of the samples eval.judge scores; set eval.judge too");
  if (!o.content_judge.empty() && g.content_classes == 0)
    fail("eval.content_judge", "reads content labels; this generator has none (objective.denoise.content_classes 0)");
}

void check_denoise_files(const ObjectiveContext& c) {
  const DenoiseOptions o = denoise_options(c);
  const DiffusionSpec g = diffusion_spec(c.values, c.encoder);
  for (const auto& [key, path] :
       {std::pair<std::string, std::string>{"objective.denoise.generator_from", g.generator_from},
        {"objective.denoise.generator_script", g.generator_script},
        {"objective.denoise.autoencoder_from", g.autoencoder_from},
        {"objective.denoise.autoencoder_script", g.autoencoder_script},
        {"objective.denoise.content_tokens", g.content_tokens},
        {"objective.denoise.vocoder_script", g.vocoder_script},
        {"eval.judge", o.judge},
        {"eval.content_judge", o.content_judge}})
    if (!path.empty() && !std::ifstream(path)) fail(key, "'" + path + "' cannot be opened");
}

}  // namespace

DenoiseOptions denoise_options(const ConfigValues& values) {
  DenoiseOptions o = training_keys().read(values);
  fidelity_keys().read_into(values, o);
  return o;
}

DenoiseOptions denoise_options(const ObjectiveContext& c) {
  DenoiseOptions o = denoise_options(c.values);
  o.seed = c.seed;
  return o;
}

ObjectiveInfo denoise_objective() {
  ObjectiveInfo info;
  info.name = "denoise";
  info.summary =
      "the generative objective (trainer/objectives/denoise.h): a conditional diffusion generator "
      "predicts the noise added to the target from its content label and the reference's identity "
      "tokens. Images (pixels or a frozen autoencoder's latents) and audio (log-mels, vocoded)";
  info.keys = denoise_keys();
  info.make = [](const ObjectiveContext& c) {
    return std::make_shared<DenoiseObjective>(denoise_options(c), resolved_diffusion_spec(c.values, c.encoder));
  };
  info.check = check_denoise;
  info.check_files = check_denoise_files;
  // Alone it reads the reference's tokens, not its pooled vector: on several ranks the pooled head then gets no
  // gradient, which the reducer must be told to expect.
  info.example = {"data.content_classes=4", "objective.denoise.content_classes=4", "objective.denoise.width=8",
                  "distributed.find_unused_parameters=true"};
  return info;
}

DenoiseObjective::DenoiseObjective(const DenoiseOptions& o, const DiffusionSpec& spec) : options_(o) {
  try {
    diffusion_ = std::make_shared<Diffusion>(spec);
  } catch (const std::invalid_argument& e) {
    // The message names the file (or the key); say which key brought it in.
    const std::string what = e.what();
    const std::string key =
        what.rfind("objective.denoise", 0) == 0 ? ""
        : !spec.autoencoder_script.empty() && what.rfind(spec.autoencoder_script, 0) == 0
            ? "objective.denoise.autoencoder_script: "
        : !spec.content_tokens.empty() && what.rfind(spec.content_tokens, 0) == 0 ? "objective.denoise.content_tokens: "
        : !spec.vocoder_script.empty() && what.rfind(spec.vocoder_script, 0) == 0 ? "objective.denoise.vocoder_script: "
        : what.rfind("model.audio", 0) == 0 || what.rfind("data.", 0) == 0        ? ""
                                                                           : "objective.denoise.generator_script: ";
    throw ConfigError(key + what);
  }
  if (!spec.autoencoder_from.empty())
    CheckpointReader(spec.autoencoder_from).load_autoencoder(dynamic_cast<KlAutoencoder&>(*diffusion_->autoencoder()));
  Generator& g = diffusion_->generator();
  if (!spec.generator_script.empty() && o.train != DenoiseTraining::Generator) {
    std::vector<std::string> names;
    for (const auto& kv : g.named_parameters().pairs())
      if (g.is_adapter_parameter(kv.first)) names.push_back(kv.first);
    if (names.empty()) {
      std::string all;
      for (const auto& kv : g.named_parameters().pairs()) all += (all.empty() ? "" : ", ") + kv.first;
      throw ConfigError("objective.denoise.adapter_pattern: '" + spec.adapter_pattern +
                        "' matches none of the "
                        "parameters of " +
                        spec.generator_script + " (" + all + "; '.' is written '__' here)");
    }
  }
  register_module("generator", diffusion_->generator_module());
  if (o.train == DenoiseTraining::Adapter && spec.generator_from.empty() && spec.generator_script.empty())
    throw ConfigError(
        "objective.denoise.generator_from: objective.denoise.train: adapter trains against a frozen "
        "generator; name the checkpoint of a run with objective.denoise.train: generator (or a "
        "TorchScript generator in objective.denoise.generator_script)");
  if (!spec.generator_from.empty()) {
    CheckpointReader(spec.generator_from).load_pretrained_generator(*diffusion_);
    g.init_adapter_from_content();
  }
  try {
    frozen_facts_ = frozen_generator_facts(spec);
  } catch (const std::runtime_error& e) {
    throw ConfigError(std::string("objective.denoise.generator_from: ") + e.what());
  }
  for (auto& kv : g.named_parameters().pairs()) {
    const bool adapter = g.is_adapter_parameter(kv.first);
    const bool trains = o.train == DenoiseTraining::All || (o.train == DenoiseTraining::Adapter ? adapter : !adapter);
    kv.second.set_requires_grad(trains);
  }
}

void DenoiseObjective::check_dataset(const DatasetFacts& facts) const {
  const int64_t want = diffusion_->spec().content_classes;
  if (facts.content_labels != want)
    throw ConfigError("objective.denoise.content_classes: is " + std::to_string(want) + " but " + facts.where +
                      " has " + std::to_string(facts.content_labels) + " content labels; set it to " +
                      std::to_string(facts.content_labels));
}

std::unique_ptr<ObjectiveEvaluation> DenoiseObjective::evaluation(const EvaluationContext& context) {
  if (options_.judge.empty()) return nullptr;
  return std::make_unique<FidelityEvaluation>(*diffusion_, options_, context);
}

int64_t draw_timestep(CounterRng& rng, int64_t timesteps, double bias) {
  if (bias <= 0) return static_cast<int64_t>(rng.below(static_cast<uint64_t>(timesteps)));
  // Inverse CDF: P(s <= x) = x^(1+b), so s = u^(1/(1+b)) for a uniform u.
  const double s = std::pow(rng.uniform(0, 1), 1.0 / (1.0 + bias));
  return std::min<int64_t>(timesteps - 1, static_cast<int64_t>(static_cast<double>(timesteps) * s));
}

void DenoiseObjective::to(torch::Device device, bool non_blocking) {
  Objective::to(device, non_blocking);
  if (diffusion_->autoencoder()) diffusion_->autoencoder()->to(device, non_blocking);
}

ObjectiveOutput DenoiseObjective::compute(const TrainBatch& batch, const EncodedBatch& encoded, Communicator&) {
  // The target: its pixels, or its latents under the frozen autoencoder (computed here, without a gradient).
  const at::Tensor x0 = diffusion_->to_sample_space(batch.view(1).contiguous()).contiguous();
  const int64_t B = x0.size(0), numel = x0.numel() / std::max<int64_t>(1, B);
  const DiffusionSpec& spec = diffusion_->spec();
  const NoiseSchedule& schedule = diffusion_->schedule();
  const int64_t classes = spec.content_classes;
  const bool pretraining = options_.train == DenoiseTraining::Generator;
  // Per-row draws on the CPU from (seed, step, global row): timestep, condition dropout, noise.
  at::Tensor t = at::empty({B}, at::kLong), keep_id = at::empty({B}, at::kFloat), eps = at::empty_like(x0, at::kCPU);
  at::Tensor content = at::full({B}, classes, at::kLong);  // `classes` = no content
  const at::Tensor given = batch.content.defined() ? batch.content.select(1, 1).contiguous() : at::Tensor();
  float* e = eps.data_ptr<float>();
  int64_t* tp = t.data_ptr<int64_t>();
  int64_t* cp = content.data_ptr<int64_t>();
  float* kp = keep_id.data_ptr<float>();
  const double p_id = options_.drop_identity, p_content = options_.drop_content, p_both = options_.drop_both;
  for (int64_t r = 0; r < B; ++r) {
    CounterRng rng(stream_key(options_.seed, Stream::DenoiseRow, static_cast<uint64_t>(batch.step),
                              static_cast<uint64_t>(batch.first_row + r)));
    const int64_t T = schedule.timesteps();
    tp[r] = draw_timestep(rng, T, options_.timestep_bias);
    // Disjoint bins, as in IP-Adapter: identity only, content only, both.
    const double u = rng.uniform(0, 1);
    const bool drop_id = u < p_id || (u >= p_id + p_content && u < p_id + p_content + p_both);
    const bool drop_content = u >= p_id && u < p_id + p_content + p_both;
    kp[r] = drop_id || pretraining ? 0.0f : 1.0f;
    if (classes > 0 && !drop_content) {
      TORCH_CHECK(given.defined(), "objective.denoise.content_classes is ", classes,
                  " but the batch has no content labels");
      const int64_t c = given.data_ptr<int64_t>()[r];
      TORCH_CHECK(c >= 0 && c < classes, "content label ", c, " outside objective.denoise.content_classes=", classes);
      cp[r] = c;
    }
    for (int64_t i = 0; i < numel; ++i) e[r * numel + i] = static_cast<float>(rng.normal());
  }
  const auto device = x0.device();
  t = t.to(device), content = content.to(device), eps = eps.to(device);
  at::Tensor tokens;
  double scale = 0;
  if (!pretraining) {
    // Zeroed tokens: the identity branch adds 0.
    tokens = encoded.view(0).tokens * keep_id.to(device).view({B, 1, 1});
    scale = options_.id_scale;
  } else {
    tokens = at::zeros({B, 1, spec.id_dim}, x0.options());
  }
  const auto x_t = schedule.add_noise(x0, eps, t);
  const auto content_input = diffusion_->content_input(content);
  const auto prediction = diffusion_->generator().predict(x_t, t, content_input, tokens, scale);
  const auto target = schedule.target(spec.prediction, x0, eps, t);
  auto per_row = (prediction - target).pow(2).flatten(1).mean(1);
  ObjectiveOutput out;
  out.logged.emplace_back("mse", per_row.mean().detach());
  if (!pretraining && options_.probe_every > 0 && (batch.step + 1) % options_.probe_every == 0) {
    // What the identity tokens explain: the same rows, noise and timesteps without them (rows that dropped
    // them anyway predict the same both ways).
    at::NoGradGuard no_grad;
    const auto without = diffusion_->generator().predict(x_t, t, content_input, at::zeros_like(tokens), 0.0);
    out.logged.emplace_back("mse_with_identity", per_row.mean().detach());
    out.logged.emplace_back("mse_without_identity", (without - target).pow(2).mean());
    out.shown = {"mse_with_identity", "mse_without_identity"};
  }
  if (options_.min_snr_gamma > 0) {
    const auto ab = schedule.alpha_bar(t);
    const auto snr = ab / (1 - ab);
    const auto clipped = snr.clamp_max(options_.min_snr_gamma);
    per_row = per_row * (spec.prediction == Prediction::Eps ? clipped / snr : clipped / (snr + 1));
  }
  out.loss = per_row.mean();
  return out;
}

}  // namespace imprint
