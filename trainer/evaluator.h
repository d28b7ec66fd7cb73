// Held-out evaluation during training, every train.eval_every steps and at the end: retrieval and
// verification from ONE reference of each held-out identity (trainer/evaluation/retrieval_eval.h), and what
// the objectives add (identity fidelity of generated samples). Runs on the weights generate and export will
// use (the weight average when the run keeps one). Every rank computes the same numbers on the same data, so
// no rank waits on another's evaluation; rank 0 logs them.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "data/identity_dataset.h"
#include "trainer/evaluation/retrieval_eval.h"
#include "trainer/job_config.h"
#include "trainer/metrics_log.h"
#include "trainer/model_parts.h"

namespace imprint {

class Evaluator {
 public:
  // Builds the held-out set and the objectives' evaluations (the fidelity judge is loaded and checked here,
  // before any record is written).
  Evaluator(const JobConfig& job, const IdentityDataset& dataset, ModelParts& parts);
  bool due(int64_t step) const { return every_ > 0 && step % every_ == 0; }
  // `metrics` is rank 0's log (nullptr elsewhere). Returns the TEST identities' score (every held-out identity
  // without eval.validation_identities).
  RetrievalScore run(int64_t step, MetricsLog* metrics);
  // What checkpoint.keep_best chooses on: the latest validation score (the test score without a split).
  const RetrievalScore& selection_score() const { return has_validation() ? validation_score_ : test_score_; }
  // "validation (N identities)" or "held-out (N identities)": what selection_score() was measured on.
  std::string selection_set() const;
  // The objectives' values of the latest evaluation (fidelity_top1, ...), empty without any.
  const std::map<std::string, double>& objective_values() const { return objective_values_; }
  // For `launch/plot_run.py`: a 2-D map of the held-out identities (rank 0).
  void write_embeddings(const std::string& run_dir, const RetrievalScore& score) const;

 private:
  void log_retrieval(int64_t step, const RetrievalScore& s, double seconds, MetricsLog* metrics);
  void log_validation(int64_t step, const RetrievalScore& s, MetricsLog* metrics);
  bool has_validation() const { return validation_.references.defined(); }

  ModelParts& parts_;
  int64_t every_, batch_size_;
  EvalSet heldout_;     // the test identities
  EvalSet validation_;  // eval.validation_identities of the held-out ones (empty without)
  RetrievalScore test_score_, validation_score_;
  std::vector<std::unique_ptr<ObjectiveEvaluation>> objective_evaluations_;
  std::map<std::string, double> objective_values_;
};

}  // namespace imprint
