// The DDPM forward process and the DDIM step that inverts it (the sampler built on it: ddim_sampler.h), shared
// through generation/diffusion.h by the denoise objective (training), the identity-fidelity evaluation and
// `imprint generate` (sampling). alpha_bar(t) is the fraction of the clean signal's variance left at
// step t of T: x_t = sqrt(alpha_bar) x_0 + sqrt(1 - alpha_bar) eps.
#pragma once
#include <ATen/Tensor.h>

#include <string>
#include <vector>

namespace imprint {

enum class Prediction { Eps, V };  // what the generator predicts: the noise, or v = sqrt(ab) eps - sqrt(1-ab) x0
// linear: DDPM's betas 1e-4 .. 0.02, rescaled to T; cosine: Nichol & Dhariwal's, clipped at 0.999;
// scaled_linear: Stable Diffusion's (diffusers' "scaled_linear": betas = linspace(sqrt(0.00085), sqrt(0.012), T)^2),
// what a pretrained SD-1.5-class UNet was trained with and must be fine-tuned against.
enum class ScheduleKind { Linear, Cosine, ScaledLinear };

class NoiseSchedule {
 public:
  NoiseSchedule(ScheduleKind kind, int64_t timesteps);
  int64_t timesteps() const { return static_cast<int64_t>(alpha_bar_.size()); }
  double alpha_bar(int64_t t) const { return alpha_bar_.at(static_cast<size_t>(t)); }
  // Per-row alpha_bar of the int64 timesteps `t` [B], as a float tensor on t's device.
  at::Tensor alpha_bar(const at::Tensor& t) const;

  // x_t for clean x0 and noise eps at timesteps t [B].
  at::Tensor add_noise(const at::Tensor& x0, const at::Tensor& eps, const at::Tensor& t) const;
  // What a model of `kind` should output for (x0, eps, t).
  at::Tensor target(Prediction kind, const at::Tensor& x0, const at::Tensor& eps, const at::Tensor& t) const;
  // The clean sample and the noise implied by a model output at x_t.
  void split(Prediction kind, const at::Tensor& output, const at::Tensor& x_t, const at::Tensor& t, at::Tensor& x0,
             at::Tensor& eps) const;
  // One deterministic DDIM step (eta = 0) from x_t at t to t_prev (-1: the clean sample). x0_limit > 0
  // clamps the clean-sample estimate to [-x0_limit, x0_limit] (the data range) and re-derives the noise
  // from it, as diffusers' clip_sample does.
  at::Tensor ddim_step(Prediction kind, const at::Tensor& output, const at::Tensor& x_t, int64_t t, int64_t t_prev,
                       double x0_limit = 0) const;
  // `steps` timesteps from T-1 down to 0, evenly spaced (the DDIM sampling grid).
  std::vector<int64_t> sampling_grid(int64_t steps) const;

 private:
  std::vector<double> alpha_bar_;
  at::Tensor alpha_bar_table_;  // float64 [T] on the CPU
};

}  // namespace imprint
