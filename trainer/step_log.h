// The training log: what steps did, summed over train.log_every steps and written as one line, one
// metrics.jsonl record and TensorBoard scalars (rank 0), with the global-batch loss (a mean over ranks), the
// learning rate, throughput, where the time went, the gradient norm and skipped updates, and every
// objective's own values (each term's loss beside the weighted total).
#pragma once
#include <ATen/Tensor.h>

#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "collectives/communicator.h"
#include "trainer/metrics_log.h"
#include "trainer/optim/optimizer.h"
#include "trainer/train_step.h"

namespace imprint {

class StepLog {
 public:
  // `metrics` is rank 0's (nullptr elsewhere); steps first_step+1 .. end of total are this invocation's;
  // `first_loss` (the run's first logged loss, carried across restarts) is set by the first line when NaN.
  StepLog(MetricsLog* metrics, Optimizer& optimizer, Communicator& comm, int64_t every, int64_t batch,
          int64_t first_step, int64_t end, int64_t total, double& first_loss);
  // Adds a step's outcome (`data_ms`: time waiting for its batch); writes the line when the interval is full.
  void record(const StepOutcome& outcome, int64_t step, double lr, double data_ms);
  // The mean global-batch loss of the latest written interval (NaN before the first).
  double last_loss() const { return last_loss_; }

 private:
  void write(int64_t step, double lr);

  MetricsLog* metrics_;
  Optimizer& optimizer_;
  Communicator& comm_;
  int64_t every_, batch_, first_step_, end_, total_;
  int64_t taken_at_start_;
  at::Tensor loss_sum_;  // this rank's loss summed over the interval, on the training device
  std::map<std::string, at::Tensor> logged_sums_;
  std::map<std::string, int64_t> logged_counts_;  // steps that logged each value (some log on some steps only)
  std::vector<std::string> shown_;                // the values the line prints, in the order first seen
  double data_ms_ = 0, compute_ms_ = 0, comm_ms_ = 0, optim_ms_ = 0;
  int64_t interval_ = 0, skipped_ = 0;
  StepReport report_;
  double last_loss_ = std::nan("");
  double& first_loss_;
  std::chrono::steady_clock::time_point interval_start_, run_start_;
};

}  // namespace imprint
