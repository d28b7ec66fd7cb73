// Who this process is in the job: rank, world size, and its place on the node. Read from mpirun's
// OMPI_COMM_WORLD_* or Slurm's SLURM_* variables; a process started by hand is rank 0 of 1.
#pragma once
#include <map>
#include <stdexcept>
#include <string>

namespace imprint {

class BootstrapError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Bootstrap {
  int rank = 0, world_size = 1;
  int local_rank = 0, local_size = 1;
  std::string launcher = "none";  // "mpirun" | "slurm" | "none"

  // Reads the real environment.
  static Bootstrap from_environment();
  // Reads `env` (tests pass a map). Throws BootstrapError naming the variable when a value is malformed
  // or inconsistent (rank >= world size, ...).
  static Bootstrap from(const std::map<std::string, std::string>& env);
};

// The GPU a rank uses, out of the `visible` devices it sees: local_rank modulo visible. One function for the
// model, the NCCL communicator and the optimizer (which follows its parameters), right both for one GPU per
// task (Slurm --gpus-per-task=1 or CUDA_VISIBLE_DEVICES per rank: every rank sees device 0) and for every
// GPU of the node visible to every rank. Throws BootstrapError when no device is visible.
int gpu_for_local_rank(int local_rank, int visible);

}  // namespace imprint
