#include "trainer/autocast_scope.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include "config/config_error.h"

// torch 2.4 replaced the per-backend autocast setters with ones taking the device type.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define IMPRINT_AUTOCAST_BY_DEVICE_TYPE 1
#endif

namespace imprint {

void check_precision_supported(bool bf16, const at::Device& device) {
  if (!bf16 || device.is_cuda()) return;
#if TORCH_VERSION_MAJOR < 2
  throw ConfigError("train.precision: bf16 on the CPU needs libtorch 2.0 or newer; this build has " +
                    std::string(TORCH_VERSION) +
                    ", whose CPU GroupNorm and LayerNorm reject bfloat16 inputs under "
                    "autocast (use fp32 here, or bf16 on a GPU)");
#endif
}

AutocastScope::AutocastScope(const at::Device& device, bool bf16) : active_(bf16), cuda_(device.is_cuda()) {
  if (!active_) return;
#if defined(IMPRINT_AUTOCAST_BY_DEVICE_TYPE)
  const auto type = cuda_ ? at::kCUDA : at::kCPU;
  at::autocast::set_autocast_dtype(type, at::kBFloat16);
  at::autocast::set_autocast_enabled(type, true);
#else
  if (cuda_) {
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(true);
  } else {
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(true);
  }
#endif
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
#if defined(IMPRINT_AUTOCAST_BY_DEVICE_TYPE)
  at::autocast::set_autocast_enabled(cuda_ ? at::kCUDA : at::kCPU, false);
#else
  if (cuda_) {
    at::autocast::set_enabled(false);
  } else {
    at::autocast::set_cpu_enabled(false);
  }
#endif
  // The casts of the weights are cached for the scope (as torch.autocast does); drop them with it.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
}

}  // namespace imprint
