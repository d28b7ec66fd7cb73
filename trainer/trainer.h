// One training run, read top to bottom in train(): set-up (dataset shape, threads, run directory, device),
// the model parts, the checkpointer (resume), the dataset, the step, sampler, evaluator, metrics and loader,
// then the loop of components — loader, step, log, stop agreement, checkpoint, evaluation — and the end
// (final checkpoint and evaluation). The loop names no
// objective: what objectives need (views, clean targets, dataset checks, evaluations) they say through
// trainer/objectives/objective.h. docs/architecture.md shows one step as data through these components.
#pragma once
#include <ATen/Tensor.h>

#include <map>
#include <string>
#include <vector>

#include "collectives/communicator.h"
#include "trainer/evaluation/retrieval_eval.h"
#include "trainer/job_config.h"

namespace imprint {

struct TrainOptions {
  std::string run_dir;  // checkpoints/, metrics.jsonl, config.yaml go here (shared by all ranks)
  bool resume = false;  // continue from the newest checkpoint in run_dir/checkpoints
  // The ranks of the job; nullptr trains as a world of one. Rank 0 writes metrics and checkpoints.
  Communicator* comm = nullptr;
  int local_rank = 0;        // picks the GPU (local_rank modulo the visible GPUs)
  int local_size = 1;        // ranks on this node: they share its cores (train.threads: 0)
  bool write_config = true;  // (rank 0) write the resolved config to run_dir/config.yaml
};

struct TrainSummary {
  int64_t start_step = 0, steps_done = 0;
  bool stopped_early = false;     // train.stop_at reached, or a stop signal honoured
  int stop_signal = 0;            // the signal that stopped the run (checkpoint written), else 0
  bool already_finished = false;  // resumed a run that had done all its steps: nothing was done
  // Mean global-batch loss of the run's first log interval (carried across restarts) and of the last one.
  double first_loss = 0, last_loss = 0;
  RetrievalScore eval;                       // at the end (not filled when stopped early)
  std::map<std::string, double> evaluation;  // the objectives' values of the last evaluation (fidelity_*)
  std::vector<at::Tensor> parameters;        // what trained, in registration order
  std::vector<at::Tensor> averaged;          // their moving average (ema.decay > 0), else empty
};

// `job` as given: what the dataset decides where the config leaves it open is taken first (docs/
// configuration.md). Throws ConfigError, CheckpointError, DatasetError, CollectiveError.
TrainSummary train(const JobConfig& job, const TrainOptions& options);

}  // namespace imprint
