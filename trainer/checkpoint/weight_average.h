// An exponential moving average of the trainable weights (ema.decay): after every applied optimizer step
// ema = decay * ema + (1 - decay) * weight. Kept in checkpoints (archive "ema", by the names of
// ModelParts::named) so a resume continues it exactly; evaluation, generation and export use it instead of
// the raw weights when a run keeps one. Diffusion models sample markedly better from averaged weights.
#pragma once
#include <ATen/Tensor.h>
#include <torch/nn/module.h>
#include <torch/serialize/archive.h>

#include <string>
#include <utility>
#include <vector>

namespace imprint {

using NamedParameters = std::vector<std::pair<std::string, at::Tensor>>;

// Copies of `weights` (the average starts at the weights it averages).
std::vector<at::Tensor> start_average(const NamedParameters& weights);
void update_average(std::vector<at::Tensor>& average, const NamedParameters& weights, double decay);

// While alive, the weights hold the average; the raw weights come back when it goes.
class AveragedWeights {
 public:
  AveragedWeights(const NamedParameters& weights, const std::vector<at::Tensor>& average);
  ~AveragedWeights();
  AveragedWeights(const AveragedWeights&) = delete;
  AveragedWeights& operator=(const AveragedWeights&) = delete;

 private:
  NamedParameters weights_;
  std::vector<at::Tensor> raw_;
};

void write_average(torch::serialize::OutputArchive& checkpoint, const NamedParameters& weights,
                   const std::vector<at::Tensor>& average);
// Reads the checkpoint's average into `average` (same order as `weights`); false when it keeps none.
bool read_average(torch::serialize::InputArchive& checkpoint, const NamedParameters& weights,
                  std::vector<at::Tensor>& average, const std::string& path);
// For rebuilding a model from a checkpoint alone: overwrites each parameter of `module` whose name, after
// `prefix`, the checkpoint's average holds. Returns how many it replaced (0 when the run kept no average).
int64_t load_average_into(torch::serialize::InputArchive& checkpoint, torch::nn::Module& module,
                          const std::string& prefix, const std::string& path);

}  // namespace imprint
