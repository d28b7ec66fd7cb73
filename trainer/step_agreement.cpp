#include "trainer/step_agreement.h"

#include <ATen/ATen.h>

namespace imprint {

StepAgreement::Decision StepAgreement::exchange(int stop_signal, bool want_checkpoint) {
  Decision agreed;
  if (pending_) {
    pending_->wait();
    const int32_t* v = posted_.data_ptr<int32_t>();
    agreed.stop_signal = v[0];
    agreed.checkpoint = v[1] > 0;
  }
  // A fresh tensor each time: the one in flight belongs to the communicator until waited for.
  posted_ = at::tensor({static_cast<int32_t>(stop_signal), static_cast<int32_t>(want_checkpoint)}, at::kInt);
  pending_ = host_.allreduce_async_(posted_, ReduceOp::Max);
  return agreed;
}

}  // namespace imprint
