#include "data/prefetch_loader.h"

#include <ATen/ATen.h>

namespace imprint {

PairBatch build_batch(const IdentityDataset& dataset, const std::vector<PairSlot>& slots, int64_t step,
                      bool pin_memory) {
  std::vector<int64_t> shape{static_cast<int64_t>(slots.size())};
  for (auto d : dataset.sample_shape()) shape.push_back(d);
  PairBatch b;
  b.step = step;
  const auto options = at::TensorOptions().dtype(at::kFloat).pinned_memory(pin_memory);
  b.reference = at::empty(shape, options);
  b.target = at::empty(shape, options);
  b.identity = at::empty({static_cast<int64_t>(slots.size())}, at::kLong);
  const int64_t numel = dataset.sample_numel();
  float* ref = b.reference.data_ptr<float>();
  float* tgt = b.target.data_ptr<float>();
  int64_t* ids = b.identity.data_ptr<int64_t>();
  const bool labelled = !dataset.content_labels().empty();
  if (labelled) b.content = at::empty({static_cast<int64_t>(slots.size())}, at::kLong);
  const int64_t extra = slots.empty() ? 0 : static_cast<int64_t>(slots.front().extra_index.size());
  float* views = nullptr;
  if (extra > 0) {
    std::vector<int64_t> extra_shape{shape.front(), extra};
    extra_shape.insert(extra_shape.end(), shape.begin() + 1, shape.end());
    b.extra = at::empty(extra_shape, options);
    views = b.extra.data_ptr<float>();
  }
  for (size_t i = 0; i < slots.size(); ++i) {
    const PairSlot& s = slots[i];
    dataset.read(s.identity, s.reference_index, s.reference_augment, ref + i * numel);
    dataset.read(s.identity, s.target_index, s.target_augment, tgt + i * numel);
    ids[i] = s.identity;
    if (labelled) b.content.data_ptr<int64_t>()[i] = dataset.content_label(s.identity, s.target_index);
    for (int64_t v = 0; v < extra; ++v)
      dataset.read(s.identity, s.extra_index[v], s.extra_augment[v], views + (i * extra + v) * numel);
  }
  return b;
}

PrefetchLoader::PrefetchLoader(const IdentityDataset& dataset, const PairSampler& sampler, int workers, int depth,
                               int64_t first_step, bool pin_memory)
    : dataset_(dataset),
      sampler_(sampler),
      depth_(depth),
      pin_memory_(pin_memory),
      next_to_build_(first_step),
      next_to_return_(first_step) {
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
}

PrefetchLoader::~PrefetchLoader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void PrefetchLoader::work() {
  for (;;) {
    int64_t step;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || next_to_build_ < next_to_return_ + depth_; });
      if (stop_) return;
      step = next_to_build_++;
    }
    try {
      PairBatch b = build_batch(dataset_, sampler_.slots(step), step, pin_memory_);
      std::lock_guard<std::mutex> lock(mu_);
      ready_.emplace(step, std::move(b));
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!error_) error_ = std::current_exception();
    }
    cv_.notify_all();
  }
}

PairBatch PrefetchLoader::next() {
  if (threads_.empty()) {
    const int64_t step = next_to_return_++;
    return build_batch(dataset_, sampler_.slots(step), step, pin_memory_);
  }
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return error_ || ready_.count(next_to_return_) > 0; });
  if (error_) std::rethrow_exception(error_);
  auto it = ready_.find(next_to_return_);
  PairBatch b = std::move(it->second);
  ready_.erase(it);
  ++next_to_return_;
  lock.unlock();
  cv_.notify_all();
  return b;
}

}  // namespace imprint
