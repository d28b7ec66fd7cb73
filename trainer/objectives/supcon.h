// Supervised contrastive loss (Khosla et al. 2020, L_out): InfoNCE generalised to K samples per identity.
// Every view of the P x K batch is an anchor; the other K-1 views of its identity are its positives and
// every other view of the GLOBAL batch a negative:
//   L_i = -1/(K-1) * sum_{p in P(i)} log( exp(z_i.z_p / tau) / sum_{a != i} exp(z_i.z_a / tau) )
// on L2-normalised pooled embeddings. Views are all-gathered with a backward (like InfoNCE) so each rank
// scores its own anchors against every rank's views, and the gradient average over ranks equals one rank's
// gradient on the whole batch. With K = 2 it is SimCLR's NT-Xent with identity positives.
#pragma once
#include "trainer/objectives/objective_registry.h"

namespace imprint {

// Its registry entry (objective_registry.h): keys objective.supcon.*.
ObjectiveInfo supcon_objective();

class SupCon final : public Objective {
 public:
  explicit SupCon(double temperature);
  ObjectiveOutput compute(const TrainBatch& batch, const EncodedBatch& encoded, Communicator& comm) override;
  int64_t views_read(int64_t k) const override { return k; }
  // The loss of this rank's views [B, K, D] (identities distinct across rows and ranks).
  torch::Tensor loss(const torch::Tensor& views, Communicator* comm = nullptr) const;

 private:
  double temperature_;
};

}  // namespace imprint
