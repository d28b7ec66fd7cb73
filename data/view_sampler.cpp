#include "data/view_sampler.h"

#include <stdexcept>
#include <string>

#include "core/rng.h"

namespace imprint {

ViewSampler::ViewSampler(const IdentityDataset& dataset, uint64_t seed, int64_t global_batch, int rank, int world,
                         bool augment, bool augment_targets, int64_t views)
    : dataset_(dataset),
      seed_(seed),
      global_batch_(global_batch),
      rank_(rank),
      world_(world),
      augment_(augment),
      augment_targets_(augment_targets),
      views_(views) {
  if (views < 2)
    throw std::invalid_argument("train.samples_per_identity=" + std::to_string(views) +
                                " must be at least 2 (a reference and a different target)");
  const auto n = static_cast<int64_t>(dataset.train_identities().size());
  if (global_batch > n)
    throw std::invalid_argument("train.batch_size=" + std::to_string(global_batch) +
                                " identities per step needs as many distinct training identities, the dataset has " +
                                std::to_string(n));
  if (world < 1 || rank < 0 || rank >= world || global_batch % world != 0)
    throw std::invalid_argument("train.batch_size=" + std::to_string(global_batch) +
                                " must be a multiple of the world size " + std::to_string(world));
  steps_per_epoch_ = n / global_batch;
}

std::shared_ptr<const std::vector<int64_t>> ViewSampler::epoch_order(int64_t epoch) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (epoch != cached_epoch_) {
    auto order = std::make_shared<std::vector<int64_t>>(dataset_.train_identities());
    CounterRng rng(stream_key(seed_, Stream::SamplerEpochOrder, static_cast<uint64_t>(epoch)));
    for (int64_t i = static_cast<int64_t>(order->size()) - 1; i > 0; --i)
      std::swap((*order)[i], (*order)[rng.below(i + 1)]);
    cached_order_ = std::move(order);
    cached_epoch_ = epoch;
  }
  return cached_order_;
}

// A partial Fisher-Yates over the samples the reference and target did not take: distinct views while they
// last.
void ViewSampler::draw_extra_views(ViewSlot& s, int64_t m, CounterRng& rng) const {
  std::vector<int64_t> left;
  left.reserve(static_cast<size_t>(m));
  for (int64_t i = 0; i < m; ++i)
    if (i != s.sample[0] && i != s.sample[1]) left.push_back(i);
  for (int64_t v = 0; v + 2 < views_; ++v) {
    const auto pos = static_cast<size_t>(v);
    int64_t index;
    if (pos < left.size()) {
      std::swap(left[pos], left[pos + static_cast<size_t>(rng.below(static_cast<int64_t>(left.size() - pos)))]);
      index = left[pos];
    } else {
      index = rng.below(m);
    }
    s.sample.push_back(index);
    s.augment.push_back(augment_ ? rng.next_u64() | 1 : 0);
  }
}

std::vector<ViewSlot> ViewSampler::slots(int64_t step) const {
  const int64_t epoch = step / steps_per_epoch_;
  const auto order = epoch_order(epoch);
  const int64_t base = (step % steps_per_epoch_) * global_batch_ + first_row();
  std::vector<ViewSlot> out;
  out.reserve(local_batch());
  for (int64_t i = 0; i < local_batch(); ++i) {
    ViewSlot s;
    s.identity = (*order)[base + i];
    CounterRng rng(
        stream_key(seed_, Stream::SamplerViews, static_cast<uint64_t>(step), static_cast<uint64_t>(first_row() + i)));
    const int64_t m = dataset_.num_samples(s.identity);
    const int64_t reference = rng.below(m);
    const int64_t target = (reference + 1 + rng.below(m - 1)) % m;  // always a different sample
    s.sample = {reference, target};
    s.augment = {0, 0};
    if (augment_) {
      s.augment[0] = rng.next_u64() | 1;
      s.augment[1] = rng.next_u64() | 1;
      if (!augment_targets_) s.augment[1] = 0;  // drawn all the same: the other draws do not move
    }
    s.sample.reserve(static_cast<size_t>(views_));
    s.augment.reserve(static_cast<size_t>(views_));
    if (views_ > 2) draw_extra_views(s, m, rng);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace imprint
