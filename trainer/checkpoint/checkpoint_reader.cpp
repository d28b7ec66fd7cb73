#include "trainer/checkpoint/checkpoint_reader.h"

#include <torch/csrc/autograd/grad_mode.h>

#include <cmath>
#include <filesystem>

#include "core/text.h"
#include "models/encoder_spec.h"
#include "trainer/checkpoint/checkpoint_store.h"
#include "trainer/checkpoint/state_part.h"
#include "trainer/checkpoint/tensor_archive.h"
#include "trainer/checkpoint/weight_average.h"

namespace imprint {

namespace {
// The run's clip length: an audio generator's log-mel frames follow from it (generation/diffusion.h). The job's
// key (trainer/job_config.cpp), declared again here for this read-only schema, which the job schema never joins.
struct ClipKey {
  double clip_seconds = 0.5;
};
const Section<ClipKey>& clip_key() {
  static const auto section = Section<ClipKey>("data").real("clip_seconds", &ClipKey::clip_seconds, 0.5,
                                                            Range::closed(0.1, 30), "Audio clip length in seconds.");
  return section;
}
}  // namespace

void check_judge_reads(const TrainedEncoder& judge, const std::string& path, const DiffusionSpec& run) {
  const EncoderSpec& j = judge.spec;
  const auto what = [](Modality m, int64_t size, int64_t rate) {
    return m == Modality::Image ? std::to_string(size) + "-pixel images" : "audio at " + std::to_string(rate) + " Hz";
  };
  const std::string reads = what(j.modality, j.image_size, j.sample_rate);
  const std::string makes = what(run.modality, run.image_size, run.mel.sample_rate);
  if (reads != makes) throw CheckpointError(path + ": this judge reads " + reads + "; the generator makes " + makes);
}

const Schema& model_schema() {
  static const Schema schema = [] {
    Schema s(encoder_input_section().keys());
    s.add(clip_key().keys());
    s.add(encoder_keys());
    s.add(diffusion_section().keys());
    s.add(autoencoder_section().keys());
    return s;
  }();
  return schema;
}

CheckpointReader::CheckpointReader(std::string path) : path_(std::move(path)) {
  step_ = read_checkpoint(path_, archive_);  // verifies length and checksum
  c10::IValue format, sig, settings;
  if (archive_.try_read("format", format) && format.isInt()) format_ = format.toInt();
  if (format_ > kCheckpointFormat)
    throw CheckpointError(path_ + ": written by a newer imprint (checkpoint format " + std::to_string(format_) +
                          "; this one reads formats 1 to " + std::to_string(kCheckpointFormat) + ")");
  if (!archive_.try_read("signature", sig) || !sig.isString())
    throw CheckpointError(path_ + ": holds no model signature (not an imprint training checkpoint)");
  signature_ = parse_signature(sig.toStringRef());
  if (archive_.try_read("settings", settings) && settings.isString())
    settings_ = parse_signature(settings.toStringRef());
  c10::IValue trained_encoder;
  if (archive_.try_read("encoder_trained", trained_encoder) && trained_encoder.isBool()) {
    encoder_trained_ = trained_encoder.toBool();
  } else {
    // Written before the record said so: then only generator pretraining (the denoise objective alone with
    // train: generator) left the encoder untrained.
    const auto train = signature_.find("objective.denoise.train"), objectives = signature_.find("objectives");
    encoder_trained_ = !(train != signature_.end() && train->second == "generator" && objectives != signature_.end() &&
                         objectives->second == "denoise");
  }
}

ConfigValues CheckpointReader::settings(const Schema& schema) const {
  ConfigValues values(schema);
  const std::string source = path_ + " (its stored settings)";
  for (const auto* layer : {&settings_, &signature_})
    for (const auto& [key, value] : *layer)
      if (schema.find(key)) values.set(key, value, source);
  return values;
}

bool CheckpointReader::trained(const std::string& name) const {
  const auto it = signature_.find("objectives");
  if (it == signature_.end()) return false;
  const std::string list = "," + it->second + ",";
  return list.find("," + name + ",") != std::string::npos;
}

TrainedEncoder CheckpointReader::encoder() {
  for (const char* key : {"data.modality", "model.embed_dim", "model.tokens", "model.width"})
    if (!signature_.count(key))
      throw CheckpointError(path_ + ": its model signature has no " + key +
                            " (not an encoder checkpoint of this imprint)");
  TrainedEncoder t;
  t.checkpoint = path_;
  t.step = step_;
  t.signature = signature_;
  try {
    const ConfigValues values = settings(model_schema());
    t.spec = read_encoder_spec(values);
    t.encoder = make_encoder(t.spec, values);
  } catch (const std::exception& e) {
    throw CheckpointError(path_ + ": cannot rebuild its encoder: " + first_line(e.what()));
  }
  EncoderState(t.encoder).load(archive_, path_);
  t.averaged_weights = load_average_into(archive_, *t.encoder, "", path_) > 0;  // a run with ema.decay
  t.encoder->eval();
  return t;
}

std::string CheckpointReader::generator_owner() {
  torch::serialize::InputArchive objective, owner, generator;
  if (!archive_.try_read("objective", objective)) return "";
  const auto it = signature_.find("objectives");
  std::string list = it == signature_.end() ? "" : it->second;
  for (size_t start = 0; start <= list.size();) {
    const size_t end = std::min(list.find(',', start), list.size());
    const std::string name = list.substr(start, end - start);
    if (!name.empty() && objective.try_read(name, owner) && owner.try_read("generator", generator)) return name;
    start = end + 1;
  }
  return "";
}

std::shared_ptr<Diffusion> CheckpointReader::build_diffusion() {
  try {
    const ConfigValues values = settings(model_schema());
    DiffusionSpec spec = diffusion_spec(values, read_encoder_spec(values));
    for (std::string* file : {&spec.generator_from, &spec.generator_script, &spec.autoencoder_from,
                              &spec.autoencoder_script, &spec.content_tokens})
      *file = resolve_recorded_path(*file, path_);
    std::unique_ptr<CheckpointReader> autoencoder;
    if (!spec.autoencoder_from.empty()) {
      autoencoder = std::make_unique<CheckpointReader>(spec.autoencoder_from);
      spec.autoencoder = autoencoder->autoencoder_spec();
    }
    auto diffusion = std::make_shared<Diffusion>(spec);
    if (autoencoder) autoencoder->load_autoencoder(dynamic_cast<KlAutoencoder&>(*diffusion->autoencoder()));
    return diffusion;
  } catch (const CheckpointError&) {
    throw;
  } catch (const std::exception& e) {
    throw CheckpointError(path_ + ": cannot rebuild its generator: " + first_line(e.what()));
  }
}

void CheckpointReader::load_pretrained_generator(Diffusion& into) {
  const std::string owner = generator_owner();
  const auto objectives = signature_.count("objectives") ? signature_.at("objectives") : "";
  if (owner.empty())
    throw CheckpointError(path_ + ": " + diffusion_section().prefix() +
                          ".generator_from: this checkpoint holds no "
                          "generator (trained with objectives '" +
                          objectives + "'; train one with " + diffusion_section().prefix() + ".train: generator)");
  const auto there = build_diffusion();
  const std::string diffs = generator_shape_differences(into.spec(), there->spec());
  if (!diffs.empty())
    throw CheckpointError(path_ + ": " + diffusion_section().prefix() +
                          ".generator_from: its generator has another "
                          "shape: " +
                          diffs);
  torch::serialize::InputArchive objective;
  archive_.read("objective", objective);
  std::vector<std::pair<std::string, at::Tensor>> wanted;
  Generator& g = into.generator();
  for (auto& kv : g.named_parameters().pairs())
    if (!g.is_adapter_parameter(kv.first)) wanted.emplace_back(owner + ".generator." + kv.first, kv.second);
  for (auto& kv : g.named_buffers().pairs()) wanted.emplace_back(owner + ".generator." + kv.first, kv.second);
  read_named_tensors(objective, wanted, path_ + ": objective");
  // A pretraining run that kept a weight average (ema.decay) samples from it (load_trained_generator does the
  // same), so the frozen generator is the average: the generator its own grid shows, and what a released
  // diffusion model ships. The identity branch never trained there, so it stays out.
  torch::serialize::InputArchive average;
  if (archive_.try_read("ema", average)) {
    std::vector<std::pair<std::string, at::Tensor>> averaged;
    for (auto& kv : g.named_parameters().pairs())
      if (!g.is_adapter_parameter(kv.first))
        averaged.emplace_back("objective." + owner + ".generator." + kv.first, kv.second);
    read_named_tensors(average, averaged, path_ + ": ema");
  }
}

AutoencoderSpec CheckpointReader::autoencoder_spec() {
  if (!trained("autoencoder"))
    throw CheckpointError(path_ + ": " + diffusion_section().prefix() +
                          ".autoencoder_from: this checkpoint holds no autoencoder (its run trained '" +
                          (signature_.count("objectives") ? signature_.at("objectives") : std::string()) +
                          "'; train one with objective.autoencoder.weight > 0)");
  try {
    return autoencoder_section().read(settings(model_schema()));
  } catch (const std::exception& e) {
    throw CheckpointError(path_ + ": cannot read its autoencoder's settings: " + first_line(e.what()));
  }
}

void CheckpointReader::load_autoencoder(KlAutoencoder& into) {
  const AutoencoderSpec there = autoencoder_spec();
  if (there.latent_channels != into.spec().latent_channels || there.downsample != into.spec().downsample ||
      there.width != into.spec().width)
    throw CheckpointError(path_ + ": its autoencoder has another shape than the one asked for");
  torch::serialize::InputArchive objective;
  archive_.read("objective", objective);
  std::vector<std::pair<std::string, at::Tensor>> wanted;
  for (auto& kv : into.named_parameters().pairs()) wanted.emplace_back("autoencoder.model." + kv.first, kv.second);
  at::Tensor latent_std = at::zeros({});
  wanted.emplace_back("autoencoder.latent_std", latent_std);
  {
    torch::NoGradGuard no_grad;
    read_named_tensors(objective, wanted, path_ + ": objective");
  }
  // The run's weight average, when it kept one, is what its evaluations measured.
  load_average_into(archive_, into, "objective.autoencoder.model.", path_);
  const double scale = latent_std.item<double>();
  if (!(scale > 0) || !std::isfinite(scale))
    throw CheckpointError(path_ + ": its autoencoder's latent scale is " + std::to_string(scale) +
                          " (it never trained a step)");
  into.set_latent_std(scale);
}

DiffusionSpec resolved_diffusion_spec(const ConfigValues& values, const EncoderSpec& encoder) {
  DiffusionSpec spec = diffusion_spec(values, encoder);
  if (!spec.autoencoder_from.empty()) spec.autoencoder = CheckpointReader(spec.autoencoder_from).autoencoder_spec();
  return spec;
}

std::string resolve_recorded_path(const std::string& recorded, const std::string& checkpoint) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (recorded.empty() || fs::path(recorded).is_absolute() || fs::exists(recorded, ec)) return recorded;
  // Relative to the directory training ran in: one of the checkpoint's ancestors when, as usual, the run
  // directory lies below it (runs/NAME/checkpoints/step-N.ckpt beside runs/OTHER/...).
  for (fs::path dir = fs::absolute(checkpoint, ec).parent_path(); !dir.empty(); dir = dir.parent_path()) {
    if (fs::exists(dir / recorded, ec)) return (dir / recorded).lexically_normal().string();
    if (dir == dir.root_path()) break;
  }
  return recorded;
}

TrainedGenerator CheckpointReader::generator() {
  const std::string owner = generator_owner();
  const std::string prefix = diffusion_section().prefix();
  if (owner.empty())
    throw CheckpointError(path_ + ": trained without a generator, so it has none to sample from (train one with " +
                          prefix + ".weight > 0)");
  TrainedGenerator g;
  g.encoder = encoder();
  g.diffusion = build_diffusion();
  const DiffusionSpec& spec = g.diffusion->spec();
  const std::string frozen = spec.generator_script.empty() ? spec.generator_from : spec.generator_script;
  // Every frozen file the run depended on (generator, autoencoder, content tokens) must be the one it trained
  // against: the same content hash.
  std::map<std::string, std::string> now;
  try {
    now = frozen_generator_facts(spec);
  } catch (const std::exception& e) {
    throw CheckpointError(path_ + ": a file its generator was trained against cannot be read: " + first_line(e.what()));
  }
  const std::vector<std::pair<std::string, std::string>> files = {
      {".generator_fnv1a64", frozen},
      {".autoencoder_fnv1a64", spec.autoencoder_script.empty() ? spec.autoencoder_from : spec.autoencoder_script},
      {".content_tokens_fnv1a64", spec.content_tokens}};
  for (const auto& [suffix, file] : files) {
    if (file.empty()) continue;
    const std::string hash_key = prefix + suffix;
    const auto recorded = signature_.find(hash_key);
    const std::string what = suffix == ".generator_fnv1a64"     ? "the generator in "
                             : suffix == ".autoencoder_fnv1a64" ? "the autoencoder in "
                                                                : "the content tokens in ";
    if (recorded == signature_.end() || recorded->second != now.at(hash_key))
      throw CheckpointError(path_ + ": trained against " + what + file + " with hash " +
                            (recorded == signature_.end() ? "(absent)" : recorded->second) +
                            ", but that file now hashes to " + now.at(hash_key));
  }
  if (!frozen.empty() && spec.generator_script.empty()) {
    CheckpointReader from(spec.generator_from);
    from.load_pretrained_generator(*g.diffusion);
    g.diffusion->generator().init_adapter_from_content();
  }
  torch::serialize::InputArchive objective;
  archive_.read("objective", objective);
  Generator& gen = g.diffusion->generator();
  std::vector<std::pair<std::string, at::Tensor>> adapter, rest;
  for (auto& kv : gen.named_parameters().pairs())
    (gen.is_adapter_parameter(kv.first) ? adapter : rest).emplace_back(owner + ".generator." + kv.first, kv.second);
  for (auto& kv : gen.named_buffers().pairs()) rest.emplace_back(owner + ".generator." + kv.first, kv.second);
  if (read_named_tensors(objective, adapter, path_ + ": objective", /*missing_ok=*/true) == 0)
    throw CheckpointError(path_ + ": a generator-pretraining checkpoint (" + prefix +
                          ".train: generator): its "
                          "identity branch never trained; generate from a run with train: adapter or all");
  // What trained is in the checkpoint; what stayed frozen came from the frozen file above.
  read_named_tensors(objective, rest, path_ + ": objective", /*missing_ok=*/!frozen.empty());
  load_average_into(archive_, gen, "objective." + owner + ".generator.", path_);
  gen.eval();
  return g;
}

TrainedEncoder load_trained_encoder(const std::string& checkpoint) {
  CheckpointReader reader(checkpoint);
  // Generator pretraining (or an autoencoder run) leaves the encoder at its random initialisation: exporting or
  // scoring it would give a model (and figures) of nothing, unwarned.
  if (!reader.encoder_trained())
    throw CheckpointError(checkpoint + ": no objective of its run (" +
                          (reader.signature().count("objectives") ? reader.signature().at("objectives") : "") +
                          ") trained the encoder (generator pretraining, or an autoencoder), so it is as "
                          "initialised; use the checkpoint of a run that trains the encoder (an adapter or joint run, "
                          "or an encoder objective)");
  return reader.encoder();
}

TrainedGenerator load_trained_generator(const std::string& checkpoint) {
  return CheckpointReader(checkpoint).generator();
}

}  // namespace imprint
