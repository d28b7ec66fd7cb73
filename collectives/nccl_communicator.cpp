// The NCCL backend for CUDA tensors. Built only with a CUDA libtorch and NCCL (IMPRINT_WITH_NCCL); compiled
// in CI against the PyPI wheel's libtorch (.ci/check-cuda-torch.sh), run only where a GPU is.
//
// Stream ordering, no host synchronisation (c10d's ProcessGroupNCCL does the same): each collective runs on
// the communicator's own stream after an event recorded on the caller's current stream (so it sees the
// finished gradient); wait() only makes the caller's current stream wait on the collective's completion
// event. The tensors' memory is recorded on the NCCL stream so the caching allocator does not hand it out
// while NCCL still uses it.
//
// Failure contract (the CPU path's): a watchdog thread, not the caller, watches every collective in flight.
// When one does not complete within distributed.timeout_s, or NCCL reports an asynchronous error, it logs
// which collective on which rank, aborts the NCCL communicator (ncclCommAbort: no kernel spins forever) and
// ends the job (exit 4) — nothing on that path waits on a peer. ncclCommInitRank is guarded the same way.
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <nccl.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <sstream>
#include <thread>

#include "collectives/bootstrap.h"
#include "collectives/communicator.h"
#include "collectives/watchdog.h"
#include "core/cuda_check.h"
#include "core/exit_codes.h"
#include "core/log.h"

namespace imprint {
namespace {

using Clock = std::chrono::steady_clock;

ncclDataType_t nccl_type(const at::Tensor& t) {
  switch (t.scalar_type()) {
    case at::kFloat:
      return ncclFloat32;
    case at::kHalf:
      return ncclFloat16;
    case at::kBFloat16:
      return ncclBfloat16;
    case at::kDouble:
      return ncclFloat64;
    case at::kLong:
      return ncclInt64;
    case at::kInt:
      return ncclInt32;
    case at::kByte:
      return ncclUint8;
    default:
      throw CollectiveError(std::string("nccl backend: unsupported dtype ") + at::toString(t.scalar_type()));
  }
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum:
      return ncclSum;
    case ReduceOp::Average:
      return ncclAvg;
    case ReduceOp::Max:
      return ncclMax;
  }
  return ncclSum;
}

void nccl_check(ncclResult_t r, const char* call, const char* file, int line) {
  if (r != ncclSuccess)
    throw CollectiveError(
        log::strf("rank %d: %s:%d: %s failed: %s", log::rank(), file, line, call, ncclGetErrorString(r)));
}
#define IMPRINT_NCCL_CHECK(call) nccl_check((call), #call, __FILE__, __LINE__)

std::string describe(const char* what, const at::Tensor& t) { return std::string(what) + " of " + describe_tensor(t); }

class NcclWork final : public Work {
 public:
  explicit NcclWork(std::shared_ptr<at::cuda::CUDAEvent> done, at::Device device)
      : done_(std::move(done)), device_(device) {}
  // Stream-ordered: the caller's current stream waits for the collective; the host does not.
  void wait() override {
    if (waited_) return;
    done_->block(c10::cuda::getCurrentCUDAStream(device_.index()));
    waited_ = true;
  }

 private:
  std::shared_ptr<at::cuda::CUDAEvent> done_;
  at::Device device_;
  bool waited_ = false;
};

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(const CommOptions& options, std::unique_ptr<Communicator> bootstrap, int local_rank)
      : options_(options), bootstrap_(std::move(bootstrap)), rank_(bootstrap_->rank()), size_(bootstrap_->size()) {
    device_ = at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(
                                        gpu_for_local_rank(local_rank, static_cast<int>(c10::cuda::device_count()))));
    c10::cuda::set_device(device_.index());
    stream_ =
        std::make_unique<c10::cuda::CUDAStream>(c10::cuda::getStreamFromPool(/*isHighPriority=*/true, device_.index()));
    ncclUniqueId id;
    if (rank_ == 0) IMPRINT_NCCL_CHECK(ncclGetUniqueId(&id));
    at::Tensor bytes = at::from_blob(&id, {static_cast<int64_t>(sizeof(id))}, at::kByte).clone();
    bootstrap_->broadcast_(bytes, 0);  // the unique id travels over MPI (under its own watchdog)
    std::memcpy(&id, bytes.data_ptr(), sizeof(id));
    {
      // Blocks until every rank has joined: a rank that never does must not hold the others forever.
      Watchdog init_guard;
      WatchdogScope scope(
          init_guard, options_.timeout_s,
          [this] {
            return log::strf(
                "rank %d: NCCL start-up (ncclCommInitRank on %s) did not finish within %g s "
                "(distributed.timeout_s): a rank did not join",
                rank_, device_.str().c_str(), options_.timeout_s);
          },
          kExitCollective);
      IMPRINT_NCCL_CHECK(ncclCommInitRank(&comm_, size_, id, rank_));
    }
    watcher_ = std::thread([this] { watch(); });
  }
  ~NcclCommunicator() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (watcher_.joinable()) watcher_.join();
    if (comm_) ncclCommDestroy(comm_);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "nccl"; }
  Communicator& host() override { return *bootstrap_; }

  std::shared_ptr<Work> allreduce_async_(at::Tensor& t, ReduceOp op) override {
    auto done = launch({t}, describe("allreduce", t), [&](cudaStream_t s) {
      return ncclAllReduce(t.data_ptr(), t.data_ptr(), t.numel(), nccl_type(t), nccl_op(op), comm_, s);
    });
    return std::make_shared<NcclWork>(done, device_);
  }
  at::Tensor allgather(const at::Tensor& in) override {
    at::Tensor t = in.contiguous();
    std::vector<int64_t> shape = t.sizes().vec();
    if (shape.empty()) shape.push_back(1);
    shape[0] *= size_;
    at::Tensor out = at::empty(shape, t.options());
    auto done = launch({t, out}, describe("allgather", t), [&](cudaStream_t s) {
      return ncclAllGather(t.data_ptr(), out.data_ptr(), t.numel(), nccl_type(t), comm_, s);
    });
    NcclWork(done, device_).wait();
    return out;
  }
  void broadcast_(at::Tensor& t, int root) override {
    auto done = launch({t}, describe("broadcast", t), [&](cudaStream_t s) {
      return ncclBroadcast(t.data_ptr(), t.data_ptr(), t.numel(), nccl_type(t), root, comm_, s);
    });
    NcclWork(done, device_).wait();
  }
  at::Tensor reduce_scatter(const at::Tensor& in, ReduceOp op) override {
    at::Tensor t = in.contiguous();
    if (t.dim() == 0 || t.size(0) % size_ != 0)
      throw CollectiveError("reduce_scatter: dim 0 of " + describe("reduce_scatter", t) +
                            " must be a multiple of the world size (" + std::to_string(size_) + ")");
    std::vector<int64_t> shape = t.sizes().vec();
    shape[0] /= size_;
    at::Tensor out = at::empty(shape, t.options());
    auto done = launch({t, out}, describe("reduce_scatter", t), [&](cudaStream_t s) {
      return ncclReduceScatter(t.data_ptr(), out.data_ptr(), out.numel(), nccl_type(t), nccl_op(op), comm_, s);
    });
    NcclWork(done, device_).wait();
    return out;
  }
  // A host-level barrier (not in the steady state): the all-reduce, then the host waits for it — under the
  // watchdog, so a missing peer ends the job instead of hanging it.
  void barrier() override {
    c10::cuda::CUDAGuard guard(device_);
    at::Tensor one = at::ones({1}, at::TensorOptions().dtype(at::kFloat).device(device_));
    allreduce_(one, ReduceOp::Sum);
    IMPRINT_CUDA_CHECK(cudaStreamSynchronize(c10::cuda::getCurrentCUDAStream(device_.index())));
  }

 private:
  struct InFlight {
    std::shared_ptr<at::cuda::CUDAEvent> done;
    std::string what;
    Clock::time_point start;
  };

  template <typename F>
  std::shared_ptr<at::cuda::CUDAEvent> launch(std::initializer_list<at::Tensor> tensors, std::string what,
                                              F&& enqueue) {
    for (const at::Tensor& t : tensors)
      if (!t.is_cuda() || t.device() != device_ || !t.is_contiguous())
        throw CollectiveError(log::strf("rank %d: nccl backend: %s needs contiguous tensors on %s, got one on %s",
                                        rank_, what.c_str(), device_.str().c_str(), t.device().str().c_str()));
    if (aborted_.load()) throw CollectiveError("nccl backend: the communicator was aborted after an earlier failure");
    c10::cuda::CUDAGuard guard(device_);
    const int64_t number = ++collectives_;
    at::cuda::CUDAEvent ready;
    ready.record(c10::cuda::getCurrentCUDAStream(device_.index()));
    ready.block(*stream_);
    for (const at::Tensor& t : tensors) c10::cuda::CUDACachingAllocator::recordStream(t.storage().data_ptr(), *stream_);
    nccl_check(enqueue(stream_->stream()), what.c_str(), __FILE__, __LINE__);
    auto done = std::make_shared<at::cuda::CUDAEvent>();
    done->record(*stream_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      in_flight_.push_back({done,
                            log::strf("%s (collective #%lld, %s)", what.c_str(), (long long)number, context_.c_str()),
                            Clock::now()});
    }
    cv_.notify_all();
    return done;
  }

  // The watchdog thread: collectives on one stream complete in order, so only the oldest is watched.
  void watch() {
    c10::cuda::set_device(device_.index());
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait_for(lock, std::chrono::milliseconds(2), [&] { return stopping_ || !in_flight_.empty(); });
      if (stopping_) return;
      if (in_flight_.empty()) continue;
      InFlight oldest = in_flight_.front();
      lock.unlock();
      const bool finished = oldest.done->query();
      ncclResult_t async = ncclSuccess;
      ncclCommGetAsyncError(comm_, &async);
      const double waited = std::chrono::duration<double>(Clock::now() - oldest.start).count();
      if (async != ncclSuccess && async != ncclInProgress)
        fail(log::strf("rank %d: %s failed on %s: %s", rank_, oldest.what.c_str(), device_.str().c_str(),
                       ncclGetErrorString(async)));
      if (!finished && options_.timeout_s > 0 && waited > options_.timeout_s)
        fail(
            log::strf("rank %d: %s did not finish within %g s (distributed.timeout_s) on %s; a rank stalled or "
                      "died",
                      rank_, oldest.what.c_str(), options_.timeout_s, device_.str().c_str()));
      lock.lock();
      if (finished && !in_flight_.empty() && in_flight_.front().done == oldest.done) in_flight_.pop_front();
    }
  }

  [[noreturn]] void fail(const std::string& message) {
    aborted_ = true;
    log::error(message);
    ncclCommAbort(comm_);  // frees the GPU from kernels that wait for a peer; waits on no peer itself
    abort_job(kExitCollective);
  }

  CommOptions options_;
  std::unique_ptr<Communicator> bootstrap_;  // destroyed (MPI finalised) after the NCCL communicator
  int rank_, size_;
  at::Device device_{at::kCUDA};
  ncclComm_t comm_ = nullptr;
  std::unique_ptr<c10::cuda::CUDAStream> stream_;
  std::atomic<int64_t> collectives_{0};
  std::atomic<bool> aborted_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<InFlight> in_flight_;
  bool stopping_ = false;
  std::thread watcher_;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(const CommOptions& options,
                                                     std::unique_ptr<Communicator> bootstrap, int local_rank) {
  return std::make_unique<NcclCommunicator>(options, std::move(bootstrap), local_rank);
}

}  // namespace imprint
