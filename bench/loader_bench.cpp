// How fast the loader feeds training from shards, with 1, 2 and 4 worker threads, against reading the same
// shard files raw (what `cat shard-*.h5 > /dev/null` does) in the same run.
//
//   ./build/bench/loader_bench [DATASET_DIR] [batches=100]
//
// Without DATASET_DIR it uses (and on first use writes) runs/data/bench-image-64: 1000 synthetic identities x
// 16 images of 64x64. The raw read runs twice and the second (page-cache warm) figure is reported, as the
// loader's reads are warm too after its first pass. samples/s counts decoded samples (2 per pair).
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include "data/prefetch_loader.h"
#include "data/shard_dataset.h"
#include "data/synthetic_export.h"
#include "data/view_sampler.h"

using namespace imprint;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Reads every shard file with a 1 MiB buffer; returns bytes per second.
double raw_read(const Manifest& m, const std::string& dir) {
  std::vector<char> buf(1 << 20);
  int64_t bytes = 0;
  const auto t = Clock::now();
  for (const auto& s : m.shards) {
    std::ifstream in(dir + "/" + s.file, std::ios::binary);
    while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0) bytes += in.gcount();
  }
  return static_cast<double>(bytes) / seconds_since(t);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "runs/data/bench-image-64";
  const int batches = argc > 2 ? std::atoi(argv[2]) : 100;
  if (argc <= 1 && !std::filesystem::exists(dir + "/manifest.json")) {
    SyntheticSpec spec;
    spec.image_size = 64;
    spec.train_identities = 900;
    spec.eval_identities = 100;
    std::fprintf(stderr, "writing %s ...\n", dir.c_str());
    export_synthetic(spec, dir, 64 << 20);
  }
  at::set_num_threads(1);
  const ShardDataset ds(dir, 8000);
  const Manifest& m = ds.manifest();
  const double sample_bytes = m.modality == Modality::Image ? 3.0 * m.image_size * m.image_size : 2.0 * 8000;
  raw_read(m, dir);
  const double raw = raw_read(m, dir);
  std::printf("# dataset %s: %zu shards; raw read (page cache warm) %.0f MB/s\n", dir.c_str(), m.shards.size(),
              raw / 1e6);
  std::printf("# %8s %14s %12s %14s %10s\n", "threads", "samples/s", "MB/s", "ms per batch", "of raw");
  const int64_t batch = 64;
  ViewSampler sampler(ds, 1, batch, 0, 1, /*augment=*/true);
  for (int threads : {1, 2, 4}) {
    PrefetchLoader loader(ds, sampler, threads, 2 * threads + 2, 0);
    loader.next();  // warm-up: threads started, first batches in flight
    const auto t = Clock::now();
    for (int b = 0; b < batches; ++b) loader.next();
    const double s = seconds_since(t);
    const double samples = 2.0 * batch * batches / s;
    std::printf("  %8d %14.0f %12.1f %14.2f %9.1f%%\n", threads, samples, samples * sample_bytes / 1e6,
                1000 * s / batches, 100 * samples * sample_bytes / raw);
  }
  return 0;
}
