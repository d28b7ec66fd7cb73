// All-reduce bandwidth through imprint's NCCL communicator against raw ncclAllReduce on its own NCCL
// communicator over the same GPUs, in the same run, with nccl-tests' definitions:
//   algbw = bytes / time,   busbw = algbw * 2 (n - 1) / n   (n ranks; 0 for one rank, so one rank reports
//   algbw only: with one GPU this measures the per-call cost of the path, not the interconnect).
//
//   mpirun --allow-run-as-root -np <GPUs> ./build-gpu/bench/nccl_allreduce_bench [max_mb=1024]
//
// One rank per GPU. Each size: 5 warm-ups, then the median of 7 CUDA-event-timed batches of 20 calls, the
// slowest rank's. imprint's calls are allreduce_async_ + wait() (stream-ordered, as the gradient reducer uses
// them); raw calls are ncclAllReduce on a stream of their own.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAStream.h>
#include <nccl.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

#include "collectives/communicator.h"

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double time_ms(imprint::Communicator& host, const std::function<void()>& f, c10::cuda::CUDAStream stream) {
  for (int i = 0; i < 5; ++i) f();
  std::vector<double> batches;
  for (int b = 0; b < 7; ++b) {
    at::cuda::CUDAEvent start(cudaEventDefault), stop(cudaEventDefault);
    start.record(stream);
    for (int i = 0; i < 20; ++i) f();
    stop.record(stream);
    stop.synchronize();
    batches.push_back(start.elapsed_time(stop) / 20);
  }
  at::Tensor ms = at::full({1}, median(batches), at::kDouble);
  host.allreduce_(ms, imprint::ReduceOp::Max);
  return ms.item<double>();
}

#define CHECK_NCCL(call)                                                                          \
  do {                                                                                            \
    ncclResult_t r_ = (call);                                                                     \
    if (r_ != ncclSuccess) {                                                                      \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, ncclGetErrorString(r_)); \
      imprint::abort_job(1);                                                                      \
    }                                                                                             \
  } while (0)

}  // namespace

int main(int argc, char** argv) {
  using namespace imprint;
  const int64_t max_mb = argc > 1 ? std::atoll(argv[1]) : 1024;
  CommOptions o;
  o.timeout_s = 120;
  auto mpi = make_mpi_communicator(o);
  const int rank = mpi->rank(), n = mpi->size(), gpus = static_cast<int>(c10::cuda::device_count());
  if (gpus == 0 || n > gpus) {
    if (rank == 0) std::printf("nccl_allreduce_bench: SKIPPED: %d rank(s) need one GPU each; %d visible\n", n, gpus);
    return 77;
  }
  // Raw NCCL on the same device, its own communicator (id shared over MPI before imprint's takes MPI over).
  ncclUniqueId id;
  if (rank == 0) CHECK_NCCL(ncclGetUniqueId(&id));
  at::Tensor id_bytes = at::from_blob(&id, {static_cast<int64_t>(sizeof(id))}, at::kByte).clone();
  mpi->broadcast_(id_bytes, 0);
  std::memcpy(&id, id_bytes.data_ptr(), sizeof(id));
  auto comm = make_nccl_communicator(o, std::move(mpi), rank);
  const auto device = at::Device(at::kCUDA, c10::cuda::current_device());
  ncclComm_t raw;
  CHECK_NCCL(ncclCommInitRank(&raw, n, id, rank));
  c10::cuda::CUDAStream raw_stream = c10::cuda::getStreamFromPool(true, device.index());
  const c10::cuda::CUDAStream compute = c10::cuda::getCurrentCUDAStream(device.index());
  if (rank == 0) {
    cudaDeviceProp prop{};
    cudaGetDeviceProperties(&prop, device.index());
    int version = 0;
    ncclGetVersion(&version);
    std::printf("# all-reduce (sum, float32), %d rank(s), one %s each; NCCL %d\n", n, prop.name, version);
    std::printf("%12s | %10s %10s %10s | %10s %10s %10s | %8s\n", "bytes", "imprint ms", "algbw GB/s", "busbw GB/s",
                "raw ms", "algbw GB/s", "busbw GB/s", "ratio");
  }
  const double bus = n > 1 ? 2.0 * (n - 1) / n : 0.0;
  std::vector<double> ratios_large;
  for (int64_t bytes = 1 << 20; bytes <= max_mb << 20; bytes *= 4) {
    at::Tensor t = at::ones({bytes / 4}, at::TensorOptions().device(device).dtype(at::kFloat));
    const double ours = time_ms(
        comm->host(), [&] { comm->allreduce_async_(t, ReduceOp::Sum)->wait(); }, compute);
    const double theirs = time_ms(
        comm->host(),
        [&] {
          CHECK_NCCL(ncclAllReduce(t.data_ptr(), t.data_ptr(), t.numel(), ncclFloat32, ncclSum, raw, raw_stream));
        },
        raw_stream);
    const double a1 = bytes / (ours * 1e6), a2 = bytes / (theirs * 1e6);
    if (bytes >= (64 << 20)) ratios_large.push_back(theirs / ours);
    if (rank == 0)
      std::printf("%12lld | %10.3f %10.1f %10.1f | %10.3f %10.1f %10.1f | %7.3fx\n", (long long)bytes, ours, a1,
                  a1 * bus, theirs, a2, a2 * bus, theirs / ours);
  }
  if (rank == 0 && !ratios_large.empty())
    std::printf("# imprint / raw bandwidth, median over sizes >= 64 MiB: %.3fx (target >= 0.95x)\n",
                median(ratios_large));
  ncclCommDestroy(raw);
  return 0;
}
