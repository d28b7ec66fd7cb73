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
#include "data/pair_sampler.h"

namespace imprint {

struct PairBatch {
  at::Tensor reference;  // [B, ...sample_shape]
  at::Tensor target;     // [B, ...sample_shape]
  at::Tensor identity;   // [B] int64
  at::Tensor content;    // [B] int64 content label of each target; undefined when the dataset has none
  at::Tensor extra;      // [B, K-2, ...sample_shape] views 2..K-1 of each identity; undefined when K = 2
  int64_t step = 0;
};

// pin_memory: allocate in page-locked memory (CUDA builds only) so the copy to the GPU can be asynchronous.
PairBatch build_batch(const IdentityDataset& dataset, const std::vector<PairSlot>& slots, int64_t step,
                      bool pin_memory = false);

class PrefetchLoader {
 public:
  // Produces the batches of steps first_step, first_step + 1, ...; `workers` == 0 builds them in next().
  PrefetchLoader(const IdentityDataset& dataset, const PairSampler& sampler, int workers, int depth,
                 int64_t first_step, bool pin_memory = false);
  ~PrefetchLoader();
  PrefetchLoader(const PrefetchLoader&) = delete;
  PrefetchLoader& operator=(const PrefetchLoader&) = delete;

  // The next step's batch; rethrows a worker's exception (a read error) on the training thread.
  PairBatch next();

 private:
  void work();

  const IdentityDataset& dataset_;
  const PairSampler& sampler_;
  int depth_;
  bool pin_memory_;
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t next_to_build_;
  int64_t next_to_return_;
  bool stop_ = false;
  std::exception_ptr error_;
  std::map<int64_t, PairBatch> ready_;
  std::vector<std::thread> threads_;
};

}  // namespace imprint
