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

// Per-step constants, computed once on the host.
struct AdamWStep {
  float lr;
  float beta1, beta2, eps;
  // 1 - beta in double, then rounded: 1.0f - 0.999f is off by 1.3e-5 relative, which would shift every
  // second moment by that much.
  float one_minus_beta1, one_minus_beta2;
  float decay_factor;        // 1 - lr * weight_decay (decoupled decay), per parameter group
  float step_size;           // lr / (1 - beta1^t)
  float bias_correction2_sqrt;  // sqrt(1 - beta2^t)
  float grad_scale;          // 1 / loss_scale times the clipping coefficient
  bool amsgrad;
};

// One AdamW element update, in the same operation order as torch::optim::AdamW, so the two agree to
// rounding. vmax is only read and written when s.amsgrad.
IMPRINT_HD void adamw_update(float& p, float grad, float& m, float& v, float& vmax, const AdamWStep& s) {
  const float g = grad * s.grad_scale;
  p = p * s.decay_factor;
  m = m * s.beta1 + s.one_minus_beta1 * g;
  v = v * s.beta2 + s.one_minus_beta2 * g * g;
  float second = v;
  if (s.amsgrad) {
    vmax = vmax > v ? vmax : v;
    second = vmax;
  }
  const float denom = sqrtf(second) / s.bias_correction2_sqrt + s.eps;
  p = p - s.step_size * (m / denom);
}

}  // namespace imprint
