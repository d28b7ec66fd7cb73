#include "trainer/evaluation/verification_metrics.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace imprint {

VerificationScore verification_metrics(const at::Tensor& scores, const at::Tensor& is_target, double p_target) {
  const at::Tensor s = scores.to(at::kCPU).to(at::kDouble).contiguous().view({-1});
  const at::Tensor t = is_target.to(at::kCPU).to(at::kBool).contiguous().view({-1});
  if (s.numel() != t.numel()) throw std::invalid_argument("verification_metrics: scores and labels differ in length");
  const int64_t n = s.numel();
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  const double* sp = s.data_ptr<double>();
  const bool* tp = t.data_ptr<bool>();
  // Descending score: the threshold steps down through the trials, accepting one more each time.
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return sp[a] > sp[b]; });
  VerificationScore v;
  v.p_target = p_target;
  for (int64_t i = 0; i < n; ++i) (tp[i] ? v.target_trials : v.nontarget_trials)++;
  if (v.target_trials == 0 || v.nontarget_trials == 0)
    throw std::invalid_argument("verification_metrics: needs target and non-target trials");
  const double nt = static_cast<double>(v.target_trials), nn = static_cast<double>(v.nontarget_trials);
  // Operating point k: the top k trials are accepted (threshold between order[k-1] and order[k]); ties are
  // accepted together.
  int64_t accepted_targets = 0, accepted_nontargets = 0;
  double prev_miss = 1.0, prev_fa = 0.0;
  bool eer_found = false;
  const double norm = std::min(p_target, 1 - p_target);
  v.min_dcf = p_target / norm;  // accepting nothing: every target missed, no false alarm
  for (int64_t k = 0; k < n; ++k) {
    (tp[order[k]] ? accepted_targets : accepted_nontargets)++;
    if (k + 1 < n && sp[order[k + 1]] == sp[order[k]]) continue;  // the same threshold
    const double miss = 1.0 - accepted_targets / nt, fa = accepted_nontargets / nn;
    v.min_dcf = std::min(v.min_dcf, (p_target * miss + (1 - p_target) * fa) / norm);
    if (!eer_found && fa >= miss) {
      // Between the previous point (miss > fa) and this one: where the straight line has miss == fa.
      const double d_prev = prev_miss - prev_fa, d_now = fa - miss;
      const double w = d_prev + d_now > 0 ? d_prev / (d_prev + d_now) : 0.0;
      v.eer = prev_miss + w * (miss - prev_miss);
      eer_found = true;
    }
    prev_miss = miss, prev_fa = fa;
  }
  return v;
}

VerificationScore verify_all_pairs(const at::Tensor& similarity, const at::Tensor& identity, double p_target) {
  const at::Tensor scores = similarity.to(at::kCPU);
  const at::Tensor id = identity.to(at::kCPU).to(at::kLong).view({-1});
  const int64_t n = scores.size(0);
  const at::Tensor same = id.view({n, 1}).eq(id.view({1, n}));
  const at::Tensor upper = at::ones({n, n}, at::kBool).triu(1);  // each unordered pair once, no self-pairs
  return verification_metrics(scores.masked_select(upper), same.masked_select(upper), p_target);
}

namespace {
// Mean and deviation of each sample's top_k cohort scores, double precision.
std::pair<at::Tensor, at::Tensor> cohort_statistics(const at::Tensor& cohort_scores, int64_t top_k) {
  const int64_t k = std::min<int64_t>(top_k, cohort_scores.size(1));
  const at::Tensor top = std::get<0>(cohort_scores.to(at::kDouble).topk(k, 1));  // [N, k]
  return {top.mean(1), top.std(1, /*unbiased=*/false).clamp_min(1e-9)};
}
}  // namespace

at::Tensor adaptive_snorm(const at::Tensor& similarity, const at::Tensor& cohort_scores, int64_t top_k) {
  const auto [mean, std] = cohort_statistics(cohort_scores, top_k);
  const at::Tensor s = similarity.to(at::kDouble);
  const at::Tensor by_row = (s - mean.view({-1, 1})) / std.view({-1, 1});
  const at::Tensor by_col = (s - mean.view({1, -1})) / std.view({1, -1});
  return ((by_row + by_col) / 2).to(similarity.scalar_type());
}

at::Tensor adaptive_snorm_trials(const at::Tensor& scores, const at::Tensor& first, const at::Tensor& second,
                                 const at::Tensor& cohort_scores, int64_t top_k) {
  const auto [mean, std] = cohort_statistics(cohort_scores, top_k);
  const at::Tensor s = scores.to(at::kDouble);
  const at::Tensor a = (s - mean.index_select(0, first)) / std.index_select(0, first);
  const at::Tensor b = (s - mean.index_select(0, second)) / std.index_select(0, second);
  return ((a + b) / 2).to(scores.scalar_type());
}

}  // namespace imprint
