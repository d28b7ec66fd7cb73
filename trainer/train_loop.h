// One training run: build dataset, encoder, objective and optimizer from a validated config, train, log,
// evaluate on held-out identities, checkpoint, and resume exactly.
#pragma once
#include <ATen/Tensor.h>

#include <string>
#include <vector>

#include "collectives/communicator.h"
#include "trainer/config.h"
#include "trainer/fidelity_eval.h"
#include "trainer/retrieval_eval.h"
#include "trainer/training_run.h"

namespace imprint {

struct TrainOptions {
  std::string run_dir;  // checkpoints/, metrics.jsonl, config.yaml go here (shared by all ranks)
  bool resume = false;  // continue from the newest checkpoint in run_dir/checkpoints
  // The ranks of the job; nullptr trains as a world of one. Rank 0 writes metrics and checkpoints.
  Communicator* comm = nullptr;
  int local_rank = 0;  // picks the GPU (local_rank modulo the visible GPUs)
  int local_size = 1;  // ranks on this node: they share its cores (train.threads: 0)
  bool write_config = true;  // (rank 0) write the resolved config to run_dir/config.yaml
};

struct TrainSummary {
  int64_t start_step = 0, steps_done = 0;
  bool stopped_early = false;     // train.stop_at reached, or a stop signal honoured
  int stop_signal = 0;            // the signal that stopped the run (checkpoint written), else 0
  bool already_finished = false;  // resumed a run that had done all its steps: nothing was done
  // Mean global-batch loss of the run's first log interval (carried across restarts) and of the last one.
  double first_loss = 0, last_loss = 0;
  RetrievalScore eval;                   // at the end (not filled when stopped early)
  FidelityReport fidelity;               // the last identity-fidelity evaluation (eval.judge), else zeros
  std::vector<at::Tensor> parameters;    // the encoder's and the objective's, in registration order
  std::vector<at::Tensor> averaged;      // their moving average (ema.decay > 0), else empty
};

TrainSummary train(const Config& config, const TrainOptions& options);


// With data.source: shards and a dataset at data.path, takes data.image_size / data.sample_rate from its
// manifest when the config does not set them (a value the config sets must match; train() checks it).
// Returns what it took ("data.image_size: 32 from DIR/manifest.json"), empty when nothing.
std::vector<std::string> adopt_dataset_shape(Config& config);

// train.threads: 0 — torch intra-op threads that, with the loader's `workers` and (several ranks) the
// communication thread, do not exceed the cores this rank has: its CPU affinity mask (what Slurm's
// --cpus-per-task or mpirun's binding give it), or, unbound, the node's cores shared by `local_size` ranks.
int default_intra_op_threads(int rank_cores, int workers, bool comm_thread);
int cores_for_rank(int local_size);

}  // namespace imprint
