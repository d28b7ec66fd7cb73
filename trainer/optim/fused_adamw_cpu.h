// AdamW over every parameter in one parallel pass: the parameters are cut into fixed chunks, each chunk is
// read and written once per step. The global gradient norm is summed per chunk and then in chunk order, so
// it is bitwise the same for any thread count.
#pragma once
#include "trainer/optim/optimizer.h"
#include "trainer/optim/update_rules.h"

namespace imprint {

class FusedAdamW final : public Optimizer {
 public:
  static constexpr int64_t kChunk = 1 << 15;  // elements per work item

  FusedAdamW(std::vector<ParamGroup> groups, const OptimizerOptions& options);
  StepReport step(double lr, double max_grad_norm) override;
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;
  int64_t steps_taken() const override { return step_; }

 private:
  struct Slot {
    torch::Tensor param, exp_avg, exp_avg_sq, max_exp_avg_sq;
    double weight_decay;
  };
  struct Chunk {
    int64_t slot, begin, end;
  };
  double grad_norm() const;

  OptimizerOptions options_;
  std::vector<Slot> slots_;
  std::vector<Chunk> chunks_;
  int64_t step_ = 0;
};

}  // namespace imprint
