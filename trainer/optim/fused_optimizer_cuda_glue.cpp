// Torch glue of the CUDA fused optimizer: takes CUDA tensors, owns the fp32 state and the workspace, and
// launches the kernels of fused_optimizer.cu on the current stream. Needs a CUDA build of libtorch
// (IMPRINT_TORCH_HAS_CUDA); Debian's libtorch is CPU-only, see docs/running.md.
#include <c10/cuda/CUDAStream.h>

#include <stdexcept>

#include "trainer/optim/fused_optimizer_cpu.h"
#include "trainer/optim/fused_optimizer_cuda.h"
#include "trainer/optim/optimizer.h"

namespace imprint {
namespace {

cuda::ParamType param_type(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return cuda::ParamType::F32;
    case at::kBFloat16: return cuda::ParamType::BF16;
    case at::kHalf: return cuda::ParamType::F16;
    default: throw std::invalid_argument(std::string("fused optimizer (CUDA): unsupported dtype ") + at::toString(t));
  }
}

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("fused optimizer (CUDA): ") + what + ": " + cudaGetErrorString(e));
}

class CudaFusedOptimizer final : public Optimizer {
 public:
  CudaFusedOptimizer(std::vector<ParamGroup> groups, const OptimizerOptions& o) : options_(o) {
    if (groups.size() > static_cast<size_t>(cuda::kMaxGroups))
      throw std::invalid_argument("fused optimizer (CUDA): at most 4 parameter groups");
    for (size_t gi = 0; gi < groups.size(); ++gi) {
      decays_.push_back(static_cast<float>(groups[gi].weight_decay));
      for (auto& p : groups[gi].params) {
        if (!p.is_cuda() || !p.is_contiguous())
          throw std::invalid_argument("fused optimizer (CUDA) takes contiguous CUDA parameters");
        if (params_.empty()) type_ = p.scalar_type();
        if (p.scalar_type() != type_)
          throw std::invalid_argument("fused optimizer (CUDA): all parameters must share one dtype");
        const auto f32 = p.options().dtype(at::kFloat);
        Slot s{p, {}, at::zeros(p.sizes(), f32), at::zeros(p.sizes(), f32), {}};
        if (p.scalar_type() != at::kFloat) s.master = p.detach().to(at::kFloat).contiguous();
        if (o.amsgrad) s.max_exp_avg_sq = at::zeros(p.sizes(), f32);
        cuda::TensorRef r{};
        r.param = p.data_ptr();
        r.master = s.master.defined() ? s.master.data_ptr<float>() : nullptr;
        r.exp_avg = s.exp_avg.data_ptr<float>();
        r.exp_avg_sq = s.exp_avg_sq.data_ptr<float>();
        r.max_exp_avg_sq = o.amsgrad ? s.max_exp_avg_sq.data_ptr<float>() : nullptr;
        r.numel = p.numel();
        r.group = static_cast<int>(gi);
        refs_.push_back(r);
        params_.push_back(std::move(s));
      }
    }
    if (params_.empty()) return;
    workspace_ = at::zeros({static_cast<int64_t>(cuda::workspace_floats(refs_))},
                           params_[0].param.options().dtype(at::kFloat));
    ws_ = cuda::prepare_workspace(refs_, decays_, workspace_.data_ptr<float>(), c10::cuda::getCurrentCUDAStream());
  }

  StepReport step(double lr, double max_grad_norm, double loss_scale) override {
    StepReport report;
    if (params_.empty()) return report;
    for (size_t i = 0; i < params_.size(); ++i) {
      const auto& g = params_[i].param.grad();
      refs_[i].grad = g.defined() ? g.data_ptr() : nullptr;
    }
    const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
    const auto type = param_type(type_);
    check(cuda::grad_norm_and_scale(refs_, type, static_cast<float>(loss_scale), static_cast<float>(max_grad_norm),
                                    ws_, stream),
          "gradient norm");
    std::vector<OptimStep> steps;
    for (float d : decays_) steps.push_back(FusedOptimizer::constants(options_, lr, d, step_ + 1));
    check(options_.kind == OptimizerKind::AdamW
              ? cuda::adamw_step(refs_, type, steps.data(), static_cast<int>(steps.size()), ws_, stream)
              : cuda::lamb_step(refs_, type, steps.data(), static_cast<int>(steps.size()), ws_, stream),
          "update");
    // One 12-byte copy per step: the trainer logs the norm and counts skipped steps.
    float scalars[3];
    check(cudaMemcpyAsync(scalars, ws_.scalars, sizeof(scalars), cudaMemcpyDeviceToHost, stream), "read back");
    check(cudaStreamSynchronize(stream), "synchronise");
    report.grad_norm = scalars[0] / loss_scale;
    report.skipped = scalars[2] != 0.0f;
    if (!report.skipped) ++step_;
    return report;
  }

  // The CPU optimizer's layout (save_fused_state): a checkpoint moves between CPU and GPU runs.
  void save(torch::serialize::OutputArchive& archive) const override {
    save_fused_state(archive, options_.kind, step_, state_views());
  }
  void load(torch::serialize::InputArchive& archive) override {
    step_ = load_fused_state(archive, options_.kind, state_views());
  }
  int64_t steps_taken() const override { return step_; }

 private:
  struct Slot {
    torch::Tensor param, master, exp_avg, exp_avg_sq, max_exp_avg_sq;
  };
  std::vector<FusedSlotState> state_views() const {
    std::vector<FusedSlotState> v;
    for (const auto& s : params_) v.push_back({s.exp_avg, s.exp_avg_sq, s.max_exp_avg_sq, s.master});
    return v;
  }
  OptimizerOptions options_;
  std::vector<Slot> params_;
  std::vector<cuda::TensorRef> refs_;
  std::vector<float> decays_;
  at::ScalarType type_ = at::kFloat;
  torch::Tensor workspace_;
  cuda::Workspace ws_{};
  int64_t step_ = 0;
};

}  // namespace

std::unique_ptr<Optimizer> make_cuda_fused_optimizer(std::vector<ParamGroup> groups, const OptimizerOptions& options) {
  return std::make_unique<CudaFusedOptimizer>(std::move(groups), options);
}

}  // namespace imprint
