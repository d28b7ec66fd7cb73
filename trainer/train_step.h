// One optimizer step on this rank's rows: the views the objectives read encoded (in one forward over all of
// them on a GPU; view by view on the CPU, where that is faster), the objectives' loss, backward with the gradient
// all-reduce overlapping it, then the optimizer (and any sharded state) and the weight average. Nothing here reads a
// value back from a GPU: the loss stays a tensor until the log line reads the interval's sum, and the optimizer's
// report stays on the device (known false) until then too.
#pragma once
#include <ATen/Tensor.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "collectives/gradient_reducer.h"
#include "data/prefetch_loader.h"
#include "trainer/gradient_paths.h"
#include "trainer/job_config.h"
#include "trainer/model_parts.h"

namespace imprint {

struct StepOutcome {
  at::Tensor loss;                                        // this rank's loss, detached
  std::map<std::string, at::Tensor> logged;               // the objectives' own values (detached)
  std::vector<std::string> shown;                         // those the log line prints (ObjectiveOutput::shown)
  double compute_ms = 0, comm_wait_ms = 0, optim_ms = 0;  // host time (on a GPU: time to enqueue)
  StepReport report;
};

class TrainStep {
 public:
  // Every rank starts from rank 0's parameters and buffers (broadcast here); with several ranks the
  // gradients are all-reduced in buckets (distributed.*).
  TrainStep(const JobConfig& job, ModelParts& parts, Communicator& comm);
  // The batch of views on the training device (pinned host memory: the copy overlaps queued GPU work).
  StepOutcome run(ViewBatch batch, double lr);

 private:
  EncodedBatch encode(const at::Tensor& views);
  bool probe_due(int64_t step);

  ModelParts& parts_;
  Communicator& comm_;
  std::unique_ptr<GradientReducer> reducer_;
  double clip_;
  bool bf16_;
  std::unique_ptr<GradientPaths> paths_;  // log.gradient_paths
  int64_t log_every_;
  bool probed_ = false;
};

}  // namespace imprint
