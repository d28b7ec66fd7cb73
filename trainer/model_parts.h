// What a training run trains and how: the encoder, the objectives (CombinedObjective), the optimizer over
// what trains, and the weight average — built from a typed config, placed on a device — and the model
// signature they imply (what a checkpoint of them must match).
#pragma once
#include <ATen/Device.h>
#include <ATen/Tensor.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "models/encoder.h"
#include "trainer/checkpoint/signature.h"
#include "trainer/job_config.h"
#include "trainer/objectives/combined_objective.h"
#include "trainer/optim/optimizer.h"

namespace imprint {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

struct ModelParts {
  std::shared_ptr<Encoder> encoder;
  std::shared_ptr<CombinedObjective> objective;
  std::unique_ptr<Optimizer> optimizer;
  // What trains, by name: the encoder's parameters (when an objective reads it), then the objectives'
  // trainable ones as "objective.<name>.<param>".
  NamedTensors named;
  std::vector<at::Tensor> average;  // ema.decay > 0: the moving average of `named` (weight_average.h)
  double average_decay = 0;
  Signature signature;  // what a checkpoint of these parts must match (model_signature)
  at::Device device{at::kCPU};
  int64_t views_read = 0;                    // views per row the objectives read (what the step encodes)
  std::vector<std::string> encoder_readers;  // the objectives that read the encoder's outputs

  int64_t trainable_count() const;  // parameters in `named`
  int64_t frozen_count() const;     // the rest of the encoder's and objectives' parameters
};

// Builds the parts on `device` (the torch seed must be set before: it decides the initial parameters); state
// an objective splits across ranks is placed for `rank` of `world`. Throws ConfigError (e.g. extra views no
// objective reads), CheckpointError (a frozen generator that cannot serve).
ModelParts build_model_parts(const JobConfig& job, const at::Device& device, int rank = 0, int world = 1);

// The keys that define the model's parameters, and facts such as a frozen file's hash: a checkpoint is only
// loaded into parts with the same values.
Signature model_signature(const JobConfig& job, const CombinedObjective& objective);

}  // namespace imprint
