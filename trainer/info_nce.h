// Symmetric InfoNCE between the pooled embeddings of references and targets: pair i's target is the positive
// of reference i, every other target in the batch is a negative (and the same from the target side).
#pragma once
#include <torch/nn/module.h>

#include "models/encoder.h"

namespace imprint {

class InfoNCEImpl : public torch::nn::Module {
 public:
  InfoNCEImpl(double temperature, bool learn_temperature);
  // Requires the identities in the batch to be distinct (the pair sampler guarantees it).
  torch::Tensor forward(const Conditioning& reference, const Conditioning& target);
  double temperature() const;

 private:
  torch::Tensor log_scale_;  // log(1 / temperature)
};
TORCH_MODULE(InfoNCE);

}  // namespace imprint
