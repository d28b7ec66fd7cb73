// Named tensors ("a.b.weight", as named_parameters() gives them) written to and read from a torch archive in
// the same nested layout torch::nn::Module::save uses, so a subset (the trainable weights) can be saved and
// checkpoints written by Module::save read back the same way.
#pragma once
#include <ATen/Tensor.h>
#include <torch/serialize/archive.h>

#include <string>
#include <utility>
#include <vector>

namespace imprint {

struct NamedTensor {
  std::string name;
  at::Tensor tensor;
  bool is_buffer = false;
};

void write_named_tensors(torch::serialize::OutputArchive& archive, const std::vector<NamedTensor>& tensors);
// Copies each named entry of `archive` into its tensor (in place, no autograd); returns how many it copied.
// Throws CheckpointError "<what>: <name> is missing" (unless `missing_ok`: then it is left alone) or
// "... has shape X, expected Y".
int64_t read_named_tensors(torch::serialize::InputArchive& archive,
                           const std::vector<std::pair<std::string, at::Tensor>>& tensors, const std::string& what,
                           bool missing_ok = false);

}  // namespace imprint
