// One training run's state, and everything about it that is not the step loop: building the encoder, the
// objectives and the optimizer from a config; the checkpoint's model signature; saving a checkpoint and
// restoring one (a resume takes the newest intact checkpoint, refusing one written for another model).
#pragma once
#include <ATen/Device.h>
#include <ATen/Tensor.h>
#include <torch/serialize/archive.h>

#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "models/encoder.h"
#include "trainer/checkpoint_store.h"
#include "trainer/config.h"
#include "trainer/objectives/objective.h"
#include "trainer/optim/optimizer.h"

namespace imprint {

struct TrainingRun {
  std::shared_ptr<Encoder> encoder;
  std::shared_ptr<CombinedObjective> objective;
  std::unique_ptr<Optimizer> optimizer;
  // What trains, by name: the encoder's parameters, then the objectives' as "objective.<name>.<param>".
  std::vector<std::pair<std::string, at::Tensor>> named;
  std::vector<at::Tensor> average;  // ema.decay > 0: the moving average of `named` (trainer/weight_average.h)
  double average_decay = 0;
  std::map<std::string, std::string> signature;  // model_signature() of the config
  int64_t restarts = 0;                          // how many times this run was resumed
  double first_loss = std::nan("");              // the run's first logged loss, carried across restarts
  at::Device device{at::kCPU};                   // where it trains; a CUDA run also checkpoints that GPU's RNG

  int64_t parameter_count() const;
};

// The encoder config keys, as the model registry takes them.
EncoderSpec encoder_spec(const Config& config);

// Builds encoder, objectives and optimizer on `device` (the torch seed must be set before: it decides the
// initial parameters); state an objective splits across ranks is placed for `rank` of `world`.
TrainingRun build_training_run(const Config& config, const at::Device& device, int rank = 0, int world = 1);

// The keys that define the model's parameters; a checkpoint is only loaded into the same values.
std::map<std::string, std::string> model_signature(const Config& config);

// `shards`: what run.objective->gather_shards() gave (every rank gathers; one rank writes).
using GatheredShards = std::map<std::string, at::Tensor>;
void save_checkpoint(TrainingRun& run, int64_t step, const CheckpointStore& store, const GatheredShards& shards = {});
// The same checkpoint written to `path` (checkpoint.keep_best's copy), outside the store's pruning.
std::string save_checkpoint_as(TrainingRun& run, int64_t step, const CheckpointStore& store, const std::string& path,
                               const GatheredShards& shards = {});
// Restores `run` from the verified archive `ar` read from `path`; returns its step.
int64_t restore_checkpoint(TrainingRun& run, torch::serialize::InputArchive& ar, const std::string& path);
// Restores the newest intact checkpoint of `store` and counts the restart; returns its step, or 0 when the
// store is empty. Throws CheckpointError when `files_present` files exist but none reads back intact.
int64_t resume_training_run(TrainingRun& run, const CheckpointStore& store, size_t files_present);

}  // namespace imprint
