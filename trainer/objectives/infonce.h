// Symmetric InfoNCE between the pooled embeddings of references and targets: pair i's target is the positive
// of reference i, every other target in the GLOBAL batch is a negative (and the same from the target side).
// With several ranks the embeddings are all-gathered (with a backward) so each rank scores its own rows
// against every rank's columns; the gradient average over ranks then equals one rank's gradient on the
// whole batch.
#pragma once
#include "trainer/objectives/objective_registry.h"

namespace imprint {

struct InfoNCEOptions {
  double temperature = 0.07;
  bool learn_temperature = true;
};
// Its registry entry (objective_registry.h): keys objective.infonce.*.
ObjectiveInfo infonce_objective();

class InfoNCE final : public Objective {
 public:
  explicit InfoNCE(const InfoNCEOptions& options);
  // Requires the identities in the batch to be distinct (the view sampler guarantees it).
  ObjectiveOutput compute(const TrainBatch& batch, const EncodedBatch& encoded, Communicator& comm) override;
  // The loss alone (tests, benchmarks).
  torch::Tensor loss(const Conditioning& reference, const Conditioning& target, Communicator* comm = nullptr);
  double temperature() const;

 private:
  torch::Tensor log_scale_;  // log(1 / temperature)
};

}  // namespace imprint
