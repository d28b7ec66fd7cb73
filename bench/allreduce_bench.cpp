// All-reduce bandwidth of imprint's Communicator (MPI backend) against raw MPI_Allreduce on the same buffers,
// in the same run, with nccl-tests' definitions (and, last columns, the same element count as bfloat16:
// what distributed.grad_compression: bf16 sends, and its time over float32's):
//   algbw = bytes / time,   busbw = algbw * 2 (n - 1) / n   (n ranks: the per-link traffic of a ring).
//
//   mpirun --allow-run-as-root --oversubscribe -np 2 ./build/bench/allreduce_bench [max_mb=256]
//
// Each size runs a few warm-up iterations, then enough timed ones for ~0.2 s (at least 5); the time per
// iteration is the median over 5 such batches, and the slowest rank's time counts (as in nccl-tests).
#include <ATen/ATen.h>
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "collectives/communicator.h"

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Seconds per call of f, the slowest rank's.
template <typename F>
double time_per_call(F&& f, int iters) {
  for (int i = 0; i < 2; ++i) f();
  std::vector<double> batches;
  for (int b = 0; b < 5; ++b) {
    MPI_Barrier(MPI_COMM_WORLD);
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) f();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / iters;
    MPI_Allreduce(MPI_IN_PLACE, &s, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    batches.push_back(s);
  }
  return median(batches);
}

}  // namespace

int main(int argc, char** argv) {
  const double max_mb = argc > 1 ? std::atof(argv[1]) : 256;
  imprint::CommOptions options;
  options.timeout_s = 600;
  auto comm = imprint::make_mpi_communicator(options);
  const int n = comm->size();
  const bool lead = comm->rank() == 0;
  if (lead) {
    std::printf("# all-reduce, float32 sum, %d ranks; imprint Communicator (mpi) vs raw MPI_Allreduce\n", n);
    std::printf("# %12s %12s | %10s %9s %9s | %10s %9s %9s | %7s | %10s %8s\n", "size (B)", "count", "time (us)",
                "algbw", "busbw", "time (us)", "algbw", "busbw", "ratio", "bf16 (us)", "f32/bf16");
    std::printf("# %12s %12s | %30s | %30s | %7s | %19s\n", "", "", "imprint       (GB/s)   (GB/s)",
                "raw MPI       (GB/s)   (GB/s)", "raw/imp", "same count, bf16");
  }
  for (double bytes = 1024; bytes <= max_mb * (1 << 20) + 1; bytes *= 4) {
    const int64_t count = static_cast<int64_t>(bytes / 4);
    at::Tensor t = at::ones({count}, at::kFloat);
    std::vector<float> raw(count, 1.0f);
    const int iters = static_cast<int>(std::clamp(0.2 / std::max(bytes / 5e9, 2e-6), 5.0, 2000.0));
    const double ours = time_per_call([&] { comm->allreduce_(t, imprint::ReduceOp::Sum); }, iters);
    const double theirs = time_per_call(
        [&] { MPI_Allreduce(MPI_IN_PLACE, raw.data(), static_cast<int>(count), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD); },
        iters);
    // distributed.grad_compression: bf16 — the same gradients as bfloat16 (half the bytes, user-defined op).
    at::Tensor h = at::ones({count}, at::kBFloat16);
    const double packed = time_per_call([&] { comm->allreduce_(h, imprint::ReduceOp::Sum); }, iters);
    const double factor = 2.0 * (n - 1) / n;
    if (lead)
      std::printf("  %12.0f %12lld | %10.1f %9.2f %9.2f | %10.1f %9.2f %9.2f | %7.2f | %10.1f %8.2f\n", bytes,
                  (long long)count, ours * 1e6, bytes / ours / 1e9, bytes / ours / 1e9 * factor, theirs * 1e6,
                  bytes / theirs / 1e9, bytes / theirs / 1e9 * factor, theirs / ours, packed * 1e6, packed / ours);
  }
  comm.reset();
  return 0;
}
