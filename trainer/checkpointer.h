// Checkpointing a training run: the run's state parts (state_parts.h) saved together at a step every rank
// agrees on, and restored together on --resume. Every rank calls save() (a sharded classifier is gathered
// first, a collective); rank 0 writes. The checkpoint files' format and atomic writes are the store's
// (trainer/checkpoint/checkpoint_store.h).
#pragma once
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "collectives/communicator.h"
#include "trainer/checkpoint/checkpoint_store.h"
#include "trainer/job_config.h"
#include "trainer/model_parts.h"
#include "trainer/state_parts.h"

namespace imprint {

class Checkpointer {
 public:
  Checkpointer(const std::string& run_dir, const JobConfig& job, ModelParts& parts, RunRecord& record,
               Communicator& comm);

  const CheckpointStore& store() const { return store_; }
  // The newest checkpoint that reads back intact, restored into the parts; counts the restart and returns its
  // step, or 0 when the store is empty. Throws CheckpointError when `files_present` files exist but none
  // reads back intact, or the newest intact one was written for another model.
  int64_t resume(size_t files_present);
  // Writes the checkpoint of `step` (every rank calls it; rank 0 writes, then the store prunes).
  void save(int64_t step);
  // The same written to `path`, outside the store's pruning (checkpoint.keep_best's copy); returns the path.
  std::string save_as(int64_t step, const std::string& path);
  // checkpoint.every, or a time-based checkpoint the ranks agreed on (`agreed`).
  bool due(int64_t step, bool agreed) const;
  // checkpoint.every_minutes has passed since the last checkpoint (posted to the step agreement by rank 0).
  bool time_due() const;

 private:
  void write(int64_t step, const std::string* path);

  CheckpointStore store_;
  int64_t every_;
  double every_minutes_;
  RunRecord& record_;
  Communicator& comm_;
  ShardState* shards_ = nullptr;                   // in parts_
  std::vector<std::unique_ptr<StatePart>> parts_;  // saved and loaded in this order
  std::chrono::steady_clock::time_point last_;
};

}  // namespace imprint
