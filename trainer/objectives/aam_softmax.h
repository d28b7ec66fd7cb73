// Additive angular margin softmax (ArcFace; Deng et al. 2019), the objective WeSpeaker, 3D-Speaker and
// InsightFace train identity encoders with: every training identity has a learned class centre (K
// sub-centres with sub_centers > 1, the closest one counts), the logit of a sample for class c is
// scale * cos(theta_c), and the true class's angle gets the margin m added, cos(theta_y + m), so embeddings
// must sit closer to their own centre than to any other by an angle m. The margin ramps linearly from 0 to
// `margin` over `margin_warmup_steps` (WeSpeaker's schedule, by step). Both samples of each pair (reference
// and target pooled embeddings) are classified.
//
// Classes are the dataset's identity indices (objective.aam.classes: its identity count, held-out ones
// included; their centres never get a positive, so held-out identities stay unseen). The centres are
// replicated on every rank and averaged by the gradient reducer like any parameter: N ranks compute what
// one rank computes on the global batch (each rank's loss is the mean over its own rows).
#pragma once
#include "trainer/objectives/objective.h"

namespace imprint {

struct AamOptions {
  int64_t classes = 0, embed_dim = 0, sub_centers = 1, margin_warmup_steps = 0;
  double scale = 32, margin = 0.2;
};
AamOptions aam_options(const Config& config);

class AamSoftmax final : public Objective {
 public:
  explicit AamSoftmax(const AamOptions& options);
  ObjectiveOutput compute(const TrainBatch& batch, const Conditioning& reference, const Conditioning& target,
                          Communicator& comm) override;
  // The loss of `embeddings` [N, D] with class `labels` [N] at optimizer step `step` (tests).
  torch::Tensor loss(const torch::Tensor& embeddings, const torch::Tensor& labels, int64_t step,
                     torch::Tensor* accuracy = nullptr) const;
  double margin_at(int64_t step) const;

 private:
  AamOptions options_;
  torch::Tensor centers_;  // [classes * sub_centers, D]
};

}  // namespace imprint
