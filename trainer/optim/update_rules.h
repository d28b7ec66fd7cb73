// The per-element optimizer updates, written once. The CPU loop (fused_optimizer_cpu.cpp) and the CUDA
// multi-tensor kernels (fused_optimizer.cu) both call these, so the CPU tests cover the GPU's math.
// Plain C++ with no torch: it must compile under nvcc as __host__ __device__.
#pragma once
#include <cmath>

#if defined(__CUDACC__)
#define IMPRINT_HD __host__ __device__ __forceinline__
#else
#define IMPRINT_HD inline
#endif

namespace imprint {

// Per-step, per-parameter-group constants, computed once per step in double and rounded to float: by the
// CPU optimizer on the host, by the CUDA one in a single device thread (step_constants below, both), so the
// GPU needs no host round trip to learn whether the last step was skipped.
struct OptimStep {
  float lr;
  float beta1, beta2, eps;
  // 1 - beta in double, then rounded: 1.0f - 0.999f is off by 1.3e-5 relative, which would shift every
  // second moment by that much.
  float one_minus_beta1, one_minus_beta2;
  float weight_decay;
  float decay_factor;           // AdamW: 1 - lr * weight_decay (decoupled decay)
  float step_size;              // AdamW: lr / (1 - beta1^t)
  float bias_correction1;       // 1 - beta1^t
  float bias_correction2_sqrt;  // sqrt(1 - beta2^t)
  float bias_correction2;       // 1 - beta2^t
  int amsgrad;                  // 0 or 1
};

IMPRINT_HD float imprint_sqrt(float x) {
#if defined(__CUDA_ARCH__)
  return sqrtf(x);
#else
  return std::sqrt(x);
#endif
}

// The hyper-parameters of one group for one step (the learning rate changes every step).
struct OptimHyper {
  double lr, beta1, beta2, eps, weight_decay;
  int amsgrad;
};

IMPRINT_HD double imprint_pow(double x, double y) {
#if defined(__CUDA_ARCH__)
  return pow(x, y);
#else
  return std::pow(x, y);
#endif
}
IMPRINT_HD double imprint_sqrt_d(double x) {
#if defined(__CUDA_ARCH__)
  return sqrt(x);
#else
  return std::sqrt(x);
#endif
}

// The constants of step number `t` (1-based; t counts the steps actually taken, skipped ones excluded).
IMPRINT_HD OptimStep step_constants(const OptimHyper& h, double t) {
  const double bc1 = 1.0 - imprint_pow(h.beta1, t);
  const double bc2 = 1.0 - imprint_pow(h.beta2, t);
  OptimStep s{};
  s.lr = static_cast<float>(h.lr);
  s.beta1 = static_cast<float>(h.beta1);
  s.beta2 = static_cast<float>(h.beta2);
  s.eps = static_cast<float>(h.eps);
  s.one_minus_beta1 = static_cast<float>(1.0 - h.beta1);
  s.one_minus_beta2 = static_cast<float>(1.0 - h.beta2);
  s.weight_decay = static_cast<float>(h.weight_decay);
  s.decay_factor = static_cast<float>(1.0 - h.lr * h.weight_decay);
  s.step_size = static_cast<float>(h.lr / bc1);
  s.bias_correction1 = static_cast<float>(bc1);
  s.bias_correction2 = static_cast<float>(bc2);
  s.bias_correction2_sqrt = static_cast<float>(imprint_sqrt_d(bc2));
  s.amsgrad = h.amsgrad;
  return s;
}

// One AdamW element update, in the same operation order as torch::optim::AdamW, so the two agree to
// rounding. `g` is the gradient already multiplied by the step's gradient scale (unscaling and clipping).
// vmax is only read and written when s.amsgrad.
IMPRINT_HD void adamw_update(float& p, float g, float& m, float& v, float& vmax, const OptimStep& s) {
  p = p * s.decay_factor;
  m = m * s.beta1 + s.one_minus_beta1 * g;
  v = v * s.beta2 + s.one_minus_beta2 * g * g;
  float second = v;
  if (s.amsgrad) {
    vmax = vmax > v ? vmax : v;
    second = vmax;
  }
  const float denom = imprint_sqrt(second) / s.bias_correction2_sqrt + s.eps;
  p = p - s.step_size * (m / denom);
}

// LAMB (You et al., "Large Batch Optimization for Deep Learning", 2019, Algorithm 2), in two phases because
// the trust ratio needs norms over the whole tensor:
//   phase 1, per element: update the moments, return the direction u = m_hat / (sqrt(v_hat) + eps) + wd * p
//            (the caller accumulates ||p||^2 and ||u||^2 per tensor);
//   phase 2, per element: p -= lr * trust * u, with trust = ||p|| / ||u|| (1 when either norm is 0),
//            recomputing u from the stored moments rather than keeping it in memory.
IMPRINT_HD float lamb_direction(float p, float m, float v, const OptimStep& s) {
  const float m_hat = m / s.bias_correction1;
  const float v_hat = v / s.bias_correction2;
  return m_hat / (imprint_sqrt(v_hat) + s.eps) + s.weight_decay * p;
}

IMPRINT_HD float lamb_moments(float p, float g, float& m, float& v, const OptimStep& s) {
  m = m * s.beta1 + s.one_minus_beta1 * g;
  v = v * s.beta2 + s.one_minus_beta2 * g * g;
  return lamb_direction(p, m, v, s);
}

IMPRINT_HD float lamb_trust_ratio(float param_norm, float update_norm) {
  return (param_norm > 0.0f && update_norm > 0.0f) ? param_norm / update_norm : 1.0f;
}

// The factor applied to every raw gradient this step: unscale by the loss scale, then clip the true global
// norm to max_norm (torch's clip_grad_norm_ rule: max_norm / (norm + 1e-6), never above 1).
IMPRINT_HD float gradient_scale(float raw_norm, float loss_scale, float max_norm) {
  const float inv = 1.0f / loss_scale;
  const float norm = raw_norm * inv;
  float clip = 1.0f;
  if (max_norm > 0.0f) {
    clip = max_norm / (norm + 1e-6f);
    clip = clip < 1.0f ? clip : 1.0f;
  }
  return clip * inv;
}

}  // namespace imprint
