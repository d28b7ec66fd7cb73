#include "generation/noise_schedule.h"

#include <ATen/ATen.h>

#include <cmath>
#include <stdexcept>

namespace imprint {

namespace {
at::Tensor per_row(const at::Tensor& v, const at::Tensor& like) {  // [B] -> [B, 1, 1, ...] like `like`
  std::vector<int64_t> shape(static_cast<size_t>(like.dim()), 1);
  shape[0] = like.size(0);
  return v.to(like.scalar_type()).view(shape);
}
}  // namespace

NoiseSchedule::NoiseSchedule(ScheduleKind kind, int64_t T) {
  if (T < 2) throw std::invalid_argument("noise schedule: at least 2 timesteps");
  alpha_bar_.resize(static_cast<size_t>(T));
  if (kind == ScheduleKind::Linear) {
    // DDPM's betas for T = 1000, rescaled so other T keep the same end points of the process.
    const double lo = 1e-4 * 1000.0 / T, hi = 0.02 * 1000.0 / T;
    double ab = 1;
    for (int64_t t = 0; t < T; ++t) {
      ab *= 1 - (lo + (hi - lo) * t / (T - 1));
      alpha_bar_[t] = ab;
    }
  } else if (kind == ScheduleKind::ScaledLinear) {
    // Not rescaled to T: a pretrained model knows only the exact betas it was trained with.
    const double lo = std::sqrt(0.00085), hi = std::sqrt(0.012);
    double ab = 1;
    for (int64_t t = 0; t < T; ++t) {
      const double r = lo + (hi - lo) * t / (T - 1);
      ab *= 1 - r * r;
      alpha_bar_[t] = ab;
    }
  } else {
    const auto f = [&](double t) { return std::pow(std::cos((t / T + 0.008) / 1.008 * M_PI / 2), 2); };
    double ab = 1;
    for (int64_t t = 0; t < T; ++t) {
      ab *= 1 - std::min(1 - f(t + 1) / f(t), 0.999);
      alpha_bar_[t] = ab;
    }
  }
  alpha_bar_table_ = at::tensor(alpha_bar_, at::kDouble);
}

at::Tensor NoiseSchedule::alpha_bar(const at::Tensor& t) const {
  return alpha_bar_table_.index_select(0, t.to(at::kCPU)).to(t.device()).to(at::kFloat);
}

at::Tensor NoiseSchedule::add_noise(const at::Tensor& x0, const at::Tensor& eps, const at::Tensor& t) const {
  const auto ab = per_row(alpha_bar(t), x0);
  return ab.sqrt() * x0 + (1 - ab).sqrt() * eps;
}

at::Tensor NoiseSchedule::target(Prediction kind, const at::Tensor& x0, const at::Tensor& eps,
                                 const at::Tensor& t) const {
  if (kind == Prediction::Eps) return eps;
  const auto ab = per_row(alpha_bar(t), x0);
  return ab.sqrt() * eps - (1 - ab).sqrt() * x0;
}

void NoiseSchedule::split(Prediction kind, const at::Tensor& out, const at::Tensor& x_t, const at::Tensor& t,
                          at::Tensor& x0, at::Tensor& eps) const {
  const auto ab = per_row(alpha_bar(t), x_t);
  const auto a = ab.sqrt(), s = (1 - ab).sqrt();
  if (kind == Prediction::Eps) {
    eps = out;
    x0 = (x_t - s * out) / a;
  } else {  // x_t = a x0 + s eps and v = a eps - s x0 (a^2 + s^2 = 1)
    x0 = a * x_t - s * out;
    eps = s * x_t + a * out;
  }
}

at::Tensor NoiseSchedule::ddim_step(Prediction kind, const at::Tensor& out, const at::Tensor& x_t, int64_t t,
                                    int64_t t_prev, double x0_limit) const {
  const auto tt = at::full({x_t.size(0)}, t, x_t.options().dtype(at::kLong));
  at::Tensor x0, eps;
  split(kind, out, x_t, tt, x0, eps);
  if (x0_limit > 0) {  // near t = T the x0 estimate divides by sqrt(alpha_bar) ~ 0: keep it in the data range
    x0 = x0.clamp(-x0_limit, x0_limit);
    const auto ab_t = alpha_bar_.at(static_cast<size_t>(t));
    eps = (x_t - std::sqrt(ab_t) * x0) / std::sqrt(1 - ab_t);
  }
  if (t_prev < 0) return x0;
  const double ab = alpha_bar_.at(static_cast<size_t>(t_prev));
  return std::sqrt(ab) * x0 + std::sqrt(1 - ab) * eps;
}

std::vector<int64_t> NoiseSchedule::sampling_grid(int64_t steps) const {
  const int64_t T = timesteps();
  steps = std::max<int64_t>(1, std::min(steps, T));
  std::vector<int64_t> grid;
  for (int64_t i = 0; i < steps; ++i) grid.push_back((T - 1) - (i * (T - 1)) / std::max<int64_t>(1, steps - 1));
  return grid;
}

}  // namespace imprint
