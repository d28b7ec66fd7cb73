// Speaker/face verification metrics from trial scores: equal error rate (EER) and the minimum normalised
// detection cost (minDCF, NIST SRE / VoxCeleb convention: C_miss = C_fa = 1, p_target 0.01, normalised by
// the cost of always rejecting or always accepting, whichever is lower). A trial is a pair of samples; it is
// a target trial when both have the same identity.
#pragma once
#include <ATen/Tensor.h>

#include <cstdint>

namespace imprint {

struct VerificationScore {
  double eer = 0;      // the rate where misses and false alarms are equal (interpolated between thresholds)
  double min_dcf = 0;  // at p_target below
  double p_target = 0.01;
  int64_t target_trials = 0, nontarget_trials = 0;
};

// `scores` [T] (higher = more alike) and `is_target` [T] (bool or 0/1); needs at least one trial of each kind.
VerificationScore verification_metrics(const at::Tensor& scores, const at::Tensor& is_target, double p_target = 0.01);

// Every pair of N samples from their similarity matrix `similarity` [N, N] (e.g. cosine: E E^T of unit-norm
// embeddings), target when `identity` [N] agrees. Each unordered pair counts once; no self-pairs.
VerificationScore verify_all_pairs(const at::Tensor& similarity, const at::Tensor& identity, double p_target = 0.01);

// Adaptive symmetric score normalisation (AS-norm; Matejka et al. 2017, as WeSpeaker scores VoxCeleb): each
// sample i is compared with a cohort of OTHER identities (`cohort_scores` [N, M]); the mean and standard
// deviation of its top_k cohort scores normalise every score it takes part in:
//   s'(i, j) = ((s - mu_i) / sigma_i + (s - mu_j) / sigma_j) / 2.
// Returns the normalised `similarity` [N, N]. top_k is clamped to M.
at::Tensor adaptive_snorm(const at::Tensor& similarity, const at::Tensor& cohort_scores, int64_t top_k);
// The same normalisation for a list of trials: `scores` [T] between samples first[t] and second[t] (indices
// into the rows of `cohort_scores` [N, M]).
at::Tensor adaptive_snorm_trials(const at::Tensor& scores, const at::Tensor& first, const at::Tensor& second,
                                 const at::Tensor& cohort_scores, int64_t top_k);

}  // namespace imprint
