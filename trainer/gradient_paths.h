// Which trained weights each objective's gradient reaches, measured on the step's own graph: for every term of
// the combined loss, the norm of its weighted gradient over the encoder and over each objective's own trained
// weights (torch::autograd::grad with the graph kept, before the step's backward). A loss computed under
// no_grad, or from a detached tensor, reaches nothing and trains nothing while the run looks healthy (PuLID's
// maintainers found such an auxiliary loss, #159); this says so at the first step and logs the norms at every
// log line (grad_<term>_to_<part>).
#pragma once
#include <ATen/Tensor.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "trainer/model_parts.h"

namespace imprint {

class GradientPaths {
 public:
  // The parts: "encoder" (when it trains) and, for each objective term with trained weights, the term's name.
  explicit GradientPaths(const ModelParts& parts);
  // For each term (ObjectiveOutput::terms) and part: (grad_<term>_to_<part>, norm) as detached scalars. Leaves
  // no gradient behind (nothing is accumulated into .grad); the graph stays for the step's backward.
  std::vector<std::pair<std::string, at::Tensor>> measure(const std::vector<std::pair<std::string, at::Tensor>>& terms);
  // Warnings for paths that should carry a gradient and are cut (the term's graph does not reach the weights at
  // all) or carry a non-finite one: a term that reads the encoder, and a term's own trained weights. A path that
  // is connected but carries zero is not a warning: a zero-initialised output layer (the UNet's) gives every
  // weight before it exactly zero at the first step. `values` as the last measure() returned them.
  std::vector<std::string> broken(const std::vector<std::pair<std::string, at::Tensor>>& values) const;

 private:
  struct Part {
    std::string name;
    std::vector<at::Tensor> params;
  };
  std::vector<Part> parts_;
  std::vector<std::string> reads_encoder_;  // the terms that read the encoder's outputs
  std::set<std::string> unreached_;         // keys of the last measure() whose part the term's graph missed
};

}  // namespace imprint
