// What `imprint synth` is asked for, checked and turned into a synthetic spec and the identities it holds out:
// the last --holdout-identities, or those a hold-out list or groups choose (data/holdout_selection.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/holdout_selection.h"
#include "data/synthetic_dataset.h"

namespace imprint {

struct SynthRequest {
  std::string modality = "image";
  int64_t identities = 1100, holdout = 100, per_identity = 16, image_size = 32, sample_rate = 8000, seed = 7;
  int64_t content_classes = 0;
  double clip_seconds = 0.5;
  bool holdout_given = false;  // --holdout-identities was given; else 1/11 of the identities (at least 2)
  HoldoutChoice holdout_choice;
};

struct SynthPlan {
  SyntheticSpec spec;
  std::vector<int64_t> held_out;  // chosen identities; empty: the last spec.eval_identities
};

// Throws std::invalid_argument naming the option ("--identities 2: expected at least 3 ..."), DatasetError for
// a hold-out list or groups file that does not fit.
SynthPlan plan_synthetic(const SynthRequest& request);

}  // namespace imprint
