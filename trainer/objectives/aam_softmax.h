// Additive angular margin softmax (ArcFace; Deng et al. 2019), the objective WeSpeaker, 3D-Speaker and
// InsightFace train identity encoders with: every training identity has a learned class centre (K
// sub-centres with sub_centers > 1, the closest one counts), the logit of a sample for class c is
// scale * cos(theta_c), and the true class's angle gets the margin m added, cos(theta_y + m), so embeddings
// must sit closer to their own centre than to any other by an angle m. The margin ramps linearly from 0 to
// `margin` over `margin_warmup_steps` (WeSpeaker's schedule, by step). Every sample of the batch (reference, target
// and with train.samples_per_identity > 2 the extra views; pooled embeddings) is classified.
//
// Classes are the dataset's identity indices (objective.aam.classes: its identity count, held-out ones
// included; their centres never get a positive, so held-out identities stay unseen). By default the centres
// are replicated on every rank and averaged by the gradient reducer like any parameter: N ranks compute
// what one rank computes on the global batch (each rank's loss is the mean over its own rows).
//
// With objective.aam.shard_classifier (Partial FC) rank r holds only its classes (ShardedCenters): the
// embeddings of every rank are all-gathered (with a backward), each rank scores ALL of them against its own
// centres, and the softmax normaliser crosses ranks exactly: the row maximum by an all-reduce max, the sum
// of exponentials and the true class's logit by an all-reduce sum whose backward is the identity (every
// rank computes the same global loss, so each shard's logits get exactly their own gradient; the gradient
// of a rank's embeddings arrives as the sum over shards through the gather's backward). Every rank's loss is
// then the GLOBAL mean, whose embedding gradient the reducer would divide by N when it averages: the
// embeddings' gradient is scaled by N on the way back to compensate. The centres train with their own
// AdamW (sharded_centers.h). With sample_rate < 1 a step scores only the batch's classes and a sample of the
// others (the rest get no gradient that step; their AdamW moments still decay and move them, as momentum
// moves Partial FC's unsampled rows); the logged accuracy is then among the sampled classes.
#pragma once
#include <memory>

#include "trainer/objectives/objective_registry.h"
#include "trainer/objectives/sharded_centers.h"

namespace imprint {

struct AamOptions {
  int64_t classes = 0, embed_dim = 0, sub_centers = 1, margin_warmup_steps = 0;
  double scale = 32, margin = 0.2;
  bool shard_classifier = false;
  // Sharded only (Partial FC's sample_rate): each step scores the classes of the global batch plus this
  // fraction of the others, drawn per class from (seed, step, class): the same set on any world size.
  double sample_rate = 1;
  uint64_t seed = 0;   // draws the sharded centres (row by row, the same on any world size)
  ShardedAdamW adamw;  // the sharded centres' optimizer
};
// Its registry entry (objective_registry.h): keys objective.aam.*; takes its class count from the dataset.
ObjectiveInfo aam_objective();

class AamSoftmax final : public Objective {
 public:
  explicit AamSoftmax(const AamOptions& options);
  ObjectiveOutput compute(const TrainBatch& batch, const EncodedBatch& encoded, Communicator& comm) override;
  int64_t views_read(int64_t k) const override { return k; }
  void check_dataset(const DatasetFacts& facts) const override;
  // The loss of `embeddings` [N, D] with class `labels` [N] at optimizer step `step` (tests).
  torch::Tensor loss(const torch::Tensor& embeddings, const torch::Tensor& labels, int64_t step,
                     torch::Tensor* accuracy = nullptr) const;
  // The sharded loss of this rank's `embeddings` [n, D] with `labels` [n] (every rank calls it).
  torch::Tensor sharded_loss(const torch::Tensor& embeddings, const torch::Tensor& labels, int64_t step,
                             Communicator& comm, torch::Tensor* accuracy = nullptr) const;
  double margin_at(int64_t step) const;
  // The classes of `range` scored at `step` (local indices, ascending): every class among `labels`, and each
  // other one with probability sample_rate.
  at::Tensor sampled_classes(const ShardRange& range, const at::Tensor& labels, int64_t step) const;

  void place(int rank, int world, const at::Device& device) override;
  bool has_shards() const override { return options_.shard_classifier; }
  void step_shards(double lr) override;
  std::map<std::string, at::Tensor> gather_shards(Communicator& comm) override;
  void load_shards(const ShardReader& read) override;
  ShardedCenters* shards() { return sharded_.get(); }

 private:
  // cos(theta_y + m) for the true class's cosines, with ArcFace's fallback past theta + m = pi.
  torch::Tensor with_margin(const torch::Tensor& cos_y, int64_t step) const;

  AamOptions options_;
  torch::Tensor centers_;                    // [classes * sub_centers, D]; undefined when sharded
  std::unique_ptr<ShardedCenters> sharded_;  // this rank's classes when sharded
};

}  // namespace imprint
