#include "trainer/training_run.h"

#include <ATen/CPUGeneratorImpl.h>

#include "core/log.h"
#include "trainer/config_schema.h"
#include "trainer/module_state.h"
#include "trainer/weight_average.h"

namespace imprint {

namespace {

// Weight matrices and kernels decay; biases, norms, queries, position tables and the temperature do not.
std::vector<ParamGroup> param_groups(const std::vector<std::pair<std::string, at::Tensor>>& named, double wd) {
  ParamGroup decay{{}, wd}, no_decay{{}, 0.0};
  for (const auto& [name, p] : named) {
    const bool is_weight = name.size() >= 6 && name.compare(name.size() - 6, 6, "weight") == 0;
    (is_weight && p.dim() >= 2 ? decay : no_decay).params.push_back(p);
  }
  return {decay, no_decay};
}

// The objectives' state a checkpoint holds: what trains, and buffers; not frozen weights (a frozen generator
// is loaded from its own file, recorded in the signature).
std::vector<NamedTensor> objective_state(torch::nn::Module& objective) {
  std::vector<NamedTensor> state;
  for (auto& kv : objective.named_parameters().pairs())
    if (kv.second.requires_grad()) state.push_back({kv.first, kv.second, false});
  for (auto& kv : objective.named_buffers().pairs()) state.push_back({kv.first, kv.second, true});
  return state;
}

}  // namespace

EncoderSpec encoder_spec(const Config& c) {
  EncoderSpec e;
  e.name = c.get_string("model.name");
  e.modality = c.get_string("data.modality");
  e.embed_dim = c.get_int("model.embed_dim");
  e.tokens = c.get_int("model.tokens");
  e.width = c.get_int("model.width");
  e.depth = c.get_int("model.depth");
  e.heads = c.get_int("model.heads");
  e.patch = c.get_int("model.patch");
  e.resampler_depth = c.get_int("model.resampler_depth");
  e.resampler_heads = c.get_int("model.resampler_heads");
  e.image_size = c.get_int("data.image_size");
  e.sample_rate = c.get_int("data.sample_rate");
  e.n_mels = c.get_int("model.audio.n_mels");
  e.n_fft = c.get_int("model.audio.n_fft");
  e.hop = c.get_int("model.audio.hop");
  return e;
}

int64_t TrainingRun::parameter_count() const {
  int64_t n = 0;
  for (const auto& kv : named) n += kv.second.numel();
  return n;
}

TrainingRun build_training_run(const Config& cfg, const at::Device& device, int rank, int world) {
  TrainingRun run;
  run.signature = model_signature(cfg);
  run.device = device;
  run.encoder = make_encoder(encoder_spec(cfg));
  run.objective = std::make_shared<CombinedObjective>(cfg);
  if (cfg.get_int("train.samples_per_identity") > 2 && !run.objective->reads_extra())
    throw ConfigError("train.samples_per_identity: " + std::to_string(cfg.get_int("train.samples_per_identity")) +
                      " samples per identity, but no objective turned on reads more than a reference and a target; "
                      "give one that does a weight (objective.supcon, objective.ge2e or objective.aam) or set it to 2");
  run.encoder->to(device);
  run.objective->to(device);
  run.objective->place(rank, world, device);
  for (const auto& [k, v] : run.objective->signature()) run.signature[k] = v;
  // An encoder no objective reads (generator pretraining) stays as initialised.
  const bool encoder_trains = run.objective->reads_reference() || run.objective->reads_target();
  if (encoder_trains)
    for (auto& kv : run.encoder->named_parameters().pairs()) run.named.push_back(kv);
  for (auto& kv : run.objective->named_parameters().pairs())
    if (kv.second.requires_grad()) run.named.emplace_back("objective." + kv.first, kv.second);
  OptimizerOptions oo;
  oo.beta1 = cfg.get_float("optimizer.beta1");
  oo.beta2 = cfg.get_float("optimizer.beta2");
  oo.eps = cfg.get_float("optimizer.eps");
  oo.amsgrad = cfg.get_bool("optimizer.amsgrad");
  oo.kind = cfg.get_string("optimizer.name") == "lamb" ? OptimizerKind::Lamb : OptimizerKind::AdamW;
  run.average_decay = cfg.get_float("ema.decay");
  if (run.average_decay > 0) run.average = start_average(run.named);
  auto groups = param_groups(run.named, cfg.get_float("optimizer.weight_decay"));
  run.optimizer = cfg.get_bool("optimizer.fused") ? make_fused_optimizer(groups, oo) : make_torch_adamw(groups, oo);
  return run;
}

std::map<std::string, std::string> model_signature(const Config& c) {
  // Only what shapes the parameters actually built: the encoder's keys (its modality's front-end keys
  // only for audio) and the shaping keys of the objectives that are on.
  std::map<std::string, std::string> sig;
  const std::string modality = c.get_string("data.modality");
  EncoderSpec spec = encoder_spec(c);
  spec.modality = modality;
  sig["model.name"] = resolve_encoder_name(spec);
  for (const auto& e : encoder_registry())
    if (e.name == sig["model.name"])
      for (const auto& k : e.shaping_keys) sig[k] = c.values().at(k);
  for (const char* k : {"model.embed_dim", "model.tokens", "model.width"}) sig[k] = c.values().at(k);
  // Every encoder's resampler; in the signature only when not the shape checkpoints had before these keys
  // existed (depth 1, 4 heads), so those checkpoints still resume and load.
  for (const char* k : {"model.resampler_depth", "model.resampler_heads"})
    if (c.get_int(k) != std::stoll(find_key(k)->default_value)) sig[k] = std::to_string(c.get_int(k));
  sig["data.modality"] = modality;
  if (modality == "image") {
    sig["data.image_size"] = c.values().at("data.image_size");
  } else {
    sig["data.sample_rate"] = c.values().at("data.sample_rate");
    for (const char* k : {"model.audio.n_mels", "model.audio.n_fft", "model.audio.hop"}) sig[k] = c.values().at(k);
  }
  std::string objectives;
  for (const auto& info : objective_registry()) {
    if (c.get_float("objective." + info.name + ".weight") <= 0) continue;
    objectives += (objectives.empty() ? "" : ",") + info.name;
    for (const auto& k : info.shaping_keys) sig[k] = c.values().at(k);
  }
  sig["objectives"] = objectives;
  // The optimizer state's layout depends on these too.
  for (const char* k : {"optimizer.fused", "optimizer.name", "optimizer.amsgrad"}) sig[k] = c.values().at(k);
  return sig;
}

namespace {
// Archive keys cannot hold dots: "aam.centers" is stored as "aam__centers".
std::string shard_key(std::string key) {
  for (size_t at = key.find('.'); at != std::string::npos; at = key.find('.', at + 2)) key.replace(at, 1, "__");
  return key;
}

void checkpoint_archive(TrainingRun& run, int64_t step, torch::serialize::OutputArchive& ar,
                        const GatheredShards& shards) {
  torch::serialize::OutputArchive model, objective, optimizer;
  ar.write("format", c10::IValue(int64_t{1}));
  ar.write("step", c10::IValue(step));
  ar.write("signature", c10::IValue(signature_text(run.signature)));
  ar.write("restarts", c10::IValue(run.restarts));
  ar.write("first_loss", c10::IValue(run.first_loss));
  run.encoder->save(model);
  ar.write("model", model);
  write_named_tensors(objective, objective_state(*run.objective));
  ar.write("objective", objective);
  run.optimizer->save(optimizer);
  ar.write("optimizer", optimizer);
  if (!shards.empty()) {
    torch::serialize::OutputArchive whole;
    for (const auto& [key, value] : shards) whole.write(shard_key(key), value, /*is_buffer=*/true);
    ar.write("shards", whole);
  }
  if (!run.average.empty()) write_average(ar, run.named, run.average);
  ar.write("torch_rng", at::detail::getDefaultCPUGenerator().get_state(), /*is_buffer=*/true);
  if (run.device.is_cuda()) {  // dropout and noise drawn on the GPU: a resume must draw the same
    at::Generator gen = at::globalContext().defaultGenerator(run.device);
    std::lock_guard<std::mutex> lock(gen.mutex());
    ar.write("cuda_rng", gen.get_state(), /*is_buffer=*/true);
  }
}
}  // namespace

void save_checkpoint(TrainingRun& run, int64_t step, const CheckpointStore& store, const GatheredShards& shards) {
  torch::serialize::OutputArchive ar;
  checkpoint_archive(run, step, ar, shards);
  const std::string path = store.save(step, ar);
  log::info("checkpoint: " + path);
}

std::string save_checkpoint_as(TrainingRun& run, int64_t step, const CheckpointStore& store, const std::string& path,
                               const GatheredShards& shards) {
  torch::serialize::OutputArchive ar;
  checkpoint_archive(run, step, ar, shards);
  return store.save_as(path, step, ar);
}

// Restores `run` from the verified archive `ar` read from `path`; returns its step.
int64_t restore_checkpoint(TrainingRun& run, torch::serialize::InputArchive& ar, const std::string& path) {
  c10::IValue sig_value, step;
  ar.read("signature", sig_value);
  const std::string diffs = signature_differences(run.signature, parse_signature(sig_value.toStringRef()));
  if (!diffs.empty())
    throw CheckpointError(path + ": written for a different model, refusing to load it: " + diffs);
  try {
    torch::serialize::InputArchive model, objective, optimizer;
    ar.read("model", model);
    run.encoder->load(model);
    ar.read("objective", objective);
    std::vector<std::pair<std::string, at::Tensor>> wanted;
    for (const auto& t : objective_state(*run.objective)) wanted.emplace_back(t.name, t.tensor);
    read_named_tensors(objective, wanted, path + ": objective");
    ar.read("optimizer", optimizer);
    run.optimizer->load(optimizer);
    if (run.objective->has_shards()) {
      torch::serialize::InputArchive whole;
      if (!ar.try_read("shards", whole)) throw CheckpointError(path + ": holds no sharded classifier state");
      run.objective->load_shards([&](const std::string& key) {
        at::Tensor t;
        if (!whole.try_read(shard_key(key), t, /*is_buffer=*/true))
          throw CheckpointError(path + ": sharded classifier state '" + key + "' is missing");
        return t;
      });
    }
    if (run.average_decay > 0 && !read_average(ar, run.named, run.average, path)) {
      run.average = start_average(run.named);
      log::warn(path + ": keeps no weight average (written without ema.decay); the average starts from its weights");
    }
    at::Tensor rng;
    ar.read("torch_rng", rng, true);
    at::Generator gen = at::detail::getDefaultCPUGenerator();
    gen.set_state(rng);
    if (run.device.is_cuda()) {
      at::Tensor cuda_rng;
      if (ar.try_read("cuda_rng", cuda_rng, true)) {
        at::Generator cuda_gen = at::globalContext().defaultGenerator(run.device);
        std::lock_guard<std::mutex> lock(cuda_gen.mutex());
        cuda_gen.set_state(cuda_rng);
      } else {
        log::warn(path + ": holds no CUDA RNG state (written by a CPU run): random draws on the GPU will differ "
                         "from an uninterrupted run");
      }
    }
    ar.read("step", step);
    c10::IValue restarts, first_loss;  // absent in checkpoints of earlier versions
    if (ar.try_read("restarts", restarts)) run.restarts = restarts.toInt();
    if (ar.try_read("first_loss", first_loss)) run.first_loss = first_loss.toDouble();
  } catch (const CheckpointError&) {
    throw;
  } catch (const std::exception& e) {
    throw CheckpointError(path + ": cannot restore training state: " + first_line(e.what()));
  }
  return step.toInt();
}

int64_t resume_training_run(TrainingRun& run, const CheckpointStore& store, size_t files_present) {
  torch::serialize::InputArchive ar;
  std::vector<std::string> skipped;
  const auto found = load_newest_valid(store, ar, &skipped);
  for (const auto& s : skipped) log::warn("checkpoint passed over: " + s);
  if (!found && files_present > 0)
    throw CheckpointError(store.dir() + ": none of its " + std::to_string(files_present) +
                          " checkpoint file(s) reads back intact (see the warnings above); refusing to start "
                          "the run again from step 0 — move them aside to do that");
  if (!found) {
    log::info("--resume: no checkpoint in " + store.dir() + " yet, starting at step 0");
    return 0;
  }
  const int64_t step = restore_checkpoint(run, ar, found->path);
  ++run.restarts;
  log::info(log::strf("resumed from %s at step %lld (restart %lld)", found->path.c_str(), static_cast<long long>(step),
                      static_cast<long long>(run.restarts)));
  return step;
}

}  // namespace imprint
