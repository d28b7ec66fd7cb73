// One checkpoint protocol. Every stateful part of a training run — the encoder, the objectives' trainable
// state, the optimizer, the weight average, a sharded classifier, the RNG, the run's record (step, signature,
// settings, restarts) — saves into and loads from the checkpoint archive through this interface, under the
// archive keys it owns. The trainer's Checkpointer (trainer/checkpointer.h) holds a run's parts; the
// checkpoint reader (checkpoint_reader.h) loads the parts a tool rebuilds through the same classes.
//
// Archive layout (format 2; format 1 lacks "settings"):
//   format, step, signature, settings, restarts, first_loss   the run's record (RunRecordState)
//   model       the encoder (torch::nn::Module::save's layout)   EncoderState
//   objective   the objectives' trainable parameters and buffers, "<name>.<param>" nested as Module::save does
//   optimizer   its moments and step count;  ema: the weight average;  shards: a sharded classifier, whole
//   torch_rng, cuda_rng                       the generators' states
#pragma once
#include <torch/serialize/archive.h>

#include <memory>
#include <string>

#include "models/encoder.h"

namespace imprint {

class StatePart {
 public:
  virtual ~StatePart() = default;
  virtual void save(torch::serialize::OutputArchive& checkpoint) = 0;
  // Throws CheckpointError naming `path` and what is missing or does not fit.
  virtual void load(torch::serialize::InputArchive& checkpoint, const std::string& path) = 0;
};

// The encoder's parameters and buffers, archive key "model".
class EncoderState final : public StatePart {
 public:
  explicit EncoderState(std::shared_ptr<Encoder> encoder) : encoder_(std::move(encoder)) {}
  void save(torch::serialize::OutputArchive& checkpoint) override;
  void load(torch::serialize::InputArchive& checkpoint, const std::string& path) override;

 private:
  std::shared_ptr<Encoder> encoder_;
};

}  // namespace imprint
