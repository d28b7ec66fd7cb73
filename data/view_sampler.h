// Which identities and samples make up each step's global batch, and which slice of it each rank computes:
// P identities (train.batch_size) x K views each (train.samples_per_identity). View 0 of an identity is its
// reference, view 1 the target (always a different sample), views 2..K-1 the extra views that the P x K
// objectives (those whose registry entry says they read every view) read. A pure function of (seed, step, rank, world):
// no communication, and the data position saved in a checkpoint is just the step.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "data/identity_dataset.h"

namespace imprint {

class CounterRng;

// One row of the batch: an identity and the K samples it shows, each with its augment seed (0 = none).
struct ViewSlot {
  int64_t identity = 0;
  // Views 2..K-1 are distinct from the reference, the target and each other while the identity has samples
  // left, then drawn again from all of its samples (their augmentation still differs).
  std::vector<int64_t> sample;    // [K]
  std::vector<uint64_t> augment;  // [K]
};

class ViewSampler {
 public:
  // Throws std::invalid_argument when the batch cannot be formed (more identities per step than training
  // identities, a global batch that does not split evenly over the ranks, or fewer than 2 views).
  // augment_targets false leaves view 1 unaugmented (a generator's target), its seed drawn all the same so
  // the other draws do not move. The draws of K = 2 are the first draws of any K.
  ViewSampler(const IdentityDataset& dataset, uint64_t seed, int64_t global_batch, int rank, int world, bool augment,
              bool augment_targets = true, int64_t views = 2);
  int64_t views() const { return views_; }
  // Every identity appears at most once per step and at most once per epoch.
  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  int64_t local_batch() const { return global_batch_ / world_; }
  // The global-batch row of this rank's first row (what per-row randomness is keyed by).
  int64_t first_row() const { return rank_ * local_batch(); }
  // This rank's slice of the global batch of `step` (steps count from 0).
  std::vector<ViewSlot> slots(int64_t step) const;

 private:
  std::shared_ptr<const std::vector<int64_t>> epoch_order(int64_t epoch) const;
  void draw_extra_views(ViewSlot& slot, int64_t samples, CounterRng& rng) const;

  const IdentityDataset& dataset_;
  uint64_t seed_;
  int64_t global_batch_;
  int rank_, world_;
  bool augment_, augment_targets_;
  int64_t views_;
  int64_t steps_per_epoch_;
  mutable std::mutex mu_;
  mutable int64_t cached_epoch_ = -1;
  mutable std::shared_ptr<const std::vector<int64_t>> cached_order_;
};

}  // namespace imprint
