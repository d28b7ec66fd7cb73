#include "collectives/bootstrap.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

extern char** environ;

namespace imprint {
namespace {

int read_int(const std::map<std::string, std::string>& env, const std::string& name, int fallback) {
  auto it = env.find(name);
  if (it == env.end()) return fallback;
  errno = 0;
  char* end = nullptr;
  const long v = std::strtol(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end != '\0' || errno == ERANGE || v < 0 || v > 1 << 24)
    throw BootstrapError("environment variable " + name + "='" + it->second + "' is not a non-negative integer");
  return static_cast<int>(v);
}

void check(const Bootstrap& b, const std::string& rank_var, const std::string& size_var) {
  if (b.world_size < 1) throw BootstrapError(size_var + " must be at least 1");
  if (b.rank >= b.world_size)
    throw BootstrapError(rank_var + "=" + std::to_string(b.rank) + " is not below " + size_var + "=" +
                         std::to_string(b.world_size));
  if (b.local_size < 1 || b.local_rank >= b.local_size)
    throw BootstrapError("local rank " + std::to_string(b.local_rank) + " is not below local size " +
                         std::to_string(b.local_size) + " (from " + b.launcher + ")");
}

}  // namespace

Bootstrap Bootstrap::from(const std::map<std::string, std::string>& env) {
  Bootstrap b;
  if (env.count("OMPI_COMM_WORLD_SIZE")) {
    b.launcher = "mpirun";
    b.world_size = read_int(env, "OMPI_COMM_WORLD_SIZE", 1);
    b.rank = read_int(env, "OMPI_COMM_WORLD_RANK", 0);
    b.local_rank = read_int(env, "OMPI_COMM_WORLD_LOCAL_RANK", 0);
    b.local_size = read_int(env, "OMPI_COMM_WORLD_LOCAL_SIZE", 1);
    check(b, "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE");
  } else if (env.count("SLURM_NTASKS") && env.count("SLURM_PROCID")) {
    b.launcher = "slurm";
    b.world_size = read_int(env, "SLURM_NTASKS", 1);
    b.rank = read_int(env, "SLURM_PROCID", 0);
    b.local_rank = read_int(env, "SLURM_LOCALID", 0);
    // SLURM_NTASKS_PER_NODE may be "4" or "4(x2)"; the per-node count is the leading number.
    auto it = env.find("SLURM_NTASKS_PER_NODE");
    b.local_size = it == env.end() ? 1 : std::atoi(it->second.c_str());
    if (b.local_size < 1) b.local_size = std::max(1, b.local_rank + 1);
    check(b, "SLURM_PROCID", "SLURM_NTASKS");
  }
  return b;
}

Bootstrap Bootstrap::from_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string kv(*e);
    const auto eq = kv.find('=');
    if (eq != std::string::npos) env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return from(env);
}

int gpu_for_local_rank(int local_rank, int visible) {
  if (visible < 1)
    throw BootstrapError("local rank " + std::to_string(local_rank) +
                         ": no CUDA device is visible (check "
                         "CUDA_VISIBLE_DEVICES and the job's GPU request)");
  if (local_rank < 0) throw BootstrapError("local rank " + std::to_string(local_rank) + " is negative");
  return local_rank % visible;
}

}  // namespace imprint
