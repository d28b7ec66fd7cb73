#include "trainer/checkpoint/weight_average.h"

#include <torch/csrc/autograd/grad_mode.h>

#include "trainer/checkpoint/checkpoint_store.h"
#include "trainer/checkpoint/tensor_archive.h"

namespace imprint {

std::vector<at::Tensor> start_average(const NamedParameters& weights) {
  std::vector<at::Tensor> average;
  for (const auto& [name, w] : weights) average.push_back(w.detach().clone());
  return average;
}

void update_average(std::vector<at::Tensor>& average, const NamedParameters& weights, double decay) {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < average.size(); ++i) average[i].lerp_(weights[i].second.detach(), 1.0 - decay);
}

AveragedWeights::AveragedWeights(const NamedParameters& weights, const std::vector<at::Tensor>& average)
    : weights_(weights) {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < average.size(); ++i) {
    raw_.push_back(weights_[i].second.detach().clone());
    weights_[i].second.detach().copy_(average[i]);
  }
}

AveragedWeights::~AveragedWeights() {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < raw_.size(); ++i) weights_[i].second.detach().copy_(raw_[i]);
}

void write_average(torch::serialize::OutputArchive& checkpoint, const NamedParameters& weights,
                   const std::vector<at::Tensor>& average) {
  std::vector<NamedTensor> named;
  for (size_t i = 0; i < average.size(); ++i) named.push_back({weights[i].first, average[i]});
  torch::serialize::OutputArchive archive;
  write_named_tensors(archive, named);
  checkpoint.write("ema", archive);
}

bool read_average(torch::serialize::InputArchive& checkpoint, const NamedParameters& weights,
                  std::vector<at::Tensor>& average, const std::string& path) {
  torch::serialize::InputArchive archive;
  if (!checkpoint.try_read("ema", archive)) return false;
  average = start_average(weights);
  NamedParameters wanted;
  for (size_t i = 0; i < average.size(); ++i) wanted.emplace_back(weights[i].first, average[i]);
  read_named_tensors(archive, wanted, path + ": ema");
  return true;
}

int64_t load_average_into(torch::serialize::InputArchive& checkpoint, torch::nn::Module& module,
                          const std::string& prefix, const std::string& path) {
  torch::serialize::InputArchive archive;
  if (!checkpoint.try_read("ema", archive)) return 0;
  NamedParameters wanted;
  for (auto& kv : module.named_parameters().pairs()) wanted.emplace_back(prefix + kv.first, kv.second);
  // Only what the run trained is averaged: a frozen generator, or an encoder no objective read, is not.
  return read_named_tensors(archive, wanted, path + ": ema", /*missing_ok=*/true);
}

}  // namespace imprint
