// Verification trials from a file (`imprint eval --trials FILE`): VoxCeleb's trial-list layout with imprint's
// sample names, one trial per line:
//   LABEL ENROL TEST
// LABEL is 1 / 0 (or target / nontarget); ENROL and TEST name a sample as IDENTITY/INDEX: the identity's
// name in the dataset's manifest (everything before the last '/') and the sample's 0-based position among
// that identity's samples (`imprint pack` stores them in natural file-name order). Blank lines and lines
// starting with '#' are skipped. docs/running.md has an example.
#pragma once
#include <ATen/Tensor.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "data/shard_dataset.h"
#include "models/encoder.h"
#include "trainer/evaluation/verification_metrics.h"

namespace imprint {

struct TrialList {
  struct Sample {
    int64_t identity = 0, index = 0;
  };
  std::vector<Sample> samples;         // each distinct sample the trials name, once
  std::vector<int64_t> first, second;  // per trial: indices into samples
  std::vector<bool> target;
  int64_t training_identity_trials = 0;  // trials with a sample of an identity the dataset trains on
};

// Throws DatasetError naming the file and line: a malformed line, an unknown identity or sample, a sample
// paired with itself, or a label that contradicts the identities (a target trial across two identities, a
// non-target trial within one). At least one target and one non-target trial are required.
TrialList read_trials(const std::string& path, const ShardDataset& dataset);

struct TrialScore {
  VerificationScore raw;
  double eer_asnorm = std::nan(""), min_dcf_asnorm = std::nan("");
};

// Cosine scores of the trials' pooled embeddings (samples read without augmentation); with a `cohort`
// [C, ...] of samples, also AS-norm (top_k) scores.
TrialScore score_trials(Encoder& encoder, const IdentityDataset& dataset, const TrialList& trials, int64_t batch_size,
                        const at::Tensor& cohort = {}, int64_t top_k = 100);

}  // namespace imprint
