#pragma once
#include <ATen/ATen.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "collectives/communicator.h"

namespace imprint::testing {
// The job's communicator, set up by mpi_test_main.cpp (debug checks on, 120 s timeout).
extern Communicator* g_world;

// A run directory every rank agrees on (rank 0's pid), emptied by rank 0. Every rank must call it (a collective).
inline std::string shared_dir(const std::string& name) {
  at::Tensor id = at::full({1}, static_cast<int64_t>(::getpid()), at::kLong);
  g_world->broadcast_(id, 0);
  const auto dir =
      std::filesystem::temp_directory_path() / ("imprint-mpi-" + std::to_string(id.item<int64_t>()) + "-" + name);
  if (g_world->rank() == 0) std::filesystem::remove_all(dir);
  g_world->barrier();
  return dir.string();
}

// |a - b| / |b| (norms over the whole tensor).
inline double rel_diff(const at::Tensor& a, const at::Tensor& b) {
  return ((a - b).norm() / b.norm().clamp_min(1e-12)).item<double>();
}

// The largest rel_diff over tensors paired by position.
inline double max_rel_diff(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, rel_diff(a[i], b[i]));
  return worst;
}
}  // namespace imprint::testing
