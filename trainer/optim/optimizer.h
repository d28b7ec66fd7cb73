// The optimizer interface the train loop drives, and the implementations behind optimizer.name / .fused.
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

enum class OptimizerKind { AdamW, Lamb };

struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::AdamW;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  bool amsgrad = false;  // AdamW only
};

struct StepReport {
  double grad_norm = 0.0;  // global L2 norm of the (unscaled) gradients before clipping
  bool skipped = false;    // a non-finite gradient: nothing was changed
  bool known = true;       // false from step_async() on a GPU: the values are still on the device
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // One update with learning rate `lr`. The gradients are divided by `loss_scale` (mixed precision) and
  // then clipped to global norm `max_grad_norm` when it is > 0. A non-finite gradient skips the step and
  // leaves parameters and state untouched.
  virtual StepReport step(double lr, double max_grad_norm, double loss_scale = 1.0) = 0;
  // The same update without reading its outcome back: on a GPU nothing waits for the device (report.known
  // is false; last_report() reads it later, once per log line). On the CPU the same as step().
  virtual StepReport step_async(double lr, double max_grad_norm, double loss_scale = 1.0) {
    return last_ = step(lr, max_grad_norm, loss_scale);
  }
  // The outcome of the latest step (synchronises with the device on a GPU).
  virtual StepReport last_report() { return last_; }
  virtual void save(torch::serialize::OutputArchive& archive) const = 0;
  virtual void load(torch::serialize::InputArchive& archive) = 0;
  // Updates actually applied (skipped steps excluded); reads the device's counter on a GPU.
  virtual int64_t steps_taken() const = 0;

 protected:
  StepReport last_;
};

// imprint's one-pass optimizer (CPU: contiguous float32, bfloat16 or float16 parameters; low-precision
// parameters get float32 master weights). AdamW or LAMB per options.kind.
std::unique_ptr<Optimizer> make_fused_optimizer(std::vector<ParamGroup> groups, const OptimizerOptions& options);
// torch::optim::AdamW, the reference (AdamW only).
std::unique_ptr<Optimizer> make_torch_adamw(std::vector<ParamGroup> groups, const OptimizerOptions& options);

}  // namespace imprint
