// Decisions every rank must take at the same step — stop after a signal reached any rank, write a
// time-based checkpoint — agreed on with one small all-reduce (max) per step. Each step posts its flags and
// reads the result of the previous step's post, so the all-reduce overlaps a whole step and never stalls
// training; the price is that a decision takes effect one step after it was posted.
#pragma once
#include <ATen/Tensor.h>

#include <memory>

#include "collectives/communicator.h"

namespace imprint {

class StepAgreement {
 public:
  struct Decision {
    int stop_signal = 0;      // the (largest) signal number any rank received; 0: none
    bool checkpoint = false;  // some rank asked for a checkpoint now
  };

  explicit StepAgreement(Communicator& host) : host_(host) {}
  // Posts this rank's flags and returns what all ranks posted one call earlier.
  Decision exchange(int stop_signal, bool want_checkpoint);

 private:
  Communicator& host_;
  at::Tensor posted_;
  std::shared_ptr<Work> pending_;
};

}  // namespace imprint
