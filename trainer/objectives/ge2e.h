// Generalised end-to-end loss (Wan et al. 2018, the speaker-verification loss of GE2E): each view e_ji of
// identity j is compared with every identity's centroid c_k (the mean of its K views) by a learned scaled
// cosine S_ji,k = w cos(e_ji, c_k) + b, w > 0; for its own identity the centroid leaves e_ji out
// (c_j^-i = mean of the other K-1 views), so a view cannot pull its centroid towards itself.
//   softmax:  L_ji = -S_ji,j + log sum_k exp(S_ji,k)          (b cancels: a fixed buffer in this form)
//   contrast: L_ji = 1 - sigmoid(S_ji,j) + max_{k != j} sigmoid(S_ji,k)
// Centroids span the GLOBAL batch: the views are all-gathered with a backward, each rank scores its own
// views, and w and b are replicated parameters averaged like any other, so N ranks = 1 rank.
#pragma once
#include <string>

#include "trainer/objectives/objective_registry.h"

namespace imprint {

struct Ge2eOptions {
  bool contrast = false;  // objective.ge2e.form: softmax (false) or contrast
  double init_scale = 10, init_bias = -5;
};
// Its registry entry (objective_registry.h): keys objective.ge2e.*.
ObjectiveInfo ge2e_objective();

class Ge2e final : public Objective {
 public:
  explicit Ge2e(const Ge2eOptions& options);
  ObjectiveOutput compute(const TrainBatch& batch, const EncodedBatch& encoded, Communicator& comm) override;
  int64_t views_read(int64_t k) const override { return k; }
  // The loss of this rank's views [B, K, D] (identities distinct across rows and ranks).
  torch::Tensor loss(const torch::Tensor& views, Communicator* comm = nullptr) const;

 private:
  bool contrast_;
  torch::Tensor scale_, bias_;  // w (clamped to >= 1e-6 in use) and b (learned in the contrast form only)
};

}  // namespace imprint
