// Fused CPU AdamW against torch::optim::AdamW on the same parameters, and the fused step's memory traffic
// against this machine's STREAM-triad bandwidth, all in one run.
//
//   ./build/bench/optimizer_bench [--benchmark_min_time=1]
//
// Bytes the fused step moves per parameter: the gradient-norm pass reads g (4 B; it also decides whether a
// non-finite step is skipped), the update pass reads p, g, m, v and writes p, m, v (28 B): 32 B in all.
// Triad a = b + s * c moves 12 B per element (STREAM's convention: write-allocate traffic not counted).
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <string>
#include <thread>

#include "trainer/optim/optimizer.h"

namespace {

constexpr double kFusedBytesPerParam = 32.0;
constexpr double kTriadBytesPerElem = 12.0;

struct Params {
  torch::Tensor p;
  explicit Params(int64_t n) {
    torch::manual_seed(0);
    p = torch::randn({n}).set_requires_grad(true);
    p.mutable_grad() = torch::randn({n}) * 0.01;
  }
};

void run_optimizer(benchmark::State& state, bool fused) {
  const int64_t n = state.range(0);
  Params x(n);
  std::vector<imprint::ParamGroup> groups{imprint::ParamGroup{{x.p}, 0.01}};
  auto opt = fused ? imprint::make_fused_optimizer(groups, {}) : imprint::make_torch_adamw(groups, {});
  opt->step(1e-3, 0.0);  // allocate state outside the timed loop
  for (auto _ : state) opt->step(1e-3, 0.0);
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n * kFusedBytesPerParam));
}

void BM_FusedAdamW(benchmark::State& state) { run_optimizer(state, true); }
void BM_TorchAdamW(benchmark::State& state) { run_optimizer(state, false); }

void BM_StreamTriad(benchmark::State& state) {
  const int64_t n = state.range(0);
  std::vector<float> a(n), b(n, 1.0f), c(n, 2.0f);
  const float s = 3.0f;
  for (auto _ : state) {
    at::parallel_for(0, n, 1 << 16, [&](int64_t lo, int64_t hi) {
      float* __restrict pa = a.data();
      const float* __restrict pb = b.data();
      const float* __restrict pc = c.data();
      for (int64_t i = lo; i < hi; ++i) pa[i] = pb[i] + s * pc[i];
    });
    benchmark::DoNotOptimize(a.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n * kTriadBytesPerElem));
}

BENCHMARK(BM_FusedAdamW)->Arg(10'000'000)->Arg(100'000'000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_TorchAdamW)->Arg(10'000'000)->Arg(100'000'000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_StreamTriad)->Arg(10'000'000)->Arg(100'000'000)->Unit(benchmark::kMillisecond)->UseRealTime();

// Prints the console table as usual and remembers each benchmark's time per iteration for the summary: the
// median when --benchmark_repetitions gives aggregates, else the single run.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& r : runs) {
      const double s = r.GetAdjustedRealTime() / 1e3;  // ms -> s
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name == "median") {
        seconds_[r.run_name.str()] = s;
        medians_[r.run_name.str()] = true;
      } else if (r.run_type == Run::RT_Iteration && !medians_[r.run_name.str()]) {
        seconds_[r.run_name.str()] = s;
      }
    }
  }
  double seconds(const std::string& name) const {
    auto it = seconds_.find(name);
    return it == seconds_.end() ? 0 : it->second;
  }

 private:
  std::map<std::string, double> seconds_;
  std::map<std::string, bool> medians_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  // Debian's libtorch starts with one OpenMP thread here whatever the core count: use every core, as
  // imprint train does with train.threads: 0.
  at::set_num_threads(static_cast<int>(std::thread::hardware_concurrency()));
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  std::printf("\n%-12s %14s %14s %12s %16s %16s %12s\n", "params", "fused ms", "torch ms", "speedup", "fused GB/s",
              "triad GB/s", "of triad");
  for (const char* n : {"10000000", "100000000"}) {
    const double fused = reporter.seconds(std::string("BM_FusedAdamW/") + n + "/real_time");
    const double torch_s = reporter.seconds(std::string("BM_TorchAdamW/") + n + "/real_time");
    const double triad = reporter.seconds(std::string("BM_StreamTriad/") + n + "/real_time");
    if (fused <= 0 || torch_s <= 0 || triad <= 0) continue;  // filtered out
    const double count = std::stod(n);
    const double fused_bw = count * kFusedBytesPerParam / fused / 1e9;
    const double triad_bw = count * kTriadBytesPerElem / triad / 1e9;
    std::printf("%-12s %14.2f %14.2f %11.2fx %16.2f %16.2f %11.0f%%\n", n, fused * 1e3, torch_s * 1e3, torch_s / fused,
                fused_bw, triad_bw, 100 * fused_bw / triad_bw);
  }
  std::printf("threads: %d (at::get_num_threads)\n", at::get_num_threads());
  benchmark::Shutdown();
  return 0;
}
