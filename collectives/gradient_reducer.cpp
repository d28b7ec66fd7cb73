#include "collectives/gradient_reducer.h"

#include <ATen/ATen.h>

#include <chrono>
#include <stdexcept>

namespace imprint {

GradientReducer::GradientReducer(std::vector<at::Tensor> params, std::vector<std::string> names, Communicator& comm,
                                 const Options& options)
    : comm_(comm), options_(options), alive_(std::make_shared<bool>(true)) {
  if (options.wire != at::kFloat && options.wire != at::kBFloat16)
    throw std::invalid_argument("gradient reducer: the wire dtype must be float32 or bfloat16");
  for (size_t i = 0; i < params.size(); ++i) {
    if (!params[i].requires_grad()) continue;
    const auto t = params[i].scalar_type();
    if (t != at::kFloat && t != at::kBFloat16 && t != at::kHalf)
      throw std::invalid_argument("gradient reducer: parameter '" + names.at(i) + "' is " + at::toString(t) +
                                  "; expected float32, bfloat16 or float16");
    params_.push_back(params[i]);
    names_.push_back(names.at(i));
  }
  bucket_of_.resize(params_.size());
  slot_in_bucket_.resize(params_.size());
  got_grad_.assign(params_.size(), 0);
  // Reverse registration order: the last layers' gradients are produced first.
  int64_t limit = options.first_bucket_bytes, used = 0;
  for (size_t k = params_.size(); k-- > 0;) {
    const int64_t bytes = params_[k].numel() * 4;
    if (buckets_.empty() || (used > 0 && used + bytes > limit)) {
      if (!buckets_.empty()) limit = options.bucket_bytes;
      buckets_.emplace_back();
      used = 0;
    }
    Bucket& b = buckets_.back();
    bucket_of_[k] = buckets_.size() - 1;
    slot_in_bucket_[k] = b.params.size();
    b.params.push_back(k);
    b.offsets.push_back(used / 4);
    used += bytes;
  }
  for (auto& b : buckets_) {
    int64_t n = 0;
    for (size_t k : b.params) n += params_[k].numel();
    b.flat = at::zeros({n}, params_[b.params.front()].options().dtype(at::kFloat));  // on the parameters' device
  }
  for (size_t k = 0; k < params_.size(); ++k) {
    std::weak_ptr<bool> alive = alive_;
    params_[k].register_hook([this, k, alive](const at::Tensor& grad) {
      if (alive.lock()) on_grad(k, grad);
    });
  }
}

GradientReducer::~GradientReducer() { alive_.reset(); }

void GradientReducer::broadcast_from_rank0(Communicator& comm, std::vector<at::Tensor> tensors) {
  at::NoGradGuard no_grad;
  for (auto& t : tensors) {
    at::Tensor buf = t.detach().contiguous();
    comm.broadcast_(buf, 0);
    if (buf.data_ptr() != t.data_ptr()) t.detach().copy_(buf);
  }
}

void GradientReducer::prepare(bool sync) {
  sync_ = sync;
  armed_ = true;
  if (!sync) return;
  for (auto& b : buckets_) {
    b.ready = 0;
    b.launched = false;
    b.work.reset();
  }
  std::fill(got_grad_.begin(), got_grad_.end(), 0);
  next_to_launch_ = 0;
}

void GradientReducer::on_grad(size_t k, const at::Tensor& grad) {
  if (!armed_ || !sync_ || got_grad_[k]) return;
  got_grad_[k] = 1;
  Bucket& b = buckets_[bucket_of_[k]];
  at::Tensor view = b.flat.narrow(0, b.offsets[slot_in_bucket_[k]], params_[k].numel());
  view.copy_(grad.reshape({-1}));
  // Micro-batches before this one (no_sync) left their sum in .grad.
  const at::Tensor& accumulated = params_[k].grad();
  if (accumulated.defined()) view.add_(accumulated.reshape({-1}));
  if (++b.ready == b.params.size()) launch_ready_buckets();
}

void GradientReducer::launch_ready_buckets() {
  while (next_to_launch_ < buckets_.size() &&
         buckets_[next_to_launch_].ready == buckets_[next_to_launch_].params.size()) {
    Bucket& b = buckets_[next_to_launch_++];
    b.launched = true;
    if (options_.wire == at::kFloat) {
      b.work = comm_.allreduce_async_(b.flat, ReduceOp::Average);
    } else {
      b.wire = b.flat.to(options_.wire);
      b.work = comm_.allreduce_async_(b.wire, ReduceOp::Average);
    }
  }
}

void GradientReducer::finalize() {
  if (!armed_ || !sync_) throw std::logic_error("gradient reducer: finalize() without prepare(true)");
  armed_ = false;
  at::NoGradGuard no_grad;
  // Parameters that got no gradient on this rank contribute zeros, so every rank launches every bucket.
  std::vector<size_t> missing;
  for (size_t k = 0; k < params_.size(); ++k) {
    if (got_grad_[k]) continue;
    missing.push_back(k);
    Bucket& b = buckets_[bucket_of_[k]];
    at::Tensor view = b.flat.narrow(0, b.offsets[slot_in_bucket_[k]], params_[k].numel());
    const at::Tensor& accumulated = params_[k].grad();
    if (accumulated.defined()) {
      view.copy_(accumulated.reshape({-1}));
    } else {
      view.zero_();
    }
    ++b.ready;
  }
  launch_ready_buckets();
  at::Tensor used;
  if (options_.find_unused_parameters) {
    used = at::empty({static_cast<int64_t>(params_.size())}, at::kInt);
    for (size_t k = 0; k < params_.size(); ++k)
      used.data_ptr<int32_t>()[k] = got_grad_[k] || params_[k].grad().defined();
    used = used.to(buckets_.front().flat.device());
  }
  const auto start = std::chrono::steady_clock::now();
  for (auto& b : buckets_) {
    b.work->wait();
    if (b.wire.defined()) {
      b.flat.copy_(b.wire);
      b.wire = at::Tensor();
    }
  }
  if (options_.find_unused_parameters) {
    comm_.allreduce_(used, ReduceOp::Max);
    used = used.cpu();
  }
  last_wait_s_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (!missing.empty() && !options_.find_unused_parameters) {
    std::string names;
    for (size_t i = 0; i < missing.size() && i < 8; ++i) names += (i ? ", " : "") + names_[missing[i]];
    if (missing.size() > 8) names += ", ... (" + std::to_string(missing.size()) + " in all)";
    throw std::runtime_error("rank " + std::to_string(comm_.rank()) + ", " + comm_.context() +
                             ": parameter(s) got no gradient: " + names +
                             ". Freeze them (requires_grad false) or set distributed.find_unused_parameters: true");
  }
  for (size_t k = 0; k < params_.size(); ++k) {
    if (options_.find_unused_parameters && used.data_ptr<int32_t>()[k] == 0) continue;  // unused everywhere
    const Bucket& b = buckets_[bucket_of_[k]];
    at::Tensor avg = b.flat.narrow(0, b.offsets[slot_in_bucket_[k]], params_[k].numel()).view(params_[k].sizes());
    at::Tensor& g = params_[k].mutable_grad();
    if (g.defined()) {
      g.copy_(avg);
    } else {
      g = avg.clone();
    }
  }
}

}  // namespace imprint
