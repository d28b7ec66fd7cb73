// A training objective: given this rank's rows of the global batch and the encoder's outputs for the views it
// reads, a loss and the values it wants logged. Objectives are built by name from a registry
// (objective_registry.h); a run trains the weighted sum of every objective whose `objective.<name>.weight` is
// above 0 (CombinedObjective).
//
// The trainer names no objective. What an objective needs from the run it says here: which views it reads
// (views_read), whether its targets may be augmented, what it needs from the dataset (check_dataset), what it
// evaluates besides retrieval (evaluation), the facts a checkpoint must match (signature), and any state it
// splits across ranks (place ... load_shards).
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
#include "data/dataset_facts.h"
#include "data/identity_dataset.h"
#include "models/encoder.h"
#include "trainer/evaluation/retrieval_eval.h"

namespace imprint {

// This rank's rows of the global batch (the view sampler's output).
struct TrainBatch {
  at::Tensor views;       // [B, K, ...] samples on the training device; view 0 the reference, view 1 the target
  at::Tensor identity;    // [B] int64 dataset identity of each row (distinct within a step), on the CPU
  at::Tensor content;     // [B, K] int64 content label of each view, on the CPU (read per row there without a
                          // device round trip); undefined when the dataset has none
  int64_t step = 0;       // the optimizer step, and the global-batch row of row 0: per-row randomness
  int64_t first_row = 0;  // derived from them is the same on any number of ranks (parity, exact resume)

  int64_t rows() const { return views.size(0); }
  int64_t views_per_row() const { return views.size(1); }
  at::Tensor view(int64_t k) const { return views.select(1, k); }  // [B, ...]
};

// The encoder's outputs for the first n views of every row (n: the most any objective reads): one forward over
// [B * n, ...] on a GPU, view by view on the CPU (trainer/train_step.h).
struct EncodedBatch {
  at::Tensor tokens;  // [B, n, T, D]
  at::Tensor pooled;  // [B, n, D]
  int64_t views() const { return tokens.defined() ? tokens.size(1) : 0; }
  Conditioning view(int64_t k) const {
    return {tokens.defined() ? tokens.select(1, k) : at::Tensor(),
            pooled.defined() ? pooled.select(1, k) : at::Tensor()};
  }
};

struct ObjectiveOutput {
  ObjectiveOutput() = default;
  explicit ObjectiveOutput(torch::Tensor loss_, std::vector<std::pair<std::string, torch::Tensor>> logged_ = {})
      : loss(std::move(loss_)), logged(std::move(logged_)) {}

  torch::Tensor loss;  // scalar, this rank's share of the global-batch loss
  // Detached scalars to log, averaged over the steps of the log interval that logged them (a value logged only
  // on some steps, such as the denoise objective's identity-dropped probe, averages over those), read only
  // when a line is logged.
  std::vector<std::pair<std::string, torch::Tensor>> logged;
  // Names among `logged` the step's log line prints too (in this order), beside the total loss: each term's
  // loss, and what a reader needs to see to know a term learns (the denoise objective's loss with and without
  // the identity tokens on the same rows). Everything in `logged` goes to metrics.jsonl and TensorBoard.
  std::vector<std::string> shown;
  // CombinedObjective fills it: each term's weighted loss, still attached to the graph, so the training step
  // can ask which parameters each term's gradient reaches (trainer/gradient_paths.h).
  std::vector<std::pair<std::string, torch::Tensor>> terms;
};

// An evaluation an objective adds to the held-out retrieval at every train.eval_every (the denoise
// objective's identity fidelity of generated samples). Every rank runs it on the same data, so no rank waits
// on another's.
struct EvaluationImage {
  std::string tag;
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // HWC
};
struct EvaluationAudio {
  std::string tag;
  int sample_rate = 0;
  std::vector<float> samples;  // mono, in [-1, 1]
};
struct EvaluationResult {
  std::string line;                                    // for the log
  std::vector<std::pair<std::string, double>> values;  // for metrics.jsonl and TensorBoard
  std::vector<EvaluationImage> images;                 // for TensorBoard's Images tab (samples it drew)
  std::vector<EvaluationAudio> audio;                  // for TensorBoard's Audio tab (clips it generated)
};
class ObjectiveEvaluation {
 public:
  virtual ~ObjectiveEvaluation() = default;
  // `encoder` is in eval mode with the weights evaluation uses (the EMA ones when kept).
  virtual EvaluationResult run(Encoder& encoder, int64_t step) = 0;
};
struct EvaluationContext {
  const IdentityDataset& dataset;
  const EvalSet& heldout;  // the retrieval evaluation's references and gallery, on `device`
  at::Device device;
  uint64_t seed;
  int64_t batch_size;
};

class Objective : public torch::nn::Module {
 public:
  // `comm` spans every rank of the job: objectives that need the global batch (negatives) gather through it.
  virtual ObjectiveOutput compute(const TrainBatch& batch, const EncodedBatch& encoded, Communicator& comm) = 0;

  // How many views of each row it reads when a row has `k`: 0 (none), 1 (the reference), 2 (reference and
  // target) or k (every view: P x K objectives). The trainer encodes the most any objective reads, and the
  // encoder does not train when no objective reads any.
  virtual int64_t views_read(int64_t /*k*/) const { return 2; }
  // Whether it reads the encoder's pooled vector (false: its tokens only, as the denoise objective). When no
  // objective does, the pooled head (head.pool_*) is not trained: it would get no gradient (which data
  // parallelism refuses) and only shrink under weight decay.
  virtual bool reads_pooled() const { return true; }
  // Whether targets (view 1) may be augmented: a generator learns to draw its targets, so the denoise
  // objective wants them clean (augmented ones taught it colour casts and speckle).
  virtual bool augments_targets() const { return true; }
  // Checks what it needs from the dataset (its class count, its content vocabulary); throws ConfigError
  // naming its key and `facts.where`.
  virtual void check_dataset(const DatasetFacts& /*facts*/) const {}
  // What it evaluates beside retrieval, or nullptr.
  virtual std::unique_ptr<ObjectiveEvaluation> evaluation(const EvaluationContext& /*context*/) { return nullptr; }
  // Facts about the run's inputs that a checkpoint must match beyond its keys (e.g. the content hash of a
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

}  // namespace imprint
