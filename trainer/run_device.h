// Where a rank trains and with how many threads: its device (the GPU of its local rank, or the CPU), and
// torch's intra-op threads when train.threads leaves it to imprint.
#pragma once
#include <ATen/Device.h>

#include "collectives/communicator.h"
#include "trainer/job_config.h"

namespace imprint {

// train.device for `local_rank`; throws ConfigError when cuda is asked for and there is none, or when GPUs
// with several ranks would need NCCL but the backend is another.
at::Device pick_device(const JobConfig& job, int local_rank, const Communicator& comm);
// Sets torch's intra-op threads: train.threads, or default_intra_op_threads() for this rank's cores.
void set_torch_threads(const JobConfig& job, int local_size, int world);

// train.threads: 0 — torch intra-op threads that, with the loader's `workers` and (several ranks) the
// communication thread, do not exceed the cores this rank has: its CPU affinity mask (what Slurm's
// --cpus-per-task or mpirun's binding give it), or, unbound, the node's cores shared by `local_size` ranks.
int default_intra_op_threads(int rank_cores, int workers, bool comm_thread);
int cores_for_rank(int local_size);

}  // namespace imprint
