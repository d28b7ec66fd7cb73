// Builds the batches of upcoming steps on worker threads so the trainer rarely waits for data.
// Batches come out in step order whatever order the workers finish them in.
#pragma once
#include <ATen/Tensor.h>

#include <condition_variable>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "data/identity_dataset.h"
#include "data/view_sampler.h"

namespace imprint {

// One step's rows for this rank, as ONE tensor of views: row i shows identity[i] K times.
struct ViewBatch {
  at::Tensor views;     // [B, K, ...sample_shape] float32; view 0 the reference, view 1 the target
  at::Tensor identity;  // [B] int64 dataset identity index of each row (distinct within a step)
  at::Tensor content;   // [B, K] int64 content label of each view; undefined when the dataset has none
  int64_t step = 0;
};

// pin_memory: allocate in page-locked memory (CUDA builds only) so the copy to the GPU can be asynchronous.
ViewBatch build_batch(const IdentityDataset& dataset, const std::vector<ViewSlot>& slots, int64_t step,
                      bool pin_memory = false);

class PrefetchLoader {
 public:
  // Produces the batches of steps first_step, first_step + 1, ...; `workers` == 0 builds them in next().
  PrefetchLoader(const IdentityDataset& dataset, const ViewSampler& sampler, int workers, int depth, int64_t first_step,
                 bool pin_memory = false);
  ~PrefetchLoader();
  PrefetchLoader(const PrefetchLoader&) = delete;
  PrefetchLoader& operator=(const PrefetchLoader&) = delete;

  // The next step's batch; rethrows a worker's exception (a read error) on the training thread.
  ViewBatch next();

 private:
  void work();

  const IdentityDataset& dataset_;
  const ViewSampler& sampler_;
  int depth_;
  bool pin_memory_;
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t next_to_build_;
  int64_t next_to_return_;
  bool stop_ = false;
  std::exception_ptr error_;
  std::map<int64_t, ViewBatch> ready_;
  std::vector<std::thread> threads_;
};

}  // namespace imprint
