#include "trainer/run_device.h"

#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include <sched.h>

#include <algorithm>
#include <thread>

#include "collectives/bootstrap.h"
#include "config/config_error.h"
#include "trainer/autocast_scope.h"

namespace imprint {

int default_intra_op_threads(int rank_cores, int workers, bool comm_thread) {
  return std::max(1, rank_cores - workers - (comm_thread ? 1 : 0));
}

int cores_for_rank(int local_size) {
  const int node = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  cpu_set_t set;
  CPU_ZERO(&set);
  const int bound = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : node;
  if (bound > 0 && bound < node) return bound;  // the launcher gave this rank these cores
  return std::max(1, node / std::max(1, local_size));
}

void set_torch_threads(const JobConfig& job, int local_size, int world) {
  // Set explicitly either way: Debian's libtorch starts with one OpenMP thread on some machines.
  const int64_t threads = job.train.threads;
  at::set_num_threads(threads > 0 ? static_cast<int>(threads)
                                  : default_intra_op_threads(cores_for_rank(local_size),
                                                             static_cast<int>(job.data.workers), world > 1));
}

at::Device pick_device(const JobConfig& job, int local_rank, const Communicator& comm) {
  const bool have_cuda = torch::cuda::is_available();
  const TrainDevice want = job.train.device;
  if (want == TrainDevice::Cuda && !have_cuda)
    throw ConfigError(
        "train.device: cuda was asked for, but this build of libtorch or this machine has no CUDA "
        "device (use auto or cpu)");
  at::Device device(at::kCPU);
  if (want == TrainDevice::Cuda || (want == TrainDevice::Auto && have_cuda))
    device = at::Device(at::kCUDA, static_cast<at::DeviceIndex>(
                                       gpu_for_local_rank(local_rank, static_cast<int>(torch::cuda::device_count()))));
  if (device.is_cuda() && comm.size() > 1 && comm.backend() != "nccl")
    throw ConfigError("train.device: training on GPUs with several ranks needs distributed.backend: nccl (the " +
                      comm.backend() + " backend takes CPU tensors)");
  check_precision_supported(job.train.precision == Precision::Bf16, device);
  return device;
}

}  // namespace imprint
