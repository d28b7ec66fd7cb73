// optimizer.fused: false — libtorch's own AdamW, kept as the reference the fused one is tested against.
#include <torch/optim/adamw.h>

#include <cmath>
#include <stdexcept>

#include "trainer/optim/optimizer.h"

namespace imprint {
namespace {

class TorchAdamW final : public Optimizer {
 public:
  TorchAdamW(std::vector<ParamGroup> groups, const OptimizerOptions& o) {
    if (o.kind != OptimizerKind::AdamW)
      throw std::invalid_argument("torch::optim has no LAMB: use the fused optimizer (optimizer.fused: true)");
    std::vector<torch::optim::OptimizerParamGroup> pg;
    for (auto& g : groups) {
      auto opts = std::make_unique<torch::optim::AdamWOptions>(1e-3);
      opts->betas({o.beta1, o.beta2}).eps(o.eps).weight_decay(g.weight_decay).amsgrad(o.amsgrad);
      pg.emplace_back(g.params, std::move(opts));
      for (auto& p : g.params) params_.push_back(p);
    }
    adamw_ = std::make_unique<torch::optim::AdamW>(std::move(pg), torch::optim::AdamWOptions(1e-3));
  }

  StepReport step(double lr, double max_grad_norm, double loss_scale) override {
    StepReport r;
    double sq = 0;
    for (auto& p : params_)
      if (p.grad().defined()) sq += p.grad().to(at::kDouble).pow(2).sum().item<double>();
    r.grad_norm = std::sqrt(sq) / loss_scale;
    if (!std::isfinite(r.grad_norm)) {
      r.skipped = true;
      return r;
    }
    double coef = 1.0 / loss_scale;
    if (max_grad_norm > 0) coef *= std::min(1.0, max_grad_norm / (r.grad_norm + 1e-6));
    if (coef != 1.0)
      for (auto& p : params_)
        if (p.grad().defined()) p.grad().mul_(coef);
    for (auto& g : adamw_->param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
    adamw_->step();
    ++steps_;
    return r;
  }
  void save(torch::serialize::OutputArchive& archive) const override {
    archive.write("kind", c10::IValue(std::string("torch_adamw")));
    archive.write("step", c10::IValue(steps_));
    torch::serialize::OutputArchive inner;
    adamw_->save(inner);
    archive.write("state", inner);
  }
  void load(torch::serialize::InputArchive& archive) override {
    c10::IValue kind, step;
    archive.read("kind", kind);
    if (kind.toStringRef() != "torch_adamw")
      throw std::runtime_error("optimizer state was written by '" + kind.toStringRef() +
                               "', not torch::optim::AdamW (optimizer.fused: false)");
    archive.read("step", step);
    torch::serialize::InputArchive inner;
    archive.read("state", inner);
    adamw_->load(inner);
    steps_ = step.toInt();
  }
  int64_t steps_taken() const override { return steps_; }

 private:
  std::vector<torch::Tensor> params_;
  std::unique_ptr<torch::optim::AdamW> adamw_;
  int64_t steps_ = 0;
};

}  // namespace

std::unique_ptr<Optimizer> make_torch_adamw(std::vector<ParamGroup> groups, const OptimizerOptions& options) {
  return std::make_unique<TorchAdamW>(std::move(groups), options);
}

}  // namespace imprint
