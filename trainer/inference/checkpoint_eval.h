// `imprint eval`: any checkpoint on any shard dataset, without touching the checkpoint — held-out top-1
// retrieval (sample 0 of each identity as the reference against the others' gallery) and verification EER
// and minDCF over every pair, as training's evaluation computes them, plus a per-identity breakdown.
#pragma once
#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

#include "trainer/evaluation/retrieval_eval.h"
#include "trainer/evaluation/trial_list.h"
#include "trainer/inference/encoder_export.h"

namespace imprint {

struct CheckpointEvalOptions {
  std::string checkpoint, data;
  bool all_identities = false;  // every identity of the dataset, not only its held-out ones
  // The run's eval.validation_identities: that many held-out identities (split_heldout) are left out, so a
  // checkpoint chosen on them (keep_best) is not reported on them. Not with all_identities.
  int64_t validation_identities = 0;
  int64_t gallery_per_identity = 4;
  int64_t batch_size = 256;
  double clip_seconds = 0.5;  // audio: the clip length fed to the encoder
  std::string json_out;       // also write the report here, when set
  int64_t asnorm_cohort = 0;  // AS-norm with this many of the dataset's training identities (not with --all)
  int64_t asnorm_top_k = 100;
  std::string asnorm_cohort_data;  // the cohort's dataset ("" = this one's training identities), e.g. the
                                   // checkpoint's own training set beside an --eval-only test set
  std::string trials;              // a trial list (trainer/evaluation/trial_list.h): verification over these trials too
};

struct IdentityResult {
  std::string name;
  bool hit = false;  // its reference's nearest gallery sample is its own
};

struct CheckpointEvalReport {
  RetrievalScore score;
  TrainedEncoder trained;
  std::vector<IdentityResult> identities;
  // With options.trials: the list's scores (AS-norm ones when a cohort is asked for).
  TrialScore trials;
  int64_t training_identity_trials = 0;
  int64_t asnorm_cohort = 0;  // the cohort used: --asnorm-cohort, or every training identity when there are fewer
};

// Throws CheckpointError / DatasetError / std::invalid_argument naming the file and what was expected.
CheckpointEvalReport evaluate_checkpoint(const CheckpointEvalOptions& options);

// The metric keys of `imprint eval --json` (identities, gallery, top1, chance, eer, min_dcf, the trial counts,
// top1_all_queries with its 95% interval, top5_all_queries, queries; eer_asnorm and min_dcf_asnorm when
// measured), shared by `eval --checkpoint` and `eval --embeddings` so one reader takes both.
nlohmann::json score_json(const RetrievalScore& score);

}  // namespace imprint
