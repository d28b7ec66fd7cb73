// DDP-style gradient averaging that overlaps communication with backward.
//
// Parameters are laid into buckets in reverse registration order (roughly the order backward produces
// their gradients): a small first bucket so communication starts early, then buckets of `bucket_bytes`.
// An autograd hook on each parameter copies its gradient into its bucket; a bucket whose gradients are all
// in is all-reduced asynchronously while backward goes on. Buckets are launched in index order on every
// rank, so all ranks issue the same collectives in the same order. finalize() launches what is left,
// waits, and writes the averaged gradients back to `.grad`. Parameters may be float32, bfloat16 or float16:
// buckets are float32 either way (options.wire says what the all-reduce moves).
#pragma once
#include <ATen/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "collectives/communicator.h"

namespace imprint {

class GradientReducer {
 public:
  struct Options {
    int64_t bucket_bytes = 25 << 20;
    int64_t first_bucket_bytes = 1 << 20;
    // false: a parameter that gets no gradient in a step is an error naming it (on every rank that saw it).
    // true: each step also all-reduces a "used" flag per parameter; a parameter no rank used keeps an
    // undefined gradient (the optimizer skips it), one used somewhere gets the average with zeros elsewhere.
    bool find_unused_parameters = false;
    // What travels: float32, or bfloat16 (DDP's bf16_compress_hook): each bucket is rounded to bfloat16 for
    // the all-reduce and widened back, halving the bytes on the wire.
    at::ScalarType wire = at::kFloat;
  };

  // `names` label parameters in error messages. Parameters with requires_grad false are left out.
  GradientReducer(std::vector<at::Tensor> params, std::vector<std::string> names, Communicator& comm,
                  const Options& options);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // Copies rank 0's values into `tensors` on every rank (parameters and buffers at start-up).
  static void broadcast_from_rank0(Communicator& comm, std::vector<at::Tensor> tensors);

  // Before each backward. sync=false (gradient accumulation, all micro-batches but the last): hooks do
  // nothing and gradients accumulate in .grad locally. sync=true: the hooks reduce the accumulated total.
  void prepare(bool sync);
  // After the last backward of a step: every rank's averaged gradient is in .grad. Throws (naming the
  // parameters) when find_unused_parameters is false and some parameter got no gradient.
  void finalize();

  size_t bucket_count() const { return buckets_.size(); }
  // Seconds finalize() spent waiting for communication in the last step (exposed communication).
  double last_wait_seconds() const { return last_wait_s_; }

 private:
  struct Bucket {
    at::Tensor wire;             // the bucket in options.wire while its all-reduce runs (compression only)
    std::vector<size_t> params;  // indices into params_
    std::vector<int64_t> offsets;
    at::Tensor flat;  // float32 buffer all-reduced as one tensor
    size_t ready = 0;
    bool launched = false;
    std::shared_ptr<Work> work;
  };
  void on_grad(size_t param, const at::Tensor& grad);
  void launch_ready_buckets();

  std::vector<at::Tensor> params_;
  std::vector<std::string> names_;
  Communicator& comm_;
  Options options_;
  std::vector<Bucket> buckets_;
  std::vector<size_t> bucket_of_, slot_in_bucket_;
  std::vector<char> got_grad_;
  size_t next_to_launch_ = 0;
  bool sync_ = true;
  bool armed_ = false;
  double last_wait_s_ = 0;
  std::shared_ptr<bool> alive_;  // hooks outlive this object in the autograd graph: they check it
};

}  // namespace imprint
