// A training objective: given the whole batch and the encoder's outputs for its samples (reference,
// target, and with train.samples_per_identity K > 2 the extra views), a loss and the values it wants logged. Objectives are built by name from a registry; a run trains the
// weighted sum of every objective whose `objective.<name>.weight` is above 0.
//
// Adding an objective: one file implementing Objective, one line in objective_registry.cpp (its name, the
// config keys that shape its parameters, its factory), its keys `objective.<name>.*` in
// trainer/config_schema.cpp, and their rows in docs/configuration.md.
#pragma once
#include <ATen/Tensor.h>
#include <torch/nn/module.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "collectives/communicator.h"
#include "models/encoder.h"
#include "trainer/config.h"

namespace imprint {

// This rank's rows of the global batch (the pair sampler's output, on the training device).
struct TrainBatch {
  at::Tensor reference, target;  // [B, ...] samples; row i of both has the same identity
  at::Tensor identity;           // [B] int64 dataset identity of row i (distinct within a step)
  at::Tensor content;            // [B] int64 content label of the target when the dataset has them, else undefined;
                                 // kept on the CPU (small; read per row there without a device round trip)
  int64_t step = 0;              // the optimizer step, and the global-batch row of row 0: per-row randomness
  int64_t first_row = 0;         // derived from them is the same on any number of ranks (parity, exact resume)
  at::Tensor extra;              // [B, K-2, ...] views 2..K-1 of row i's identity; undefined when K = 2
};

// What the encoder made of the batch; a member is undefined when no objective reads it.
struct EncodedBatch {
  Conditioning reference, target;
  Conditioning extra;  // rows i*(K-2) .. i*(K-2)+K-3 are views 2..K-1 of batch row i
  // Every view's pooled embedding [B, K, D] (reference, target, extras): what P x K objectives read.
  torch::Tensor pooled_views() const;
};

struct ObjectiveOutput {
  torch::Tensor loss;  // scalar, this rank's share of the global-batch loss
  // Detached scalars to log (averaged over the log interval, read only when a line is logged).
  std::vector<std::pair<std::string, torch::Tensor>> logged;
};

class Objective : public torch::nn::Module {
 public:
  // `comm` spans every rank of the job: objectives that need the global batch (negatives) gather through it.
  virtual ObjectiveOutput compute(const TrainBatch& batch, const EncodedBatch& encoded, Communicator& comm) = 0;
  // Which encodings compute() reads; the trainer skips the others (an undefined Conditioning is passed), and
  // the encoder does not train when no objective reads any.
  virtual bool reads_reference() const { return true; }
  virtual bool reads_target() const { return true; }
  // Views 2..K-1: only P x K objectives read them; with K > 2 at least one of the run's objectives must.
  virtual bool reads_extra() const { return false; }
  // Facts about the run's inputs that a checkpoint must match beyond the config (e.g. the content hash of a
  // frozen generator it was trained against), merged into the model signature.
  virtual std::map<std::string, std::string> signature() const { return {}; }

  // State split across ranks (a sharded classifier): not module parameters, so neither the gradient reducer
  // nor the replicated optimizer nor EMA sees it. The trainer places it once the job's layout is known
  // (before a checkpoint is read), steps it after every optimizer step, and checkpoints it whole: every rank
  // calls gather_shards() (a collective) and load_shards() takes this rank's part of what any world wrote.
  virtual void place(int /*rank*/, int /*world*/, const at::Device& /*device*/) {}
  virtual bool has_shards() const { return false; }
  virtual void step_shards(double /*lr*/) {}
  virtual std::map<std::string, at::Tensor> gather_shards(Communicator& /*comm*/) { return {}; }
  // `read(key)` gives the whole tensor gather_shards() wrote under `key` (throws when it is missing).
  using ShardReader = std::function<at::Tensor(const std::string& key)>;
  virtual void load_shards(const ShardReader& /*read*/) {}
};

struct ObjectiveInfo {
  std::string name, summary;
  std::vector<std::string> shaping_keys;  // config keys that change its parameters (part of the model signature)
  std::function<std::shared_ptr<Objective>(const Config&)> make;
};
const std::vector<ObjectiveInfo>& objective_registry();

// The weighted sum of the objectives a config turns on. Each term's parameters live under its name.
class CombinedObjective : public torch::nn::Module {
 public:
  explicit CombinedObjective(const Config& config);  // throws ConfigError when no objective has a weight > 0
  // The total loss; `logged` holds loss/<name> for each term (when several) and each term's own values.
  ObjectiveOutput compute(const TrainBatch& batch, const EncodedBatch& encoded, Communicator& comm);
  const std::vector<std::string>& names() const { return names_; }
  // The term called `name`, or nullptr when the config does not turn it on.
  std::shared_ptr<Objective> find(const std::string& name) const;
  bool reads_reference() const;
  bool reads_target() const;
  bool reads_extra() const;
  std::map<std::string, std::string> signature() const;
  // Each term's sharded state (Objective::place ...), keys prefixed "<name>.".
  void place(int rank, int world, const at::Device& device);
  bool has_shards() const;
  void step_shards(double lr);
  std::map<std::string, at::Tensor> gather_shards(Communicator& comm);
  void load_shards(const Objective::ShardReader& read);

 private:
  std::vector<std::string> names_;
  std::vector<double> weights_;
  std::vector<std::shared_ptr<Objective>> terms_;
};

}  // namespace imprint
