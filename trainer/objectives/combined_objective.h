// The weighted sum of the objectives a config turns on, as one objective: each term's parameters live under
// its name, and every question the trainer asks (views read, target augmentation, dataset checks,
// evaluations, signature, sharded state) is answered for all terms together.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "trainer/objectives/objective_registry.h"

namespace imprint {

class CombinedObjective : public torch::nn::Module {
 public:
  CombinedObjective(const std::vector<ObjectiveTerm>& terms, const ObjectiveContext& context);
  // The total loss; `logged` holds loss_<name> for each term (when several) and each term's own values.
  ObjectiveOutput compute(const TrainBatch& batch, const EncodedBatch& encoded, Communicator& comm);
  const std::vector<std::string>& names() const { return names_; }

  int64_t views_read(int64_t k) const;                // the most any term reads
  bool reads_pooled(int64_t k) const;                 // whether a term that reads views reads the pooled vector
  std::vector<std::string> readers(int64_t k) const;  // the terms that read at least one view
  bool augments_targets() const;                      // every term allows it
  void check_dataset(const DatasetFacts& facts) const;
  std::vector<std::unique_ptr<ObjectiveEvaluation>> evaluations(const EvaluationContext& context);
  std::map<std::string, std::string> signature() const;

  // Each term's sharded state (Objective::place ...), keys prefixed "<name>.".
  void place(int rank, int world, const at::Device& device);
  bool has_shards() const;
  void step_shards(double lr);
  std::map<std::string, at::Tensor> gather_shards(Communicator& comm);
  void load_shards(const Objective::ShardReader& read);

 private:
  std::vector<std::string> names_;
  std::vector<double> weights_;
  std::vector<std::shared_ptr<Objective>> terms_;
};

}  // namespace imprint
