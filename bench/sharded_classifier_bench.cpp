// Partial FC vs the replicated classifier: memory per rank and step time of the AAM classifier alone
// (normalised embeddings in, loss, backward, the centres' update) for C identities x D dims on N ranks.
//
//   mpirun --allow-run-as-root --oversubscribe -np N ./build/bench/sharded_classifier_bench \
//       [classes=100000,1000000] [dim=256] [rows_per_rank=32] [steps=3] [modes=sharded,replicated] [sample_rate=1]
//
// sharded:    objective.aam.shard_classifier: each rank holds C/N centres + gradient + 2 AdamW moments,
//             scores the all-gathered batch against them; the softmax crosses ranks (2 small all-reduces);
//             with sample_rate < 1 only the batch's classes and that fraction of the others are scored.
// replicated: every rank holds all C centres + gradient + moments, scores its own rows, and the centres'
//             gradient (C x D floats) is all-reduced every step, as the gradient reducer would.
// Reported: classifier state per rank (weights, gradient, moments: 16 bytes per centre element), the peak
// resident memory of the process (whole program, all ranks' max), and the median step time (slowest rank).
// One torch thread per rank; on a machine with fewer cores than ranks, times include the ranks' sharing.
#include <ATen/ATen.h>
#include <mpi.h>
#include <sys/resource.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "collectives/communicator.h"
#include "trainer/objectives/aam_softmax.h"

using namespace imprint;

namespace {

std::vector<int64_t> int_list(const std::string& s) {
  std::vector<int64_t> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(std::stoll(item));
  return out;
}

double peak_rss_gib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  double gib = static_cast<double>(u.ru_maxrss) / (1 << 20);  // KiB -> GiB
  MPI_Allreduce(MPI_IN_PLACE, &gib, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return gib;
}

double slowest(double s) {
  MPI_Allreduce(MPI_IN_PLACE, &s, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const auto classes_list = int_list(argc > 1 ? argv[1] : "100000,1000000");
  const int64_t dim = argc > 2 ? std::stoll(argv[2]) : 256;
  const int64_t rows = argc > 3 ? std::stoll(argv[3]) : 32;
  const int steps = argc > 4 ? std::stoi(argv[4]) : 3;
  const std::string modes = argc > 5 ? argv[5] : "sharded,replicated";
  const double sample_rate = argc > 6 ? std::stod(argv[6]) : 1.0;
  CommOptions options;
  options.timeout_s = 1800;
  auto comm = make_mpi_communicator(options);
  const int n = comm->size(), rank = comm->rank();
  const bool lead = rank == 0;
  at::set_num_threads(1);
  if (lead) {
    std::printf(
        "# AAM classifier, %lld dims, %lld rows per rank (global batch %lld), %d ranks, 1 torch thread each; "
        "sharded sample_rate %g\n",
        (long long)dim, (long long)rows, (long long)rows * n, n, sample_rate);
    std::printf("# %10s %11s | %16s %14s | %14s\n", "classes", "mode", "state/rank (GiB)", "peak RSS (GiB)",
                "step (ms)");
  }
  for (const int64_t classes : classes_list) {
    for (const std::string mode : {"sharded", "replicated"}) {
      if (modes.find(mode) == std::string::npos) continue;
      AamOptions o;
      o.classes = classes;
      o.embed_dim = dim;
      o.shard_classifier = true;  // both modes keep the centres in a ShardedCenters (the replicated one: world 1)
      o.seed = 1;
      const bool sharded = mode == "sharded";
      if (sharded) o.sample_rate = sample_rate;
      AamSoftmax aam(o);
      aam.place(sharded ? rank : 0, sharded ? n : 1, at::Device(at::kCPU));
      auto local = make_local_communicator();
      Communicator& scoring = sharded ? *comm : *local;
      torch::manual_seed(100 + rank);
      const auto e = torch::randn({rows, dim});
      const auto labels = torch::randint(classes, {rows}, torch::kLong);
      std::vector<double> ms;
      for (int s = 0; s < steps + 1; ++s) {  // one warm-up step
        MPI_Barrier(MPI_COMM_WORLD);
        const auto t0 = std::chrono::steady_clock::now();
        const auto x = e.clone().requires_grad_(true);
        aam.sharded_loss(x, labels, s, scoring).backward();
        if (!sharded && n > 1) {
          at::Tensor g = aam.shards()->weight().mutable_grad();
          comm->allreduce_(g, ReduceOp::Average);
        }
        aam.step_shards(1e-3);
        const double t =
            slowest(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        if (s > 0) ms.push_back(t);
      }
      std::sort(ms.begin(), ms.end());
      const double state = 16.0 * static_cast<double>(aam.shards()->weight().numel()) / (1 << 30);
      const double rss = peak_rss_gib();
      if (lead)
        std::printf("  %10lld %11s | %16.3f %14.2f | %14.0f\n", (long long)classes, mode.c_str(), state, rss,
                    ms[ms.size() / 2]);
      std::fflush(stdout);
    }
  }
  return 0;
}
