#include "data/prefetch_loader.h"

#include <ATen/ATen.h>

namespace imprint {

ViewBatch build_batch(const IdentityDataset& dataset, const std::vector<ViewSlot>& slots, int64_t step,
                      bool pin_memory) {
  const auto rows = static_cast<int64_t>(slots.size());
  const int64_t k = slots.empty() ? 2 : static_cast<int64_t>(slots.front().sample.size());
  std::vector<int64_t> shape{rows, k};
  for (auto d : dataset.sample_shape()) shape.push_back(d);
  ViewBatch b;
  b.step = step;
  b.views = at::empty(shape, at::TensorOptions().dtype(at::kFloat).pinned_memory(pin_memory));
  b.identity = at::empty({rows}, at::kLong);
  const bool labelled = !dataset.content_labels().empty();
  if (labelled) b.content = at::empty({rows, k}, at::kLong);
  const int64_t numel = dataset.sample_numel();
  float* views = b.views.data_ptr<float>();
  int64_t* ids = b.identity.data_ptr<int64_t>();
  for (int64_t i = 0; i < rows; ++i) {
    const ViewSlot& s = slots[static_cast<size_t>(i)];
    ids[i] = s.identity;
    for (int64_t v = 0; v < k; ++v) {
      dataset.read(s.identity, s.sample[v], s.augment[v], views + (i * k + v) * numel);
      if (labelled) b.content.data_ptr<int64_t>()[i * k + v] = dataset.content_label(s.identity, s.sample[v]);
    }
  }
  return b;
}

PrefetchLoader::PrefetchLoader(const IdentityDataset& dataset, const ViewSampler& sampler, int workers, int depth,
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
      ViewBatch b = build_batch(dataset_, sampler_.slots(step), step, pin_memory_);
      std::lock_guard<std::mutex> lock(mu_);
      ready_.emplace(step, std::move(b));
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!error_) error_ = std::current_exception();
    }
    cv_.notify_all();
  }
}

ViewBatch PrefetchLoader::next() {
  if (threads_.empty()) {
    const int64_t step = next_to_return_++;
    return build_batch(dataset_, sampler_.slots(step), step, pin_memory_);
  }
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return error_ || ready_.count(next_to_return_) > 0; });
  if (error_) std::rethrow_exception(error_);
  auto it = ready_.find(next_to_return_);
  ViewBatch b = std::move(it->second);
  ready_.erase(it);
  ++next_to_return_;
  lock.unlock();
  cv_.notify_all();
  return b;
}

}  // namespace imprint
