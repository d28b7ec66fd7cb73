// The typed configuration of `imprint train`: one struct per section, each filled ONCE from the key values by
// the Section that declares its keys (config/section.h), the way torchtitan's JobConfig is. The schema of the
// command is the union of these sections, the encoders' keys (models/encoder_spec.h) and the objectives'
// (trainer/objectives/objective_registry.cpp): there is no other list of keys.
//
// Loading a config for training is three steps, so each command runs only what it needs:
//   load_job_values()  YAML file + --set overrides, each value checked against its key  (train --dry-run)
//   read_job()         the typed sections, and the rules that tie keys together         (train --dry-run)
//   check_job_files()  the files the config names exist (dataset, generator, judge)     (train only; a
//                      noise_dir is read, and checked, when the dataset opens)
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "config/config_values.h"
#include "data/augment_options.h"
#include "models/encoder.h"
#include "trainer/lr_schedule.h"
#include "trainer/objectives/objective_registry.h"
#include "trainer/optim/optimizer.h"

namespace imprint {

enum class DataSource { Synthetic, Shards };
enum class TrainDevice { Auto, Cpu, Cuda };
enum class Precision { Fp32, Bf16 };
enum class CommBackend { Auto, Mpi, Nccl };
enum class GradWire { Fp32, Bf16 };
enum class BestMetric { None, Top1, Top1All, Eer, MinDcf, EerAsnorm };

struct DataConfig {
  DataSource source = DataSource::Synthetic;
  std::string path;
  bool verify_checksums = true, create_if_missing = false;
  uint64_t seed = 7;
  int64_t train_identities = 1000, eval_identities = 100, samples_per_identity = 16, content_classes = 0;
  double clip_seconds = 0.5;
  bool augment = true;
  int64_t workers = 2, prefetch = 4;
};

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::AdamW;
  bool fused = true, amsgrad = false;
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.05, grad_clip = 1.0;
  OptimizerOptions options() const;
};

struct EmaConfig {
  double decay = 0;
};

struct ScheduleConfig {
  LrScheduleKind kind = LrScheduleKind::Cosine;
  int64_t warmup_steps = 50;
  double min_lr_ratio = 0.1;
};

struct TrainConfig {
  int64_t steps = 300, batch_size = 64, samples_per_identity = 2, stop_at = 0, threads = 0;
  TrainDevice device = TrainDevice::Auto;
  Precision precision = Precision::Fp32;
  int64_t log_every = 20, eval_every = 100;
};

struct DistributedConfig {
  CommBackend backend = CommBackend::Auto;
  double bucket_mb = 25, first_bucket_mb = 1;
  GradWire grad_compression = GradWire::Fp32;
  double timeout_s = 300;
  bool debug = false, find_unused_parameters = false, sleep_while_waiting = true;
};

struct EvalConfig {
  int64_t gallery_per_identity = 4, batch_size = 256, asnorm_cohort = 0, asnorm_top_k = 100;
  int64_t validation_identities = 0;  // held-out identities split off to choose on (keep_best); the rest: test
};

struct LogConfig {
  bool tensorboard = true;
  bool gradient_paths = true;
};

struct CheckpointConfig {
  int64_t every = 100;
  double every_minutes = 0;
  BestMetric keep_best = BestMetric::None;
  int64_t keep = 3;
};

struct JobConfig {
  ConfigValues values;  // every key's canonical text: what the typed sections were read from
  std::string source;   // the config file (and overrides) it came from, for messages
  uint64_t seed = 1234;
  EncoderSpec model;  // model.* and the input it encodes (data.modality, data.image_size, data.sample_rate)
  DataConfig data;
  AugmentOptions augment;
  OptimizerConfig optimizer;
  EmaConfig ema;
  ScheduleConfig schedule;
  TrainConfig train;
  DistributedConfig distributed;
  EvalConfig eval;
  LogConfig log;
  CheckpointConfig checkpoint;
  std::vector<ObjectiveTerm> objectives;  // what objective.<name>.weight turns on, in registry order

  explicit JobConfig(const ConfigValues& v) : values(v) {}
  std::string to_yaml() const { return values.to_yaml(); }
};

// Every key `imprint train` accepts, built once (duplicate or contradictory declarations are a
// std::logic_error at the first call: found by the first test that runs).
const Schema& job_schema();
// The optimizer keys whose values shape its saved state (their role is Shaping), with their values: part of the
// model signature.
std::map<std::string, std::string> optimizer_signature(const ConfigValues& values);

// Step 1: the file and overrides, each key checked on its own. Throws ConfigError.
ConfigValues load_job_values(const std::string& file, const std::vector<std::string>& overrides = {});
ConfigValues parse_job_values(const std::string& yaml_text, const std::string& source,
                              const std::vector<std::string>& overrides = {});
// Step 2: the typed sections and the rules between keys (docs/configuration.md); `source` names the config in
// messages. Reads no file. Throws ConfigError.
JobConfig read_job(const ConfigValues& values, const std::string& source);
// The typed sections alone, without the rules (what adopt_dataset_shape reads before they can hold).
JobConfig read_job_sections(const ConfigValues& values);
// Steps 1 and 2 together (what tests and tools that only need a valid config call).
JobConfig parse_job(const std::string& yaml_text, const std::string& source,
                    const std::vector<std::string>& overrides = {});
JobConfig load_job(const std::string& file, const std::vector<std::string>& overrides = {});
// What an objective's factory and rules read beyond its own keys.
ObjectiveContext objective_context(const JobConfig& job);

// Step 3: the files the config names can be opened. Throws ConfigError naming the key.
void check_job_files(const JobConfig& job);

}  // namespace imprint
