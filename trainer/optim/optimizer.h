// The optimizer interface the train loop drives, and the two implementations behind optimizer.fused.
#pragma once
#include <torch/serialize/archive.h>

#include <memory>
#include <string>
#include <vector>

namespace imprint {

struct ParamGroup {
  std::vector<torch::Tensor> params;
  double weight_decay = 0.0;
};

struct OptimizerOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  bool amsgrad = false;
};

struct StepReport {
  double grad_norm = 0.0;  // global L2 norm of the gradients before clipping
  bool skipped = false;    // a non-finite gradient: nothing was changed
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // One update with learning rate `lr`; clips to global norm `max_grad_norm` when it is > 0.
  virtual StepReport step(double lr, double max_grad_norm) = 0;
  virtual void save(torch::serialize::OutputArchive& archive) const = 0;
  virtual void load(torch::serialize::InputArchive& archive) = 0;
  virtual int64_t steps_taken() const = 0;
};

std::unique_ptr<Optimizer> make_fused_adamw(std::vector<ParamGroup> groups, const OptimizerOptions& options);
std::unique_ptr<Optimizer> make_torch_adamw(std::vector<ParamGroup> groups, const OptimizerOptions& options);

}  // namespace imprint
