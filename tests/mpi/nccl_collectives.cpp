// The NCCL backend under mpirun, nccl-tests style: every collective on data whose exact result is known
// (small integers, exact in every dtype used), checked element by element on every rank; and its failure
// contract. One GPU per rank (NCCL refuses two ranks on one device): with fewer GPUs than ranks, or none,
// it prints SKIPPED with the reason and exits 77 (ctest shows the test as skipped).
//   nccl_collectives check   allreduce (sum/avg/max; float32, bfloat16, float16, int64), allgather,
//                            reduce_scatter, broadcast, async all-reduce ordered on the stream, barrier
//   nccl_collectives stall   rank 1 never enters the second all-reduce: every rank must end (exit 4) within
//                            the 3 s timeout plus a few seconds, the message naming the rank and collective
#include <ATen/ATen.h>
#include <c10/cuda/CUDAFunctions.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "collectives/communicator.h"
#include "core/log.h"

using namespace imprint;

namespace {

int failures = 0;

void expect_equal(const at::Tensor& got, const at::Tensor& want, const std::string& what, int rank) {
  const at::Tensor g = got.to(at::kCPU).to(at::kDouble), w = want.to(at::kCPU).to(at::kDouble);
  if (g.sizes() != w.sizes() || !at::equal(g, w)) {
    ++failures;
    std::fprintf(stderr, "rank %d: FAIL %s: max |got - want| = %g\n", rank, what.c_str(),
                 g.sizes() == w.sizes() ? (g - w).abs().max().item<double>() : -1.0);
  } else {
    std::printf("rank %d: ok   %s\n", rank, what.c_str());
  }
}

void check_all(Communicator& comm) {
  const int r = comm.rank(), n = comm.size();
  const auto cuda = at::TensorOptions().device(at::kCUDA, c10::cuda::current_device());
  const int64_t len = 1 << 20;  // 1 Mi elements: several NCCL chunks
  const at::Tensor index = at::arange(len, at::TensorOptions().dtype(at::kDouble)).remainder(7);
  // rank r contributes (r + 1) * (i mod 7): sum = n(n+1)/2 * (i mod 7), max = n * (i mod 7)
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16, at::kHalf, at::kLong}) {
    const std::string ty = at::toString(dtype);
    at::Tensor x = ((r + 1) * index).to(dtype).to(cuda.device());
    comm.allreduce_(x, ReduceOp::Sum);
    expect_equal(x, (n * (n + 1) / 2) * index, "allreduce sum " + ty, r);
    // NCCL averages floats by pre-multiplying with 1/n: exact for a power-of-two world only.
    if (dtype != at::kLong && (n & (n - 1)) == 0) {
      at::Tensor y = ((r + 1) * 2 * index).to(dtype).to(cuda.device());
      comm.allreduce_(y, ReduceOp::Average);  // mean of 2(r+1)k over ranks = (n+1)k
      expect_equal(y, (n + 1) * index, "allreduce avg " + ty, r);
    }
    at::Tensor z = ((r + 1) * index).to(dtype).to(cuda.device());
    comm.allreduce_(z, ReduceOp::Max);
    expect_equal(z, n * index, "allreduce max " + ty, r);
  }
  // allgather: rank r sends [r*100 + j]; everyone receives them in rank order.
  at::Tensor mine = (at::arange(100, cuda.dtype(at::kFloat)) + 100 * r).reshape({4, 25});
  expect_equal(comm.allgather(mine), at::arange(100 * n, at::kFloat).reshape({4 * n, 25}), "allgather float32", r);
  // reduce_scatter: everyone sends [n * 3, 5] of (row + 1); rank r gets rows 3r..3r+2 summed over ranks.
  at::Tensor rows = (at::arange(3 * n, cuda.dtype(at::kFloat)) + 1).reshape({3 * n, 1}).repeat({1, 5});
  at::Tensor want_rows = n * (at::arange(3 * r, 3 * r + 3, at::kFloat) + 1).reshape({3, 1}).repeat({1, 5});
  expect_equal(comm.reduce_scatter(rows, ReduceOp::Sum), want_rows, "reduce_scatter sum float32", r);
  // broadcast from the last rank.
  at::Tensor b = at::full({333}, static_cast<double>(r), cuda.dtype(at::kFloat));
  comm.broadcast_(b, n - 1);
  expect_equal(b, at::full({333}, static_cast<double>(n - 1), at::kFloat), "broadcast from rank n-1", r);
  // Stream order without a host wait: queue work after an async all-reduce, wait() on the stream, then
  // read once. A missing stream dependency would read the tensor before the all-reduce wrote it.
  at::Tensor g = at::full({len}, 1.0, cuda.dtype(at::kFloat)) * (r + 1);
  auto work = comm.allreduce_async_(g, ReduceOp::Sum);
  work->wait();
  at::Tensor doubled = g * 2;
  expect_equal(doubled, at::full({len}, static_cast<double>(n * (n + 1)), at::kFloat), "async allreduce, stream wait",
               r);
  comm.barrier();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "check";
  CommOptions o;
  o.timeout_s = mode == "stall" ? 3 : 60;
  auto mpi = make_mpi_communicator(o);
  log::set_rank(mpi->rank(), mpi->size());
  const int gpus = static_cast<int>(c10::cuda::device_count());
  const int ranks = mpi->size();
  if (gpus == 0 || ranks > gpus || (mode == "stall" && ranks < 2)) {
    if (mpi->rank() == 0)
      std::printf("SKIPPED: nccl_collectives %s with %d rank(s) needs %s; this machine has %d GPU(s)\n", mode.c_str(),
                  ranks, mode == "stall" ? "2 or more ranks, one GPU each" : "one GPU per rank", gpus);
    return 77;
  }
  const int local = mpi->rank();  // single node: the local rank is the rank
  auto comm = make_nccl_communicator(o, std::move(mpi), local);
  if (mode == "stall") {
    at::Tensor t = at::ones({1024}, at::TensorOptions().device(at::kCUDA, c10::cuda::current_device()));
    comm->set_context("step 7");
    comm->allreduce_(t, ReduceOp::Sum);
    if (comm->rank() == 1) std::this_thread::sleep_for(std::chrono::seconds(60));
    comm->allreduce_(t, ReduceOp::Sum);
    (void)t.sum().item<float>();  // the host waits here; the watchdog must end the job first
    log::error("the stalled collective completed: the stall was not caught");
    return 0;
  }
  try {
    check_all(*comm);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rank %d: FAIL: %s\n", comm->rank(), e.what());
    ++failures;
  }
  std::printf("rank %d: %s (%d GPU(s) visible, %d rank(s))\n", comm->rank(), failures ? "FAILED" : "PASSED", gpus,
              comm->size());
  return failures ? 1 : 0;
}
