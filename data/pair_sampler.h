// Which (identity, reference sample, target sample) pairs make up each step's global batch, and which slice
// of it each rank computes. A pure function of (seed, step, rank, world): no communication, and the data
// position saved in a checkpoint is just the step.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "data/identity_dataset.h"

namespace imprint {

struct PairSlot {
  int64_t identity;
  int64_t reference_index, target_index;
  uint64_t reference_augment, target_augment;  // 0 = no augmentation
};

class PairSampler {
 public:
  // Throws std::invalid_argument when the batch cannot be formed (more pairs than training identities, or a
  // global batch that does not split evenly over the ranks).
  PairSampler(const IdentityDataset& dataset, uint64_t seed, int64_t global_batch, int rank, int world,
              bool augment, bool augment_targets = true);
  // Every identity appears at most once per step and at most once per epoch.
  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  int64_t local_batch() const { return global_batch_ / world_; }
  // This rank's slice of the global batch of `step` (steps count from 0).
  std::vector<PairSlot> slots(int64_t step) const;

 private:
  std::shared_ptr<const std::vector<int64_t>> epoch_order(int64_t epoch) const;

  const IdentityDataset& dataset_;
  uint64_t seed_;
  int64_t global_batch_;
  int rank_, world_;
  bool augment_, augment_targets_;
  int64_t steps_per_epoch_;
  mutable std::mutex mu_;
  mutable int64_t cached_epoch_ = -1;
  mutable std::shared_ptr<const std::vector<int64_t>> cached_order_;
};

}  // namespace imprint
