// Held-out identity retrieval: one reference per held-out identity is matched (cosine, pooled embedding)
// against a gallery of OTHER samples of every held-out identity; top-1 is right when the nearest gallery
// sample has the reference's identity. Chance is 1 / identities. The same embeddings give verification EER
// and minDCF over all pairs, and multi-query top-1/top-5 (every sample the reference in turn) with a
// confidence interval. Progress is logged every 10 s when an evaluation takes that long.
#pragma once
#include <ATen/Tensor.h>

#include <cmath>
#include <string>

#include "data/identity_dataset.h"
#include "models/encoder.h"

namespace imprint {

struct EvalSet {
  at::Tensor references;        // [M, ...]  sample 0 of each held-out identity
  at::Tensor gallery;           // [M*G, ...] samples 1..G
  at::Tensor gallery_identity;  // [M*G] index into the references (0..M-1)
  at::Tensor cohort;            // [C, ...] sample 0 of C TRAINING identities (AS-norm); undefined without
  int64_t cohort_top_k = 0;
};

struct RetrievalScore {
  bool measured = true;          // false: the run trains no encoder, so retrieval was not scored (the rest is unset)
  std::string why_not_measured;  // when not measured: why (for the closing line)
  double top1 = 0, chance = 0;
  // Verification over every pair of the held-out samples (references and gallery together; target pairs
  // share an identity): trainer/evaluation/verification_metrics.h.
  double eer = 0, min_dcf = 0;
  int64_t target_trials = 0, nontarget_trials = 0;
  // The same trials with AS-norm scores (eval.asnorm_cohort > 0), else NaN.
  double eer_asnorm = std::nan(""), min_dcf_asnorm = std::nan("");
  // Every sample as the ONE reference in turn (multi-query), against all the other samples: top-1 and
  // top-5 over M·(G+1) queries, and a 95% interval for top-1 from a bootstrap over identities (queries of
  // one identity are not independent). chance_all is the top-1 chance, G / (M·(G+1) - 1).
  double top1_all = 0, top5_all = 0, top1_all_low = 0, top1_all_high = 0, chance_all = 0;
  int64_t queries = 0;
  int64_t identities = 0, gallery_size = 0;
  at::Tensor gallery_embeddings;  // [M*G, D] unit-norm pooled embeddings of the gallery (for plots)
  at::Tensor reference_hit;       // [M] bool (CPU): reference i's nearest gallery sample is its own identity's
};

EvalSet build_eval_set(const IdentityDataset& dataset, int64_t gallery_per_identity);  // its held-out identities
// The held-out identities split in two (eval.validation_identities): `validation` of them, the ones with the
// smallest splitmix64 hash of their index (stable for a dataset, whatever the seed), which
// checkpoint.keep_best chooses on; the rest are the test identities the held-out figures are reported on.
// Both keep the dataset's order. Throws std::invalid_argument when either side would have fewer than 2.
struct HeldoutSplit {
  std::vector<int64_t> validation, test;
};
HeldoutSplit split_heldout(const std::vector<int64_t>& heldout, int64_t validation);
EvalSet build_eval_set(const IdentityDataset& dataset, const std::vector<int64_t>& identities,
                       int64_t gallery_per_identity);
// Adds an AS-norm cohort to `set`: sample 0 of the first `identities` training identities of `dataset`.
void add_asnorm_cohort(EvalSet& set, const IdentityDataset& dataset, int64_t identities, int64_t top_k);
// Unit-norm pooled embeddings of `samples`, `batch_size` at a time (progress logged every 10 s as `what`).
at::Tensor embed_pooled(Encoder& encoder, const at::Tensor& samples, int64_t batch_size, const char* what);
RetrievalScore evaluate_retrieval(Encoder& encoder, const EvalSet& set, int64_t batch_size);
// The same scores from embeddings already made (by any encoder): unit-norm references [M, D], one per identity,
// gallery [M*G, D] with gallery_identity [M*G] in 0..M-1, and an AS-norm cohort [C, D] (undefined: none).
RetrievalScore score_embeddings(const at::Tensor& refs, const at::Tensor& gallery, const at::Tensor& gallery_identity,
                                const at::Tensor& cohort, int64_t cohort_top_k);
// Fills the multi-query fields of `s` from the similarity matrix [N, N] of N samples (cosine of unit-norm
// embeddings) with identities `identity` [N] (0..M-1, each with the same number of samples).
void score_multi_query(const at::Tensor& similarity, const at::Tensor& identity, RetrievalScore& s);

}  // namespace imprint
