// The NCCL backend for CUDA tensors. Built only with a CUDA libtorch and NCCL (IMPRINT_WITH_NCCL); compiled
// in CI against the PyPI wheel's libtorch (.ci/check-cuda-torch.sh), run only where a GPU is.
//
// Ordering: each collective runs on the communicator's own stream. It first waits (event) for the work
// already queued on the caller's current stream, so it sees the finished gradient; wait() then makes the
// caller's current stream wait for the collective. The tensor's memory is recorded on the NCCL stream so
// the caching allocator does not hand it out while NCCL still uses it.
// Timeouts: wait() polls the completion event against distributed.timeout_s and NCCL's async error state;
// on timeout the NCCL communicator is aborted (so no kernel spins forever) and CollectiveError is thrown.
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAStream.h>
#include <nccl.h>

#include <chrono>
#include <thread>

#include "collectives/communicator.h"
#include "core/log.h"

namespace imprint {
namespace {

using Clock = std::chrono::steady_clock;

ncclDataType_t nccl_type(const at::Tensor& t) {
  switch (t.scalar_type()) {
    case at::kFloat: return ncclFloat32;
    case at::kHalf: return ncclFloat16;
    case at::kBFloat16: return ncclBfloat16;
    case at::kDouble: return ncclFloat64;
    case at::kLong: return ncclInt64;
    case at::kInt: return ncclInt32;
    case at::kByte: return ncclUint8;
    default: throw CollectiveError(std::string("nccl backend: unsupported dtype ") + at::toString(t.scalar_type()));
  }
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return ncclSum;
    case ReduceOp::Average: return ncclAvg;
    case ReduceOp::Max: return ncclMax;
  }
  return ncclSum;
}

void check(ncclResult_t r, const std::string& what) {
  if (r != ncclSuccess) throw CollectiveError("nccl backend: " + what + ": " + ncclGetErrorString(r));
}

class NcclCommunicator;

class NcclWork final : public Work {
 public:
  NcclWork(NcclCommunicator* comm, std::shared_ptr<at::cuda::CUDAEvent> done, std::string what)
      : comm_(comm), done_(std::move(done)), what_(std::move(what)) {}
  void wait() override;

 private:
  NcclCommunicator* comm_;
  std::shared_ptr<at::cuda::CUDAEvent> done_;
  std::string what_;
  bool waited_ = false;
};

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(const CommOptions& options, std::unique_ptr<Communicator> bootstrap, int local_rank)
      : options_(options),
        bootstrap_(std::move(bootstrap)),
        rank_(bootstrap_->rank()),
        size_(bootstrap_->size()),
        device_(local_rank) {
    c10::cuda::set_device(static_cast<c10::DeviceIndex>(device_));
    stream_ = std::make_unique<c10::cuda::CUDAStream>(c10::cuda::getStreamFromPool(/*isHighPriority=*/true, device_));
    ncclUniqueId id;
    if (rank_ == 0) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    at::Tensor bytes = at::from_blob(&id, {static_cast<int64_t>(sizeof(id))}, at::kByte).clone();
    bootstrap_->broadcast_(bytes, 0);  // the unique id travels over MPI
    std::memcpy(&id, bytes.data_ptr(), sizeof(id));
    check(ncclCommInitRank(&comm_, size_, id, rank_), "ncclCommInitRank");
  }
  ~NcclCommunicator() override {
    if (comm_) ncclCommDestroy(comm_);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "nccl"; }
  Communicator& host() override { return *bootstrap_; }

  std::shared_ptr<Work> allreduce_async_(at::Tensor& t, ReduceOp op) override {
    auto done = launch(t, "allreduce", [&](cudaStream_t s) {
      return ncclAllReduce(t.data_ptr(), t.data_ptr(), t.numel(), nccl_type(t), nccl_op(op), comm_, s);
    });
    return std::make_shared<NcclWork>(this, done, "allreduce");
  }
  at::Tensor allgather(const at::Tensor& in) override {
    at::Tensor t = in.contiguous();
    std::vector<int64_t> shape = t.sizes().vec();
    if (shape.empty()) shape.push_back(1);
    shape[0] *= size_;
    at::Tensor out = at::empty(shape, t.options());
    auto done = launch(out, "allgather", [&](cudaStream_t s) {
      return ncclAllGather(t.data_ptr(), out.data_ptr(), t.numel(), nccl_type(t), comm_, s);
    });
    NcclWork(this, done, "allgather").wait();
    return out;
  }
  void broadcast_(at::Tensor& t, int root) override {
    auto done = launch(t, "broadcast", [&](cudaStream_t s) {
      return ncclBroadcast(t.data_ptr(), t.data_ptr(), t.numel(), nccl_type(t), root, comm_, s);
    });
    NcclWork(this, done, "broadcast").wait();
  }
  at::Tensor reduce_scatter(const at::Tensor& in, ReduceOp op) override {
    at::Tensor t = in.contiguous();
    if (t.dim() == 0 || t.size(0) % size_ != 0)
      throw CollectiveError("reduce_scatter: dim 0 must be a multiple of the world size");
    std::vector<int64_t> shape = t.sizes().vec();
    shape[0] /= size_;
    at::Tensor out = at::empty(shape, t.options());
    auto done = launch(t, "reduce_scatter", [&](cudaStream_t s) {
      return ncclReduceScatter(t.data_ptr(), out.data_ptr(), out.numel(), nccl_type(t), nccl_op(op), comm_, s);
    });
    NcclWork(this, done, "reduce_scatter").wait();
    return out;
  }
  void barrier() override {
    at::Tensor one = at::ones({1}, at::TensorOptions().dtype(at::kFloat).device(at::kCUDA, device_));
    allreduce_(one, ReduceOp::Sum);
  }

  void wait_for(at::cuda::CUDAEvent& done, const std::string& what) {
    const auto start = Clock::now();
    while (!done.query()) {
      ncclResult_t async = ncclSuccess;
      ncclCommGetAsyncError(comm_, &async);
      if (async != ncclSuccess) {
        ncclCommAbort(comm_);
        comm_ = nullptr;
        throw CollectiveError("rank " + std::to_string(rank_) + ": " + what + " (" + context_ +
                              ") failed: " + ncclGetErrorString(async));
      }
      const double waited = std::chrono::duration<double>(Clock::now() - start).count();
      if (options_.timeout_s > 0 && waited > options_.timeout_s) {
        ncclCommAbort(comm_);
        comm_ = nullptr;
        throw CollectiveError("rank " + std::to_string(rank_) + ": " + what + " (" + context_ +
                              ") did not finish within " + log::strf("%g", options_.timeout_s) +
                              " s (distributed.timeout_s); a rank stalled or died");
      }
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    done.block(c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device_)));
  }

 private:
  template <typename F>
  std::shared_ptr<at::cuda::CUDAEvent> launch(const at::Tensor& t, const char* what, F&& enqueue) {
    if (!t.is_cuda() || !t.is_contiguous())
      throw CollectiveError(std::string("nccl backend: ") + what + " needs a contiguous CUDA tensor");
    if (!comm_) throw CollectiveError("nccl backend: the communicator was aborted after an earlier failure");
    at::cuda::CUDAEvent ready;
    ready.record(c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device_)));
    ready.block(*stream_);
    c10::cuda::CUDACachingAllocator::recordStream(t.storage().data_ptr(), *stream_);
    check(enqueue(stream_->stream()), what);
    auto done = std::make_shared<at::cuda::CUDAEvent>();
    done->record(*stream_);
    return done;
  }

  CommOptions options_;
  std::unique_ptr<Communicator> bootstrap_;  // destroyed (MPI finalised) after the NCCL communicator
  int rank_, size_, device_;
  ncclComm_t comm_ = nullptr;
  std::unique_ptr<c10::cuda::CUDAStream> stream_;
};

void NcclWork::wait() {
  if (waited_) return;
  comm_->wait_for(*done_, what_);
  waited_ = true;
}

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(const CommOptions& options,
                                                     std::unique_ptr<Communicator> bootstrap, int local_rank) {
  return std::make_unique<NcclCommunicator>(options, std::move(bootstrap), local_rank);
}

}  // namespace imprint
