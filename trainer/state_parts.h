// The state parts of a training run (the protocol: trainer/checkpoint/state_part.h), each owning its archive
// keys. A Checkpointer (checkpointer.h) saves and restores them in this order.
#pragma once
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "trainer/checkpoint/signature.h"
#include "trainer/checkpoint/state_part.h"
#include "trainer/model_parts.h"

namespace imprint {

// What a run carries across restarts besides its tensors.
struct RunRecord {
  int64_t step = 0;                  // the step the checkpoint is of (the sampler's whole position)
  int64_t restarts = 0;              // how many times the run was resumed
  double first_loss = std::nan("");  // the run's first logged loss
};

// "format", "step", "signature", "settings", "restarts", "first_loss", "encoder_trained" (whether any objective
// trained the encoder: the checkpoint reader refuses to export or score one that none did). Loading refuses a
// checkpoint whose signature differs from `signature` (written for another model) or whose format is newer
// than this imprint's.
class RunRecordState final : public StatePart {
 public:
  RunRecordState(RunRecord& record, const Signature& signature, const ConfigValues& settings, bool encoder_trained)
      : record_(record), signature_(signature), settings_(settings), encoder_trained_(encoder_trained) {}
  void save(torch::serialize::OutputArchive& checkpoint) override;
  void load(torch::serialize::InputArchive& checkpoint, const std::string& path) override;

 private:
  RunRecord& record_;
  const Signature& signature_;
  const ConfigValues& settings_;
  bool encoder_trained_;
};

// The objectives' trainable parameters and buffers, "objective": not frozen weights (a frozen generator is
// loaded from its own file, recorded in the signature).
class ObjectiveState final : public StatePart {
 public:
  explicit ObjectiveState(torch::nn::Module& objective) : objective_(objective) {}
  void save(torch::serialize::OutputArchive& checkpoint) override;
  void load(torch::serialize::InputArchive& checkpoint, const std::string& path) override;

 private:
  torch::nn::Module& objective_;
};

// "optimizer": moments and update count.
class OptimizerState final : public StatePart {
 public:
  explicit OptimizerState(Optimizer& optimizer) : optimizer_(optimizer) {}
  void save(torch::serialize::OutputArchive& checkpoint) override;
  void load(torch::serialize::InputArchive& checkpoint, const std::string& path) override;

 private:
  Optimizer& optimizer_;
};

// "shards": a sharded classifier, whole. gather() is a collective every rank calls before rank 0 saves.
class ShardState final : public StatePart {
 public:
  ShardState(CombinedObjective& objective, Communicator& comm) : objective_(objective), comm_(comm) {}
  void gather() { gathered_ = objective_.gather_shards(comm_); }
  void save(torch::serialize::OutputArchive& checkpoint) override;
  void load(torch::serialize::InputArchive& checkpoint, const std::string& path) override;

 private:
  CombinedObjective& objective_;
  Communicator& comm_;
  std::map<std::string, at::Tensor> gathered_;
};

// "ema": the weight average (when the run keeps one; a checkpoint without it starts it from the weights).
class AverageState final : public StatePart {
 public:
  explicit AverageState(ModelParts& parts) : parts_(parts) {}
  void save(torch::serialize::OutputArchive& checkpoint) override;
  void load(torch::serialize::InputArchive& checkpoint, const std::string& path) override;

 private:
  ModelParts& parts_;
};

// "torch_rng" (CPU) and, on a GPU, "cuda_rng": dropout and noise drawn by torch itself.
class RngState final : public StatePart {
 public:
  explicit RngState(const at::Device& device) : device_(device) {}
  void save(torch::serialize::OutputArchive& checkpoint) override;
  void load(torch::serialize::InputArchive& checkpoint, const std::string& path) override;

 private:
  at::Device device_;
};

}  // namespace imprint
