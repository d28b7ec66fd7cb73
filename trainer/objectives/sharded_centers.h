// A classifier's centres split across ranks (Partial FC; An et al. 2021, InsightFace): rank r of N holds the
// classes [r*C/N, (r+1)*C/N) and nothing else, so a million identities x 256 dims costs each rank 1/N of the
// weights, their gradient and their optimizer moments. The centres are not a module parameter: the gradient
// reducer would average them (they differ per rank) and the replicated optimizer would hold all of them.
// This class is their own AdamW (optimizer.lr/beta1/beta2/eps; no weight decay and outside
// optimizer.grad_clip, as the replicated centres' name keeps them out of decay), and their checkpoint form:
// gathered whole, so a checkpoint does not depend on the world size and a resume on another one re-shards.
//
// Initialisation draws row i from (seed, i) alone (Xavier-uniform bound of the whole matrix), so a shard is
// the same rows on any world size.
#pragma once
#include <ATen/Tensor.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "collectives/communicator.h"

namespace imprint {

struct ShardRange {
  int64_t begin = 0, end = 0;  // classes [begin, end)
};
ShardRange shard_range(int64_t classes, int rank, int world);

struct ShardedAdamW {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
};

class ShardedCenters {
 public:
  // rows_per_class: sub-centres; centres of class c are rows [c*rows_per_class, (c+1)*rows_per_class).
  ShardedCenters(int64_t classes, int64_t rows_per_class, int64_t dim, uint64_t seed, int rank, int world,
                 const ShardedAdamW& adamw);
  const at::Tensor& weight() const { return weight_; }  // [local classes * rows_per_class, D], requires grad
  ShardRange range() const { return range_; }
  int64_t classes() const { return classes_; }
  // One AdamW step on the rows this rank holds with their gradient (left undefined when the shard took no
  // part), which is then cleared. A non-finite gradient leaves the shard as it is (checked on the device).
  void step(double lr);
  void to(const at::Device& device);
  // Every rank calls it (collective): the whole matrix and its moments, in class order.
  std::map<std::string, at::Tensor> gather(Communicator& comm) const;
  // Takes this rank's rows out of what gather() wrote, whatever world size wrote it: `read(key)` gives the
  // whole tensor gather() returned under `key` (and throws when it is missing). Throws std::runtime_error
  // naming a tensor of the wrong shape.
  void load(const std::function<at::Tensor(const std::string& key)>& read);
  int64_t steps() const { return steps_; }

 private:
  int64_t classes_, rows_per_class_, dim_;
  ShardRange range_;
  ShardedAdamW adamw_;
  at::Tensor weight_, exp_avg_, exp_avg_sq_;
  int64_t steps_ = 0;
};

}  // namespace imprint
