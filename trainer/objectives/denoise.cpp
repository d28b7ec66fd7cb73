#include "trainer/objectives/denoise.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "data/counter_rng.h"
#include "data/shard_format.h"
#include "models/scripted_generator.h"
#include "trainer/checkpoint_store.h"
#include "trainer/module_state.h"

namespace imprint {

DenoiseOptions denoise_options(const Config& c) {
  DenoiseOptions o;
  o.train = c.get_string("objective.denoise.train");
  o.generator_from = c.get_string("objective.denoise.generator_from");
  o.generator_script = c.get_string("objective.denoise.generator_script");
  o.adapter_pattern = c.get_string("objective.denoise.adapter_pattern");
  o.generator.channels = 3;
  o.generator.image_size = c.get_int("data.image_size");
  o.generator.width = c.get_int("objective.denoise.width");
  o.generator.heads = c.get_int("objective.denoise.heads");
  o.generator.content_classes = c.get_int("objective.denoise.content_classes");
  o.generator.id_dim = c.get_int("model.embed_dim");
  o.schedule = c.get_string("objective.denoise.schedule");
  o.timesteps = c.get_int("objective.denoise.timesteps");
  o.prediction = parse_prediction(c.get_string("objective.denoise.prediction"));
  o.drop_identity = c.get_float("objective.denoise.drop_identity");
  o.drop_content = c.get_float("objective.denoise.drop_content");
  o.drop_both = c.get_float("objective.denoise.drop_both");
  o.min_snr_gamma = c.get_float("objective.denoise.min_snr_gamma");
  o.id_scale = c.get_float("objective.denoise.id_scale");
  o.seed = static_cast<uint64_t>(c.get_int("seed"));
  return o;
}

std::string load_generator_weights(Generator& generator, const std::string& path, const DenoiseOptions& o) {
  torch::serialize::InputArchive ar;
  read_checkpoint(path, ar);  // verifies length and checksum
  c10::IValue sig_value;
  if (!ar.try_read("signature", sig_value))
    throw CheckpointError(path + ": objective.denoise.generator_from: no model signature (not an imprint checkpoint?)");
  const auto sig = parse_signature(sig_value.toStringRef());
  const auto objectives = sig.count("objectives") ? sig.at("objectives") : "";
  if (objectives.find("denoise") == std::string::npos)
    throw CheckpointError(path + ": objective.denoise.generator_from: this checkpoint holds no generator (trained "
                          "with objectives '" + objectives + "'; train one with objective.denoise.train: generator)");
  const std::map<std::string, std::string> shape = {
      {"objective.denoise.width", std::to_string(o.generator.width)},
      {"objective.denoise.heads", std::to_string(o.generator.heads)},
      {"objective.denoise.content_classes", std::to_string(o.generator.content_classes)},
      {"data.image_size", std::to_string(o.generator.image_size)},
      {"model.embed_dim", std::to_string(o.generator.id_dim)}};
  const std::string diffs = signature_differences(shape, sig);
  if (!diffs.empty())
    throw CheckpointError(path + ": objective.denoise.generator_from: its generator has another shape: " + diffs);
  torch::serialize::InputArchive objective;
  if (!ar.try_read("objective", objective)) throw CheckpointError(path + ": no objective state in it");
  std::vector<std::pair<std::string, at::Tensor>> wanted;
  for (auto& kv : generator.named_parameters().pairs())
    if (!generator.is_adapter_parameter(kv.first)) wanted.emplace_back("denoise.generator." + kv.first, kv.second);
  for (auto& kv : generator.named_buffers().pairs()) wanted.emplace_back("denoise.generator." + kv.first, kv.second);
  read_named_tensors(objective, wanted, path + ": objective");
  return file_fnv1a64(path);
}

DenoiseObjective::DenoiseObjective(const DenoiseOptions& o) : options_(o), schedule_(o.schedule, o.timesteps) {
  if (!o.generator_script.empty()) {
    if (!o.generator_from.empty())
      throw ConfigError("objective.denoise.generator_script: set together with objective.denoise.generator_from; a "
                        "generator comes from one of them");
    std::shared_ptr<ScriptedGenerator> script;
    try {
      script = std::make_shared<ScriptedGenerator>(o.generator_script, o.adapter_pattern, o.generator);
    } catch (const std::invalid_argument& e) {
      throw ConfigError(std::string("objective.denoise.generator_script: ") + e.what());
    }
    if (o.train != "generator" && script->adapter_names().empty()) {
      std::string names;
      for (const auto& kv : script->named_parameters().pairs()) names += (names.empty() ? "" : ", ") + kv.first;
      throw ConfigError("objective.denoise.adapter_pattern: '" + o.adapter_pattern + "' matches none of the parameters of " +
                        o.generator_script + " (" + names + "; '.' is written '__' here)");
    }
    generator_ = register_module("generator", script);
    generator_hash_ = file_fnv1a64(o.generator_script);
  } else {
    generator_ = register_module("generator", make_generator(o.generator));
  }
  if (o.train == "adapter" && o.generator_from.empty() && o.generator_script.empty())
    throw ConfigError("objective.denoise.generator_from: objective.denoise.train: adapter trains against a frozen "
                      "generator; name the checkpoint of a run with objective.denoise.train: generator (or a "
                      "TorchScript generator in objective.denoise.generator_script)");
  if (!o.generator_from.empty()) {
    generator_hash_ = load_generator_weights(*generator_, o.generator_from, o);
    generator_->init_adapter_from_content();
  }
  for (auto& kv : generator_->named_parameters().pairs()) {
    const bool adapter = generator_->is_adapter_parameter(kv.first);
    const bool trains = o.train == "all" || (o.train == "adapter" ? adapter : !adapter);
    kv.second.set_requires_grad(trains);
  }
}

std::map<std::string, std::string> DenoiseObjective::signature() const {
  if (generator_hash_.empty()) return {};
  if (options_.generator_script.empty()) return {{"objective.denoise.generator_fnv1a64", generator_hash_}};
  // Only for scripted generators, so checkpoints from before these keys existed keep their signature.
  return {{"objective.denoise.generator_fnv1a64", generator_hash_},
          {"objective.denoise.generator_script", options_.generator_script},
          {"objective.denoise.adapter_pattern", options_.adapter_pattern}};
}

ObjectiveOutput DenoiseObjective::compute(const TrainBatch& batch, const EncodedBatch& encoded, Communicator&) {
  const Conditioning& reference = encoded.reference;
  const at::Tensor& x0 = batch.target;
  const int64_t B = x0.size(0), numel = x0.numel() / std::max<int64_t>(1, B);
  const int64_t classes = options_.generator.content_classes;
  // Per-row draws on the CPU from (seed, step, global row): timestep, condition dropout, noise.
  at::Tensor t = at::empty({B}, at::kLong), keep_id = at::empty({B}, at::kFloat), eps = at::empty_like(x0, at::kCPU);
  at::Tensor content = at::full({B}, classes, at::kLong);  // `classes` = no content
  const at::Tensor given = batch.content.defined() ? batch.content.to(at::kCPU).contiguous() : at::Tensor();
  float* e = eps.data_ptr<float>();
  int64_t* tp = t.data_ptr<int64_t>();
  int64_t* cp = content.data_ptr<int64_t>();
  float* kp = keep_id.data_ptr<float>();
  const double p_id = options_.drop_identity, p_content = options_.drop_content, p_both = options_.drop_both;
  for (int64_t r = 0; r < B; ++r) {
    CounterRng rng(mix(options_.seed, 0xd1ff, static_cast<uint64_t>(batch.step),
                       static_cast<uint64_t>(batch.first_row + r)));
    tp[r] = static_cast<int64_t>(rng.below(static_cast<uint64_t>(schedule_.timesteps())));
    // Disjoint bins, as in IP-Adapter: identity only, content only, both.
    const double u = rng.uniform(0, 1);
    const bool drop_id = u < p_id || (u >= p_id + p_content && u < p_id + p_content + p_both);
    const bool drop_content = u >= p_id && u < p_id + p_content + p_both;
    kp[r] = drop_id || options_.train == "generator" ? 0.0f : 1.0f;
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
  if (options_.train != "generator") {
    tokens = reference.tokens * keep_id.to(device).view({B, 1, 1});  // zeroed tokens: the identity branch adds 0
    scale = options_.id_scale;
  } else {
    tokens = at::zeros({B, 1, options_.generator.id_dim}, x0.options());
  }
  const auto x_t = schedule_.add_noise(x0, eps, t);
  const auto prediction = generator_->predict(x_t, t, content, tokens, scale);
  auto per_row = (prediction - schedule_.target(options_.prediction, x0, eps, t)).pow(2).flatten(1).mean(1);
  ObjectiveOutput out;
  out.logged.emplace_back("mse", per_row.mean().detach());
  if (options_.min_snr_gamma > 0) {
    const auto ab = schedule_.alpha_bar(t);
    const auto snr = ab / (1 - ab);
    const auto clipped = snr.clamp_max(options_.min_snr_gamma);
    per_row = per_row * (options_.prediction == Prediction::Eps ? clipped / snr : clipped / (snr + 1));
  }
  out.loss = per_row.mean();
  return out;
}

}  // namespace imprint
