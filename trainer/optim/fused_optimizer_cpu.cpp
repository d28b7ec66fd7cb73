#include "trainer/optim/fused_optimizer_cpu.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <stdexcept>

namespace imprint {
namespace {

// Calls f(T{}) with T the C++ type of a parameter dtype imprint's optimizer takes.
template <typename F>
void dispatch_param_type(at::ScalarType t, F&& f) {
  switch (t) {
    case at::kFloat:
      f(float{});
      break;
    case at::kBFloat16:
      f(at::BFloat16{});
      break;
    case at::kHalf:
      f(at::Half{});
      break;
    default:
      throw std::invalid_argument(std::string("fused optimizer: unsupported parameter dtype ") + at::toString(t));
  }
}

// The hot loops. Written so GCC vectorises them (branch-free bodies, one loop per (dtype, master, amsgrad)
// case, 16 independent accumulators for sums) and built twice, for AVX2 and for baseline x86-64, picked at
// load time. The file is compiled with -ffp-contract=off and -fno-math-errno (CMakeLists.txt): no FMA
// contraction, so both builds give bitwise the same results, and sqrt may use the vector instruction.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define IMPRINT_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define IMPRINT_CLONES
#endif

template <typename T>
IMPRINT_CLONES double sum_of_squares(const T* g, int64_t n) {
  float lane[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) {
      const float x = static_cast<float>(g[i + j]);
      lane[j] += x * x;
    }
  double total = 0;
  for (float l : lane) total += l;
  for (; i < n; ++i) total += static_cast<double>(static_cast<float>(g[i])) * static_cast<float>(g[i]);
  return total;
}

template <typename T, bool kMaster, bool kAmsgrad>
IMPRINT_CLONES void adamw_span(T* __restrict p, const T* __restrict g, float* __restrict master, float* __restrict m,
                               float* __restrict v, float* __restrict vmax, int64_t n, float grad_scale,
                               const OptimStep st) {
  for (int64_t i = 0; i < n; ++i) {
    float pv = kMaster ? master[i] : static_cast<float>(p[i]);
    float unused = 0.0f;
    adamw_update(pv, static_cast<float>(g[i]) * grad_scale, m[i], v[i], kAmsgrad ? vmax[i] : unused, st);
    if (kMaster) master[i] = pv;
    p[i] = static_cast<T>(pv);
  }
}

}  // namespace

OptimHyper FusedOptimizer::hyper(const OptimizerOptions& o, double lr, double weight_decay) {
  return OptimHyper{lr, o.beta1, o.beta2, o.eps, weight_decay, o.amsgrad ? 1 : 0};
}

OptimStep FusedOptimizer::constants(const OptimizerOptions& o, double lr, double weight_decay, int64_t t) {
  return step_constants(hyper(o, lr, weight_decay), static_cast<double>(t));
}

FusedOptimizer::FusedOptimizer(std::vector<ParamGroup> groups, const OptimizerOptions& options) : options_(options) {
  if (options.kind == OptimizerKind::Lamb && options.amsgrad)
    throw std::invalid_argument("fused optimizer: AMSGrad applies to AdamW only, not LAMB");
  for (auto& g : groups) {
    for (auto& p : g.params) {
      if (!p.is_contiguous() || p.device().type() != at::kCPU)
        throw std::invalid_argument("fused optimizer (CPU) takes contiguous CPU parameters");
      dispatch_param_type(p.scalar_type(), [](auto) {});
      Slot s = make_fused_slot(p, g.weight_decay, options.amsgrad);
      const auto idx = static_cast<int64_t>(slots_.size());
      for (int64_t b = 0; b < p.numel(); b += kChunk) chunks_.push_back({idx, b, std::min(b + kChunk, p.numel())});
      slots_.push_back(std::move(s));
    }
  }
}

double FusedOptimizer::grad_sq_norm() const {
  std::vector<double> partial(chunks_.size(), 0.0);
  at::parallel_for(0, static_cast<int64_t>(chunks_.size()), 1, [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c) {
      const Chunk& ch = chunks_[c];
      const auto& grad = slots_[ch.slot].param.grad();
      if (!grad.defined()) continue;
      dispatch_param_type(grad.scalar_type(), [&](auto tag) {
        using T = decltype(tag);
        partial[c] = sum_of_squares(grad.data_ptr<T>() + ch.begin, ch.end - ch.begin);
      });
    }
  });
  double total = 0;
  for (double p : partial) total += p;  // fixed order: the same on every thread count and rank
  return total;
}

void FusedOptimizer::adamw_pass(const std::vector<OptimStep>& steps, float grad_scale) {
  at::parallel_for(0, static_cast<int64_t>(chunks_.size()), 1, [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c) {
      const Chunk& ch = chunks_[c];
      const Slot& s = slots_[ch.slot];
      const auto& grad = s.param.grad();
      if (!grad.defined()) continue;  // an unused parameter keeps its value and state, as in torch
      const OptimStep& st = steps[ch.slot];
      float* m = s.exp_avg.data_ptr<float>();
      float* v = s.exp_avg_sq.data_ptr<float>();
      float* vmax = st.amsgrad ? s.max_exp_avg_sq.data_ptr<float>() : nullptr;
      float* master = s.master.defined() ? s.master.data_ptr<float>() : nullptr;
      dispatch_param_type(s.param.scalar_type(), [&](auto tag) {
        using T = decltype(tag);
        T* p = s.param.data_ptr<T>() + ch.begin;
        const T* g = grad.data_ptr<T>() + ch.begin;
        float* mc = m + ch.begin;
        float* vc = v + ch.begin;
        float* xc = vmax ? vmax + ch.begin : nullptr;
        float* wc = master ? master + ch.begin : nullptr;
        const int64_t n = ch.end - ch.begin;
        if (wc && xc)
          adamw_span<T, true, true>(p, g, wc, mc, vc, xc, n, grad_scale, st);
        else if (wc)
          adamw_span<T, true, false>(p, g, wc, mc, vc, xc, n, grad_scale, st);
        else if (xc)
          adamw_span<T, false, true>(p, g, wc, mc, vc, xc, n, grad_scale, st);
        else
          adamw_span<T, false, false>(p, g, wc, mc, vc, xc, n, grad_scale, st);
      });
    }
  });
}

void FusedOptimizer::lamb_pass(const std::vector<OptimStep>& steps, float grad_scale) {
  std::vector<double> p_sq(chunks_.size(), 0.0), u_sq(chunks_.size(), 0.0);
  at::parallel_for(0, static_cast<int64_t>(chunks_.size()), 1, [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c) {
      const Chunk& ch = chunks_[c];
      const Slot& s = slots_[ch.slot];
      const auto& grad = s.param.grad();
      if (!grad.defined()) continue;
      const OptimStep& st = steps[ch.slot];
      float* m = s.exp_avg.data_ptr<float>();
      float* v = s.exp_avg_sq.data_ptr<float>();
      const float* master = s.master.defined() ? s.master.data_ptr<float>() : nullptr;
      dispatch_param_type(s.param.scalar_type(), [&](auto tag) {
        using T = decltype(tag);
        const T* p = s.param.data_ptr<T>();
        const T* g = grad.data_ptr<T>();
        double pp = 0, uu = 0;
        for (int64_t i = ch.begin; i < ch.end; ++i) {
          const float pv = master ? master[i] : static_cast<float>(p[i]);
          const float u = lamb_moments(pv, static_cast<float>(g[i]) * grad_scale, m[i], v[i], st);
          pp += static_cast<double>(pv) * pv;
          uu += static_cast<double>(u) * u;
        }
        p_sq[c] = pp;
        u_sq[c] = uu;
      });
    }
  });
  // Per-tensor norms from the chunk partials, in chunk order. Following Apex's FusedLAMB, parameters
  // without weight decay (biases, norms) are not rescaled by a trust ratio.
  std::vector<double> slot_p(slots_.size(), 0.0), slot_u(slots_.size(), 0.0);
  for (size_t c = 0; c < chunks_.size(); ++c) {
    slot_p[chunks_[c].slot] += p_sq[c];
    slot_u[chunks_[c].slot] += u_sq[c];
  }
  std::vector<float> trust(slots_.size(), 1.0f);
  for (size_t i = 0; i < slots_.size(); ++i)
    if (slots_[i].weight_decay != 0.0)
      trust[i] = lamb_trust_ratio(static_cast<float>(std::sqrt(slot_p[i])), static_cast<float>(std::sqrt(slot_u[i])));
  at::parallel_for(0, static_cast<int64_t>(chunks_.size()), 1, [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c) {
      const Chunk& ch = chunks_[c];
      const Slot& s = slots_[ch.slot];
      if (!s.param.grad().defined()) continue;
      const OptimStep& st = steps[ch.slot];
      const float scale = st.lr * trust[ch.slot];
      const float* m = s.exp_avg.data_ptr<float>();
      const float* v = s.exp_avg_sq.data_ptr<float>();
      float* master = s.master.defined() ? s.master.data_ptr<float>() : nullptr;
      dispatch_param_type(s.param.scalar_type(), [&](auto tag) {
        using T = decltype(tag);
        T* p = s.param.data_ptr<T>();
        for (int64_t i = ch.begin; i < ch.end; ++i) {
          float pv = master ? master[i] : static_cast<float>(p[i]);
          pv -= scale * lamb_direction(pv, m[i], v[i], st);
          if (master) master[i] = pv;
          p[i] = static_cast<T>(pv);
        }
      });
    }
  });
}

StepReport FusedOptimizer::step(double lr, double max_grad_norm, double loss_scale) {
  StepReport report;
  for (const auto& s : slots_) {
    const auto& g = s.param.grad();
    if (g.defined() && (!g.is_contiguous() || g.scalar_type() != s.param.scalar_type()))
      throw std::invalid_argument("fused optimizer (CPU) needs contiguous gradients of the parameter's dtype");
  }
  const double raw_norm = std::sqrt(grad_sq_norm());
  report.grad_norm = raw_norm / loss_scale;
  if (!std::isfinite(raw_norm)) {
    report.skipped = true;
    return report;
  }
  ++step_;
  const float grad_scale =
      gradient_scale(static_cast<float>(raw_norm), static_cast<float>(loss_scale), static_cast<float>(max_grad_norm));
  std::vector<OptimStep> steps;
  steps.reserve(slots_.size());
  for (const auto& s : slots_) steps.push_back(constants(options_, lr, s.weight_decay, step_));
  if (options_.kind == OptimizerKind::AdamW) {
    adamw_pass(steps, grad_scale);
  } else {
    lamb_pass(steps, grad_scale);
  }
  return report;
}

const char* fused_state_kind(OptimizerKind k) { return k == OptimizerKind::AdamW ? "fused_adamw" : "fused_lamb"; }

void save_fused_state(torch::serialize::OutputArchive& archive, OptimizerKind kind, int64_t step,
                      const std::vector<FusedSlotState>& slots) {
  archive.write("kind", c10::IValue(std::string(fused_state_kind(kind))));
  archive.write("step", c10::IValue(step));
  archive.write("slots", c10::IValue(static_cast<int64_t>(slots.size())));
  for (size_t i = 0; i < slots.size(); ++i) {
    const std::string k = std::to_string(i);
    archive.write("exp_avg." + k, slots[i].exp_avg.cpu(), /*is_buffer=*/true);
    archive.write("exp_avg_sq." + k, slots[i].exp_avg_sq.cpu(), true);
    if (slots[i].max_exp_avg_sq.defined()) archive.write("max_exp_avg_sq." + k, slots[i].max_exp_avg_sq.cpu(), true);
    if (slots[i].master.defined()) archive.write("master." + k, slots[i].master.cpu(), true);
  }
}

int64_t load_fused_state(torch::serialize::InputArchive& archive, OptimizerKind kind,
                         const std::vector<FusedSlotState>& slots) {
  c10::IValue stored_kind, step, count;
  archive.read("kind", stored_kind);
  if (stored_kind.toStringRef() != fused_state_kind(kind))
    throw std::runtime_error("optimizer state was written by '" + stored_kind.toStringRef() +
                             "', this config selects '" + fused_state_kind(kind) +
                             "' (optimizer.name / optimizer.fused)");
  archive.read("slots", count);
  if (count.toInt() != static_cast<int64_t>(slots.size()))
    throw std::runtime_error("optimizer state holds " + std::to_string(count.toInt()) + " parameters, the model has " +
                             std::to_string(slots.size()));
  archive.read("step", step);
  auto restore = [&](const std::string& key, const torch::Tensor& into) {
    if (!into.defined()) return;
    torch::Tensor t;
    archive.read(key, t, true);
    if (!t.sizes().equals(into.sizes())) throw std::runtime_error("optimizer state '" + key + "' has the wrong shape");
    torch::NoGradGuard no_grad;
    into.copy_(t);
  };
  for (size_t i = 0; i < slots.size(); ++i) {
    const std::string k = std::to_string(i);
    restore("exp_avg." + k, slots[i].exp_avg);
    restore("exp_avg_sq." + k, slots[i].exp_avg_sq);
    restore("max_exp_avg_sq." + k, slots[i].max_exp_avg_sq);
    restore("master." + k, slots[i].master);
  }
  return step.toInt();
}

FusedSlot make_fused_slot(const torch::Tensor& p, double weight_decay, bool amsgrad) {
  const auto f32 = p.options().dtype(at::kFloat);
  FusedSlot s{p, {}, at::zeros(p.sizes(), f32), at::zeros(p.sizes(), f32), {}, weight_decay};
  if (p.scalar_type() != at::kFloat) s.master = p.detach().to(at::kFloat).contiguous();
  if (amsgrad) s.max_exp_avg_sq = at::zeros(p.sizes(), f32);
  return s;
}

std::vector<FusedSlotState> fused_state_views(const std::vector<FusedSlot>& slots) {
  std::vector<FusedSlotState> v;
  for (const auto& s : slots) v.push_back({s.exp_avg, s.exp_avg_sq, s.max_exp_avg_sq, s.master});
  return v;
}

void FusedOptimizer::save(torch::serialize::OutputArchive& archive) const {
  save_fused_state(archive, options_.kind, step_, fused_state_views(slots_));
}

void FusedOptimizer::load(torch::serialize::InputArchive& archive) {
  step_ = load_fused_state(archive, options_.kind, fused_state_views(slots_));
}

#if defined(IMPRINT_WITH_CUDA_OPTIMIZER)
std::unique_ptr<Optimizer> make_cuda_fused_optimizer(std::vector<ParamGroup> groups, const OptimizerOptions& options);
#endif

std::unique_ptr<Optimizer> make_fused_optimizer(std::vector<ParamGroup> groups, const OptimizerOptions& options) {
  bool on_cuda = false;
  for (const auto& g : groups)
    for (const auto& p : g.params) on_cuda = on_cuda || p.is_cuda();
  if (on_cuda) {
#if defined(IMPRINT_WITH_CUDA_OPTIMIZER)
    return make_cuda_fused_optimizer(std::move(groups), options);
#else
    throw std::invalid_argument(
        "fused optimizer: CUDA parameters need imprint built against a CUDA libtorch (docs/running.md)");
#endif
  }
  return std::make_unique<FusedOptimizer>(std::move(groups), options);
}

}  // namespace imprint
