// Torch glue of the CUDA fused optimizer: takes CUDA tensors, owns the fp32 state (FusedSlot, the CPU
// optimizer's layout) and the workspace, checks every tensor it hands to a kernel, and launches the kernels
// of fused_optimizer.cu on the current stream of the parameters' device. Needs a CUDA build of libtorch
// (IMPRINT_TORCH_HAS_CUDA); Debian's libtorch is CPU-only, see docs/running.md.
//
// step_async() never waits for the device: the skip flag, the norm and the update counter stay there until
// last_report() / steps_taken() read them (once per log line, at a checkpoint).
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <stdexcept>

#include "core/cuda_check.h"
#include "trainer/optim/fused_optimizer_cpu.h"
#include "trainer/optim/fused_optimizer_cuda.h"
#include "trainer/optim/optimizer.h"

namespace imprint {
namespace {

cuda::ParamType param_type(at::ScalarType t) {
  switch (t) {
    case at::kFloat:
      return cuda::ParamType::F32;
    case at::kBFloat16:
      return cuda::ParamType::BF16;
    case at::kHalf:
      return cuda::ParamType::F16;
    default:
      throw std::invalid_argument(std::string("fused optimizer (CUDA): unsupported parameter dtype ") +
                                  at::toString(t) + " (expected float32, bfloat16 or float16)");
  }
}

std::string describe(const at::Tensor& t) {
  return std::string(at::toString(t.scalar_type())) + " " + c10::str(t.sizes()) + " on " + t.device().str() +
         (t.is_contiguous() ? "" : ", not contiguous");
}

class CudaFusedOptimizer final : public Optimizer {
 public:
  CudaFusedOptimizer(std::vector<ParamGroup> groups, const OptimizerOptions& o) : options_(o) {
    if (o.kind == OptimizerKind::Lamb && o.amsgrad)
      throw std::invalid_argument("fused optimizer: AMSGrad applies to AdamW only, not LAMB");
    if (groups.size() > static_cast<size_t>(cuda::kMaxGroups))
      throw std::invalid_argument("fused optimizer (CUDA): at most " + std::to_string(cuda::kMaxGroups) +
                                  " parameter groups, got " + std::to_string(groups.size()));
    for (size_t gi = 0; gi < groups.size(); ++gi) {
      decays_.push_back(static_cast<float>(groups[gi].weight_decay));
      for (auto& p : groups[gi].params) {
        const std::string name = "parameter " + std::to_string(slots_.size()) + " (group " + std::to_string(gi) + ")";
        if (slots_.empty()) {
          if (!p.is_cuda())
            throw std::invalid_argument("fused optimizer (CUDA): " + name + " is " + describe(p) +
                                        "; expected a CUDA tensor");
          device_ = p.device();
          type_ = p.scalar_type();
          param_type(type_);
        }
        if (!p.is_cuda() || p.device() != device_ || p.scalar_type() != type_ || !p.is_contiguous())
          throw std::invalid_argument("fused optimizer (CUDA): " + name + " is " + describe(p) + "; expected " +
                                      at::toString(type_) + ", contiguous, on " + device_.str() +
                                      " like the first parameter");
        slots_.push_back(make_fused_slot(p, groups[gi].weight_decay, o.amsgrad));
        groups_.push_back(static_cast<int>(gi));
      }
    }
    if (slots_.empty()) return;
    c10::cuda::CUDAGuard guard(device_);
    refs_.resize(slots_.size());
    for (size_t i = 0; i < slots_.size(); ++i) refs_[i] = ref_of(i, slots_[i].param);
    workspace_ =
        at::zeros({static_cast<int64_t>(cuda::workspace_floats(refs_))}, slots_[0].param.options().dtype(at::kFloat));
    IMPRINT_CUDA_CHECK(cuda::prepare_workspace(refs_, decays_, workspace_.data_ptr<float>(),
                                               c10::cuda::getCurrentCUDAStream(device_.index()), &ws_));
  }

  StepReport step(double lr, double max_grad_norm, double loss_scale) override {
    step_async(lr, max_grad_norm, loss_scale);
    return last_report();
  }

  StepReport step_async(double lr, double max_grad_norm, double loss_scale) override {
    StepReport report;
    report.known = false;
    if (slots_.empty()) return report;
    c10::cuda::CUDAGuard guard(device_);
    // Pointers are taken afresh each step and every tensor is checked: a parameter re-allocated since the
    // optimizer was built, or a gradient of another dtype/device/shape, is an error, not a stray write.
    for (size_t i = 0; i < slots_.size(); ++i) {
      const at::Tensor& p = slots_[i].param;
      const at::Tensor& g = p.grad();
      refs_[i] = ref_of(i, p);
      if (!g.defined()) {
        refs_[i].grad = nullptr;  // unused this step: no update, as on the CPU
        continue;
      }
      if (!g.is_cuda() || g.device() != device_ || g.scalar_type() != type_ || !g.is_contiguous() ||
          g.sizes() != p.sizes())
        throw std::invalid_argument("fused optimizer (CUDA): the gradient of parameter " + std::to_string(i) + " is " +
                                    describe(g) + "; expected " + describe(p) +
                                    " (the parameter's dtype, shape, "
                                    "device, contiguous)");
      refs_[i].grad = g.data_ptr();
    }
    const cudaStream_t stream = c10::cuda::getCurrentCUDAStream(device_.index());
    const auto type = param_type(type_);
    cuda::StepHypers hypers{};
    hypers.groups = static_cast<int>(decays_.size());
    for (size_t g = 0; g < decays_.size(); ++g) hypers.group[g] = FusedOptimizer::hyper(options_, lr, decays_[g]);
    IMPRINT_CUDA_CHECK(cuda::begin_step(refs_, type, static_cast<float>(loss_scale), static_cast<float>(max_grad_norm),
                                        hypers, ws_, stream));
    IMPRINT_CUDA_CHECK(options_.kind == OptimizerKind::AdamW ? cuda::adamw_step(refs_, type, ws_, stream)
                                                             : cuda::lamb_step(refs_, type, ws_, stream));
    last_loss_scale_ = loss_scale;
    return report;
  }

  StepReport last_report() override {
    StepReport report;
    if (slots_.empty()) return report;
    c10::cuda::CUDAGuard guard(device_);
    // A copy on the current stream, then a wait for it: ordered after the step's kernels.
    const at::Tensor scalars = workspace_.narrow(0, scalars_offset(), 3).to(at::kCPU);
    const float* v = scalars.data_ptr<float>();
    report.grad_norm = v[0] / last_loss_scale_;
    report.skipped = v[2] != 0.0f;
    return report;
  }

  // The CPU optimizer's layout (save_fused_state): a checkpoint moves between CPU and GPU runs.
  void save(torch::serialize::OutputArchive& archive) const override {
    save_fused_state(archive, options_.kind, steps_taken(), fused_state_views(slots_));
  }
  void load(torch::serialize::InputArchive& archive) override {
    const int64_t taken = load_fused_state(archive, options_.kind, fused_state_views(slots_));
    if (slots_.empty()) return;
    c10::cuda::CUDAGuard guard(device_);
    const int count = static_cast<int>(taken);
    IMPRINT_CUDA_CHECK(cudaMemcpyAsync(ws_.step_count, &count, sizeof(int), cudaMemcpyHostToDevice,
                                       c10::cuda::getCurrentCUDAStream(device_.index())));
    IMPRINT_CUDA_CHECK(cudaStreamSynchronize(c10::cuda::getCurrentCUDAStream(device_.index())));
  }
  int64_t steps_taken() const override {
    if (slots_.empty()) return 0;
    c10::cuda::CUDAGuard guard(device_);
    int count = 0;
    const cudaStream_t stream = c10::cuda::getCurrentCUDAStream(device_.index());
    IMPRINT_CUDA_CHECK(cudaMemcpyAsync(&count, ws_.step_count, sizeof(int), cudaMemcpyDeviceToHost, stream));
    IMPRINT_CUDA_CHECK(cudaStreamSynchronize(stream));
    return count;
  }

 private:
  cuda::TensorRef ref_of(size_t i, const at::Tensor& p) {
    FusedSlot& s = slots_[i];
    if (!p.is_cuda() || p.device() != device_ || p.scalar_type() != type_ || !p.is_contiguous() ||
        p.sizes() != s.exp_avg.sizes())
      throw std::invalid_argument("fused optimizer (CUDA): parameter " + std::to_string(i) + " is now " + describe(p) +
                                  "; it was " + at::toString(type_) + " " + c10::str(s.exp_avg.sizes()) + " on " +
                                  device_.str() + " when the optimizer was built");
    cuda::TensorRef r{};
    r.param = p.data_ptr();
    r.master = s.master.defined() ? s.master.data_ptr<float>() : nullptr;
    r.exp_avg = s.exp_avg.data_ptr<float>();
    r.exp_avg_sq = s.exp_avg_sq.data_ptr<float>();
    r.max_exp_avg_sq = s.max_exp_avg_sq.defined() ? s.max_exp_avg_sq.data_ptr<float>() : nullptr;
    r.numel = p.numel();
    r.group = groups_[i];
    return r;
  }
  int64_t scalars_offset() const { return ws_.scalars - workspace_.data_ptr<float>(); }

  OptimizerOptions options_;
  std::vector<FusedSlot> slots_;
  std::vector<int> groups_;
  std::vector<cuda::TensorRef> refs_;
  std::vector<float> decays_;
  at::Device device_{at::kCUDA};
  at::ScalarType type_ = at::kFloat;
  torch::Tensor workspace_;
  cuda::Workspace ws_{};
  double last_loss_scale_ = 1.0;
};

}  // namespace

std::unique_ptr<Optimizer> make_cuda_fused_optimizer(std::vector<ParamGroup> groups, const OptimizerOptions& options) {
  return std::make_unique<CudaFusedOptimizer>(std::move(groups), options);
}

}  // namespace imprint
