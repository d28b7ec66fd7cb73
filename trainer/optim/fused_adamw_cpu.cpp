#include "trainer/optim/fused_adamw_cpu.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <stdexcept>

namespace imprint {

FusedAdamW::FusedAdamW(std::vector<ParamGroup> groups, const OptimizerOptions& options) : options_(options) {
  for (auto& g : groups) {
    for (auto& p : g.params) {
      if (p.scalar_type() != at::kFloat || !p.is_contiguous() || p.device().type() != at::kCPU)
        throw std::invalid_argument("fused AdamW (CPU) takes contiguous float32 CPU parameters");
      Slot s{p, torch::zeros_like(p), torch::zeros_like(p), {}, g.weight_decay};
      if (options.amsgrad) s.max_exp_avg_sq = torch::zeros_like(p);
      const auto idx = static_cast<int64_t>(slots_.size());
      for (int64_t b = 0; b < p.numel(); b += kChunk) chunks_.push_back({idx, b, std::min(b + kChunk, p.numel())});
      slots_.push_back(std::move(s));
    }
  }
}

double FusedAdamW::grad_norm() const {
  std::vector<double> partial(chunks_.size(), 0.0);
  at::parallel_for(0, static_cast<int64_t>(chunks_.size()), 1, [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c) {
      const Chunk& ch = chunks_[c];
      const auto& grad = slots_[ch.slot].param.grad();
      if (!grad.defined()) continue;
      const float* g = grad.data_ptr<float>();
      double acc = 0;
      for (int64_t i = ch.begin; i < ch.end; ++i) acc += static_cast<double>(g[i]) * g[i];
      partial[c] = acc;
    }
  });
  double total = 0;
  for (double p : partial) total += p;  // fixed order: the same on every thread count and rank
  return std::sqrt(total);
}

StepReport FusedAdamW::step(double lr, double max_grad_norm) {
  StepReport report;
  for (const auto& s : slots_) {
    const auto& g = s.param.grad();
    if (g.defined() && (!g.is_contiguous() || g.scalar_type() != at::kFloat))
      throw std::invalid_argument("fused AdamW (CPU) needs contiguous float32 gradients");
  }
  report.grad_norm = grad_norm();
  if (!std::isfinite(report.grad_norm)) {
    report.skipped = true;
    return report;
  }
  ++step_;
  float clip = 1.0f;
  if (max_grad_norm > 0) clip = static_cast<float>(std::min(1.0, max_grad_norm / (report.grad_norm + 1e-6)));
  const double bc1 = 1.0 - std::pow(options_.beta1, static_cast<double>(step_));
  const double bc2 = 1.0 - std::pow(options_.beta2, static_cast<double>(step_));
  AdamWStep base{};
  base.lr = static_cast<float>(lr);
  base.beta1 = static_cast<float>(options_.beta1);
  base.beta2 = static_cast<float>(options_.beta2);
  base.eps = static_cast<float>(options_.eps);
  base.one_minus_beta1 = static_cast<float>(1.0 - options_.beta1);
  base.one_minus_beta2 = static_cast<float>(1.0 - options_.beta2);
  base.step_size = static_cast<float>(lr / bc1);
  base.bias_correction2_sqrt = static_cast<float>(std::sqrt(bc2));
  base.grad_scale = clip;
  base.amsgrad = options_.amsgrad;

  at::parallel_for(0, static_cast<int64_t>(chunks_.size()), 1, [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c) {
      const Chunk& ch = chunks_[c];
      const Slot& s = slots_[ch.slot];
      const auto& grad = s.param.grad();
      if (!grad.defined()) continue;  // an unused parameter keeps its value and state, as in torch
      AdamWStep st = base;
      st.decay_factor = static_cast<float>(1.0 - lr * s.weight_decay);
      float* p = s.param.data_ptr<float>();
      const float* g = grad.data_ptr<float>();
      float* m = s.exp_avg.data_ptr<float>();
      float* v = s.exp_avg_sq.data_ptr<float>();
      if (st.amsgrad) {
        float* vmax = s.max_exp_avg_sq.data_ptr<float>();
        for (int64_t i = ch.begin; i < ch.end; ++i) adamw_update(p[i], g[i], m[i], v[i], vmax[i], st);
      } else {
        float unused = 0;
        for (int64_t i = ch.begin; i < ch.end; ++i) adamw_update(p[i], g[i], m[i], v[i], unused, st);
      }
    }
  });
  return report;
}

void FusedAdamW::save(torch::serialize::OutputArchive& archive) const {
  archive.write("kind", c10::IValue(std::string("fused_adamw")));
  archive.write("step", c10::IValue(step_));
  archive.write("slots", c10::IValue(static_cast<int64_t>(slots_.size())));
  for (size_t i = 0; i < slots_.size(); ++i) {
    const std::string k = std::to_string(i);
    archive.write("exp_avg." + k, slots_[i].exp_avg, /*is_buffer=*/true);
    archive.write("exp_avg_sq." + k, slots_[i].exp_avg_sq, true);
    if (options_.amsgrad) archive.write("max_exp_avg_sq." + k, slots_[i].max_exp_avg_sq, true);
  }
}

void FusedAdamW::load(torch::serialize::InputArchive& archive) {
  c10::IValue kind, step, count;
  archive.read("kind", kind);
  if (kind.toStringRef() != "fused_adamw")
    throw std::runtime_error("optimizer state was written by '" + kind.toStringRef() +
                             "', not the fused AdamW this config selects (optimizer.fused)");
  archive.read("slots", count);
  if (count.toInt() != static_cast<int64_t>(slots_.size()))
    throw std::runtime_error("optimizer state holds " + std::to_string(count.toInt()) + " parameters, the model has " +
                             std::to_string(slots_.size()));
  archive.read("step", step);
  for (size_t i = 0; i < slots_.size(); ++i) {
    const std::string k = std::to_string(i);
    torch::Tensor t;
    archive.read("exp_avg." + k, t, true);
    slots_[i].exp_avg.copy_(t);
    archive.read("exp_avg_sq." + k, t, true);
    slots_[i].exp_avg_sq.copy_(t);
    if (options_.amsgrad) {
      archive.read("max_exp_avg_sq." + k, t, true);
      slots_[i].max_exp_avg_sq.copy_(t);
    }
  }
  step_ = step.toInt();
}

std::unique_ptr<Optimizer> make_fused_adamw(std::vector<ParamGroup> groups, const OptimizerOptions& options) {
  return std::make_unique<FusedAdamW>(std::move(groups), options);
}

}  // namespace imprint
