// Misbehaving ranks, for tests/cli/expect.sh: the job must end, non-zero, with a message naming the
// collective and the rank, instead of hanging.
//   stall     rank 1 never reaches the all-reduce (sleeps); timeout 3 s
//   crash     rank 1 is killed (SIGKILL) before the all-reduce
//   mismatch  ranks all-reduce tensors of different shapes, with debug checks on
#include <ATen/ATen.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <thread>

#include "collectives/communicator.h"
#include "core/log.h"

int main(int argc, char** argv) {
  using namespace imprint;
  const std::string mode = argc > 1 ? argv[1] : "";
  CommOptions o;
  o.timeout_s = 3;
  o.debug_checks = mode == "mismatch";
  auto comm = make_mpi_communicator(o);
  log::set_rank(comm->rank(), comm->size());
  comm->set_context("step 7");
  try {
    at::Tensor warmup = at::ones({8});
    comm->allreduce_(warmup, ReduceOp::Sum);
    if (mode == "stall" && comm->rank() == 1) std::this_thread::sleep_for(std::chrono::seconds(60));
    if (mode == "crash" && comm->rank() == 1) std::raise(SIGKILL);
    at::Tensor t = at::ones({mode == "mismatch" ? 4 + comm->rank() : 1024});
    comm->allreduce_(t, ReduceOp::Sum);
    log::error("the faulty collective completed: mode '" + mode + "' was not caught");
    return 0;
  } catch (const CollectiveError& e) {
    log::error(std::string("collective error: ") + e.what());
    abort_job(4);
  }
}
