#include "data/pair_sampler.h"

#include <stdexcept>
#include <string>

#include "data/counter_rng.h"

namespace imprint {

PairSampler::PairSampler(const IdentityDataset& dataset, uint64_t seed, int64_t global_batch, int rank, int world,
                         bool augment, bool augment_targets, int64_t samples_per_identity)
    : dataset_(dataset),
      seed_(seed),
      global_batch_(global_batch),
      rank_(rank),
      world_(world),
      augment_(augment),
      augment_targets_(augment_targets),
      samples_per_identity_(samples_per_identity) {
  if (samples_per_identity < 2)
    throw std::invalid_argument("train.samples_per_identity=" + std::to_string(samples_per_identity) +
                                " must be at least 2 (a reference and a different target)");
  const auto n = static_cast<int64_t>(dataset.train_identities().size());
  if (global_batch > n)
    throw std::invalid_argument("train.batch_size=" + std::to_string(global_batch) +
                                " pairs needs as many distinct training identities, the dataset has " +
                                std::to_string(n));
  if (world < 1 || rank < 0 || rank >= world || global_batch % world != 0)
    throw std::invalid_argument("train.batch_size=" + std::to_string(global_batch) +
                                " must be a multiple of the world size " + std::to_string(world));
  steps_per_epoch_ = n / global_batch;
}

std::shared_ptr<const std::vector<int64_t>> PairSampler::epoch_order(int64_t epoch) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (epoch != cached_epoch_) {
    auto order = std::make_shared<std::vector<int64_t>>(dataset_.train_identities());
    CounterRng rng(mix(seed_, 0x5a3f1e, static_cast<uint64_t>(epoch)));
    for (int64_t i = static_cast<int64_t>(order->size()) - 1; i > 0; --i) std::swap((*order)[i], (*order)[rng.below(i + 1)]);
    cached_order_ = std::move(order);
    cached_epoch_ = epoch;
  }
  return cached_order_;
}

// A partial Fisher-Yates over the samples the pair did not take: distinct views while they last.
void PairSampler::draw_extra_views(PairSlot& s, int64_t m, CounterRng& rng) const {
  const int64_t extra = samples_per_identity_ - 2;
  std::vector<int64_t> left;
  left.reserve(static_cast<size_t>(m));
  for (int64_t i = 0; i < m; ++i)
    if (i != s.reference_index && i != s.target_index) left.push_back(i);
  s.extra_index.resize(static_cast<size_t>(extra));
  s.extra_augment.assign(static_cast<size_t>(extra), 0);
  for (int64_t v = 0; v < extra; ++v) {
    const auto pos = static_cast<size_t>(v);
    if (pos < left.size()) {
      std::swap(left[pos], left[pos + static_cast<size_t>(rng.below(static_cast<int64_t>(left.size() - pos)))]);
      s.extra_index[pos] = left[pos];
    } else {
      s.extra_index[pos] = rng.below(m);
    }
    if (augment_) s.extra_augment[pos] = rng.next_u64() | 1;
  }
}

std::vector<PairSlot> PairSampler::slots(int64_t step) const {
  const int64_t epoch = step / steps_per_epoch_;
  const auto order = epoch_order(epoch);
  const int64_t base = (step % steps_per_epoch_) * global_batch_ + rank_ * local_batch();
  std::vector<PairSlot> out;
  out.reserve(local_batch());
  for (int64_t i = 0; i < local_batch(); ++i) {
    const int64_t slot = rank_ * local_batch() + i;
    PairSlot s{};
    s.identity = (*order)[base + i];
    CounterRng rng(mix(seed_, 0x9a1e, static_cast<uint64_t>(step), static_cast<uint64_t>(slot)));
    const int64_t m = dataset_.num_samples(s.identity);
    s.reference_index = rng.below(m);
    s.target_index = (s.reference_index + 1 + rng.below(m - 1)) % m;  // always a different sample
    if (augment_) {
      s.reference_augment = rng.next_u64() | 1;
      s.target_augment = rng.next_u64() | 1;
      if (!augment_targets_) s.target_augment = 0;  // drawn all the same: the other draws do not move
    }
    if (samples_per_identity_ > 2) draw_extra_views(s, m, rng);
    out.push_back(s);
  }
  return out;
}

}  // namespace imprint
