#include "trainer/dataset_setup.h"

#include <cmath>
#include <filesystem>

#include "core/log.h"
#include "data/audio_augment.h"
#include "data/shard_dataset.h"
#include "data/synthetic_export.h"

namespace imprint {
namespace fs = std::filesystem;

SyntheticSpec synthetic_spec(const JobConfig& j) {
  SyntheticSpec s;
  s.modality = j.model.modality;
  s.data_seed = j.data.seed;
  s.train_identities = j.data.train_identities;
  s.eval_identities = j.data.eval_identities;
  s.samples_per_identity = j.data.samples_per_identity;
  s.image_size = static_cast<int>(j.model.image_size);
  s.sample_rate = static_cast<int>(j.model.sample_rate);
  s.clip_samples = static_cast<int>(std::lround(j.data.clip_seconds * static_cast<double>(s.sample_rate)));
  s.content_classes = static_cast<int>(j.data.content_classes);
  return s;
}

std::string dataset_name(const JobConfig& j) {
  return j.data.source == DataSource::Synthetic ? "the synthetic dataset" : "the dataset at " + j.data.path;
}

DatasetFacts facts_of(const IdentityDataset& ds, const std::string& where) {
  DatasetFacts f;
  f.where = where;
  f.modality = ds.modality();
  for (const auto* ids : {&ds.train_identities(), &ds.eval_identities()})
    for (int64_t id : *ids) f.identities = std::max(f.identities, id + 1);
  f.content_labels = static_cast<int64_t>(ds.content_labels().size());
  const auto shape = ds.sample_shape();
  if (f.modality == Modality::Image) f.image_size = shape.back();
  return f;
}

namespace {

std::vector<std::string> adopt_from(ConfigValues& values, const DatasetFacts& facts) {
  std::vector<std::string> taken;
  for (const auto& t : enabled_objectives(values))
    if (t.info->adopt)
      for (auto& s : t.info->adopt(values, facts)) taken.push_back(std::move(s));
  return taken;
}

DatasetFacts synthetic_facts(const JobConfig& j) {
  DatasetFacts f;
  f.where = "the synthetic dataset";
  f.modality = j.model.modality;
  f.identities = j.data.train_identities + j.data.eval_identities;
  f.content_labels = j.data.content_classes;
  f.image_size = j.model.image_size;
  f.sample_rate = j.model.sample_rate;
  return f;
}

}  // namespace

std::vector<std::string> adopt_dataset_shape(ConfigValues& values) {
  const JobConfig j = read_job_sections(values);
  std::error_code ec;
  const std::string manifest_file = j.data.path + "/manifest.json";
  const bool have_manifest = !j.data.path.empty() && fs::is_regular_file(manifest_file, ec);
  // The synthetic identities: generated on the fly, or written to data.path first (create_if_missing).
  if (j.data.source == DataSource::Synthetic || (!have_manifest && j.data.create_if_missing))
    return adopt_from(values, synthetic_facts(j));
  if (!have_manifest) return {};
  const Manifest m = Manifest::read(j.data.path);
  std::vector<std::string> taken;
  auto adopt = [&](const std::string& key, int64_t value) {
    if (values.given(key) || value <= 0 || values.text(key) == std::to_string(value)) return;
    values.set(key, std::to_string(value), manifest_file);
    taken.push_back(key + ": " + std::to_string(value) + " from " + manifest_file);
  };
  if (m.modality == Modality::Image) adopt("data.image_size", m.image_size);
  if (m.modality == Modality::Audio) adopt("data.sample_rate", m.sample_rate);
  DatasetFacts f;
  f.where = manifest_file;
  f.modality = m.modality;
  f.identities = static_cast<int64_t>(m.identities.size());
  f.content_labels = static_cast<int64_t>(m.content_labels.size());
  for (auto& s : adopt_from(values, f)) taken.push_back(std::move(s));
  return taken;
}

namespace {

// The recordings of augment.noise_dir, read once (nullptr: generated noise, or nothing to add noise to).
std::shared_ptr<const NoiseBank> open_noise_bank(const JobConfig& j, const Manifest& m) {
  const std::string& dir = j.augment.audio.noise_dir;
  if (dir.empty() || m.modality != Modality::Audio || !j.data.augment || j.augment.audio.noise_prob <= 0)
    return nullptr;
  try {
    auto bank = std::make_shared<const NoiseBank>(dir, m.sample_rate);
    log::info(log::strf("augment.noise_dir: %zu noise recording(s) from %s", bank->files(), dir.c_str()));
    return bank;
  } catch (const std::runtime_error& e) {
    throw ConfigError(std::string("augment.noise_dir: ") + e.what());
  }
}

void check_against_config(const JobConfig& j, const Manifest& m) {
  const std::string& path = j.data.path;
  if (m.modality != j.model.modality)
    throw ConfigError(std::string("data.modality: is ") + modality_name(j.model.modality) + " but the dataset at " +
                      path + " is " + modality_name(m.modality));
  // Either side can give way: the dataset (packed again at the config's size or rate) or the config.
  if (m.modality == Modality::Image && m.image_size != j.model.image_size)
    throw ConfigError("data.image_size: is " + std::to_string(j.model.image_size) + " but the images of " + path +
                      " are " + std::to_string(m.image_size) + " pixels: re-pack it with --image-size " +
                      std::to_string(j.model.image_size) +
                      ", or train at its size with --set data.image_size=" + std::to_string(m.image_size));
  if (m.modality == Modality::Audio && m.sample_rate != j.model.sample_rate)
    throw ConfigError("data.sample_rate: is " + std::to_string(j.model.sample_rate) + " but " + path + " is at " +
                      std::to_string(m.sample_rate) + " Hz: re-pack it with --sample-rate " +
                      std::to_string(j.model.sample_rate) +
                      ", or train at its rate with --set data.sample_rate=" + std::to_string(m.sample_rate));
}

}  // namespace

std::unique_ptr<IdentityDataset> open_dataset(const JobConfig& j, Communicator& comm) {
  const SyntheticSpec spec = synthetic_spec(j);
  if (j.data.source == DataSource::Synthetic) return std::make_unique<SyntheticDataset>(spec);
  const std::string& path = j.data.path;
  if (j.data.create_if_missing && !fs::exists(path + "/manifest.json")) {
    if (comm.rank() == 0) {
      log::info("data.create_if_missing: writing the synthetic identities to " + path);
      const Manifest m = export_synthetic(spec, path, 256 << 20);
      log::info(
          log::strf("wrote %zu identities in %zu shard(s) to %s", m.identities.size(), m.shards.size(), path.c_str()));
    }
    comm.barrier();
  }
  auto ds = std::make_unique<ShardDataset>(path, spec.clip_samples, j.data.verify_checksums);
  const Manifest& m = ds->manifest();
  ds->set_augmentation(j.augment, open_noise_bank(j, m));
  log::info(
      log::strf("dataset %s: %zu identities (%zu held out) in %zu shard(s); used as it is, the synthetic "
                "data.* keys only shape a dataset created here",
                path.c_str(), m.identities.size(), m.holdout.size(), m.shards.size()));
  check_against_config(j, m);
  if (ds->train_identities().size() < 2)
    throw DatasetError(path + ": holds " + std::to_string(ds->train_identities().size()) +
                       " identities to train on (every identity is held out: a set packed with --eval-only, for "
                       "imprint eval); train on another dataset");
  // None held out is a dataset to train on without evaluations (a content reader trained on every label).
  const bool evaluates = j.train.eval_every > 0 || j.checkpoint.keep_best != BestMetric::None;
  if (ds->eval_identities().size() == 1 || (ds->eval_identities().empty() && evaluates))
    throw ConfigError("data.path: " + path + " lists " + std::to_string(ds->eval_identities().size()) +
                      " held-out identities; evaluation needs at least 2 (imprint synth --holdout-identities" +
                      (ds->eval_identities().empty() ? "; or train.eval_every 0 to train without evaluating)" : ")"));
  return ds;
}

}  // namespace imprint
