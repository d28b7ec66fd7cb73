#include "trainer/objectives/sharded_centers.h"

#include <ATen/ATen.h>

#include <cmath>
#include <stdexcept>

#include "core/rng.h"

namespace imprint {

ShardRange shard_range(int64_t classes, int rank, int world) {
  return {classes * rank / world, classes * (rank + 1) / world};
}

ShardedCenters::ShardedCenters(int64_t classes, int64_t rows_per_class, int64_t dim, uint64_t seed, int rank, int world,
                               const ShardedAdamW& adamw)
    : classes_(classes),
      rows_per_class_(rows_per_class),
      dim_(dim),
      range_(shard_range(classes, rank, world)),
      adamw_(adamw) {
  const int64_t rows = (range_.end - range_.begin) * rows_per_class;
  weight_ = at::empty({rows, dim}, at::kFloat);
  const double bound = std::sqrt(6.0 / static_cast<double>(classes * rows_per_class + dim));
  float* w = weight_.data_ptr<float>();
  for (int64_t i = 0; i < rows; ++i) {
    CounterRng rng(stream_key(seed, Stream::CentreInit, static_cast<uint64_t>(range_.begin * rows_per_class + i)));
    for (int64_t d = 0; d < dim; ++d) w[i * dim + d] = static_cast<float>(rng.uniform(-bound, bound));
  }
  weight_.set_requires_grad(true);
  exp_avg_ = at::zeros_like(weight_);
  exp_avg_sq_ = at::zeros_like(weight_);
}

void ShardedCenters::to(const at::Device& device) {
  if (weight_.device() == device) return;
  weight_ = weight_.detach().to(device).set_requires_grad(true);
  exp_avg_ = exp_avg_.to(device);
  exp_avg_sq_ = exp_avg_sq_.to(device);
}

void ShardedCenters::step(double lr) {
  at::Tensor g = weight_.grad();
  ++steps_;  // counted like the replicated optimizer's steps: a shard without rows this step still ages
  if (!g.defined() || weight_.numel() == 0) return;
  at::NoGradGuard no_grad;
  // In place, one temporary: at a million centres every extra pass over them costs more than the matmuls.
  // A non-finite gradient anywhere in the shard turns the step into a no-op without a host round trip:
  // the gradient is zeroed and the moments' decay and the update are multiplied by `keep` = 0.
  const at::Tensor finite = at::isfinite(g).all();
  const at::Tensor keep = finite.to(g.scalar_type());
  g.masked_fill_(finite.logical_not(), 0);
  const double c1 = 1 - std::pow(adamw_.beta1, static_cast<double>(steps_));
  const double c2 = 1 - std::pow(adamw_.beta2, static_cast<double>(steps_));
  // m <- m * (1 - keep (1 - b1)) + keep (1 - b1) g: the AdamW moment when keep = 1, m unchanged when 0.
  exp_avg_.mul_(1 - keep * (1 - adamw_.beta1)).add_(g * (1 - adamw_.beta1));
  exp_avg_sq_.mul_(1 - keep * (1 - adamw_.beta2)).addcmul_(g, g, 1 - adamw_.beta2);
  at::Tensor denom = exp_avg_sq_.div(c2);
  denom.sqrt_().add_(adamw_.eps);
  weight_.sub_(exp_avg_.div(denom).mul_(keep * (lr / c1)));
  weight_.mutable_grad() = at::Tensor();
}

std::map<std::string, at::Tensor> ShardedCenters::gather(Communicator& comm) const {
  const int world = comm.size();
  int64_t widest = 0;  // shards differ by at most one class: pad to the widest, trim after the gather
  for (int r = 0; r < world; ++r) {
    const ShardRange s = shard_range(classes_, r, world);
    widest = std::max(widest, s.end - s.begin);
  }
  auto whole = [&](const at::Tensor& local) {
    const at::Tensor t = local.detach();
    const at::Tensor on_wire = comm.backend() == "nccl" ? t : t.to(at::kCPU);
    at::Tensor padded = at::zeros({widest * rows_per_class_, dim_}, on_wire.options());
    padded.narrow(0, 0, t.size(0)).copy_(on_wire);
    const at::Tensor all = comm.allgather(padded).to(at::kCPU);
    std::vector<at::Tensor> parts;
    for (int r = 0; r < world; ++r) {
      const ShardRange s = shard_range(classes_, r, world);
      parts.push_back(all.narrow(0, r * widest * rows_per_class_, (s.end - s.begin) * rows_per_class_));
    }
    return at::cat(parts, 0);
  };
  return {{"centers", whole(weight_)},
          {"exp_avg", whole(exp_avg_)},
          {"exp_avg_sq", whole(exp_avg_sq_)},
          {"steps", at::full({1}, steps_, at::kLong)}};
}

void ShardedCenters::load(const std::function<at::Tensor(const std::string& key)>& read) {
  const std::vector<int64_t> shape{classes_ * rows_per_class_, dim_};
  auto rows_of = [&](const char* key) {
    const at::Tensor whole = read(key);
    if (whole.sizes().vec() != shape)
      throw std::runtime_error(std::string("sharded classifier: '") + key + "' has shape " + c10::str(whole.sizes()) +
                               ", expected " + c10::str(at::IntArrayRef(shape)) +
                               " (classes x sub-centres, embedding dim)");
    return whole.narrow(0, range_.begin * rows_per_class_, weight_.size(0));
  };
  at::NoGradGuard no_grad;
  weight_.copy_(rows_of("centers"));
  exp_avg_.copy_(rows_of("exp_avg"));
  exp_avg_sq_.copy_(rows_of("exp_avg_sq"));
  steps_ = read("steps").item<int64_t>();
}

}  // namespace imprint
