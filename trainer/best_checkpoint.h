// checkpoint.keep_best: RUN/best.ckpt is the checkpoint of the best evaluation so far by that metric, and
// RUN/best.json says which (read back on resume, so a resumed run keeps comparing against it). Written after
// the evaluation has swapped the raw weights back, so it is a checkpoint like any other (resumable,
// exportable). Strictly better replaces it.
#pragma once
#include <string>

#include "trainer/checkpointer.h"
#include "trainer/evaluation/retrieval_eval.h"
#include "trainer/job_config.h"

namespace imprint {

class BestCheckpoint {
 public:
  // `set`: what the evaluation chooses on (Evaluator::selection_set); a best.json measured on another set (a
  // run from before the validation split, another split size) is not compared against, and a log line says so.
  BestCheckpoint(const std::string& run_dir, const JobConfig& job, bool resume, const std::string& set);
  // Every rank calls it (saving gathers sharded state); rank 0 writes. `score` is what the evaluation chose on
  // (Evaluator::selection_score: the validation identities), `set` says which (best.json's "set").
  void offer(int64_t step, const RetrievalScore& score, const std::string& set, Checkpointer& checkpointer, bool lead);

 private:
  std::string run_dir_;
  BestMetric metric_;
  std::string name_;  // as the config writes it: best.json's "metric"
  double best_;
};

}  // namespace imprint
