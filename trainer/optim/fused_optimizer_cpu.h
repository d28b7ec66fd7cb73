// AdamW or LAMB over every parameter in one parallel pass: the parameters are cut into fixed chunks and
// each chunk is read and written once per step (LAMB: twice, its trust ratio needs whole-tensor norms).
// Norms are summed per chunk and then in chunk order, so they are bitwise the same for any thread count.
#pragma once
#include "trainer/optim/optimizer.h"
#include "trainer/optim/update_rules.h"

namespace imprint {

// The optimizer state of one parameter as the checkpoint stores it; undefined tensors are absent (no AMSGrad,
// no master weights). Shared by the CPU optimizer and the CUDA one, so a checkpoint moves between them.
struct FusedSlotState {
  torch::Tensor exp_avg, exp_avg_sq, max_exp_avg_sq, master;
};
// One parameter and its optimizer state: the one layout of the CPU and the CUDA optimizer.
struct FusedSlot {
  torch::Tensor param;                                // the model's parameter (float32, bfloat16 or float16)
  torch::Tensor master;                               // float32 copy when param is lower precision, else undefined
  torch::Tensor exp_avg, exp_avg_sq, max_exp_avg_sq;  // float32; max_exp_avg_sq only with AMSGrad
  double weight_decay = 0.0;
};
// The state of `p`, zeroed, on p's device.
FusedSlot make_fused_slot(const torch::Tensor& p, double weight_decay, bool amsgrad);
std::vector<FusedSlotState> fused_state_views(const std::vector<FusedSlot>& slots);

const char* fused_state_kind(OptimizerKind kind);
void save_fused_state(torch::serialize::OutputArchive& archive, OptimizerKind kind, int64_t step,
                      const std::vector<FusedSlotState>& slots);
// Copies the archive's state into `slots` (any device); returns the step count. Throws std::runtime_error
// when the archive holds another optimizer's state or a different parameter list.
int64_t load_fused_state(torch::serialize::InputArchive& archive, OptimizerKind kind,
                         const std::vector<FusedSlotState>& slots);

class FusedOptimizer final : public Optimizer {
 public:
  static constexpr int64_t kChunk = 1 << 15;  // elements per work item

  FusedOptimizer(std::vector<ParamGroup> groups, const OptimizerOptions& options);
  StepReport step(double lr, double max_grad_norm, double loss_scale = 1.0) override;
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;
  int64_t steps_taken() const override { return step_; }

  // The per-group constants of step number `t` (1-based), as both the CPU loop and the CUDA kernels use them.
  static OptimStep constants(const OptimizerOptions& o, double lr, double weight_decay, int64_t t);
  static OptimHyper hyper(const OptimizerOptions& o, double lr, double weight_decay);

 private:
  using Slot = FusedSlot;
  struct Chunk {
    int64_t slot, begin, end;
  };
  double grad_sq_norm() const;
  void adamw_pass(const std::vector<OptimStep>& steps, float grad_scale);
  void lamb_pass(const std::vector<OptimStep>& steps, float grad_scale);

  OptimizerOptions options_;
  std::vector<Slot> slots_;
  std::vector<Chunk> chunks_;
  int64_t step_ = 0;
};

}  // namespace imprint
