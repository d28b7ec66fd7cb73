// train.precision: bf16 — the forward pass under torch's autocast (matrix products and convolutions in
// bfloat16, reductions and losses in float32) while the parameters, their gradients, the all-reduce and the
// optimizer stay float32 (the master weights). Backward runs outside the scope, as torch.autocast is used.
#pragma once
#include <c10/core/Device.h>

#include <string>

namespace imprint {

// Throws ConfigError naming train.precision when this build of libtorch cannot run bf16 on `device`.
void check_precision_supported(bool bf16, const at::Device& device);

class AutocastScope {
 public:
  AutocastScope(const at::Device& device, bool bf16);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
  bool cuda_ = false;
};

}  // namespace imprint
