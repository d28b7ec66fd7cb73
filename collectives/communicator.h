// Collectives on torch tensors across the ranks of a job. One interface, three backends behind it: `local`
// for a world of one process, `mpi` for CPU tensors (OpenMPI), `nccl` for CUDA tensors (NCCL on its own
// stream, bootstrapped over MPI; CUDA builds). Every collective is entered by every rank in the
// same order with the same shapes; a collective that does not finish within the timeout ends the job with a
// message naming it, the step and the ranks that never arrived.
#pragma once
#include <ATen/Tensor.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace imprint {

enum class ReduceOp { Sum, Average, Max };

// A collective that timed out, or whose ranks disagreed on shapes (debug checks). Fatal for the job.
class CollectiveError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CommOptions {
  double timeout_s = 300;     // per collective, and for start-up and shutdown; 0 waits forever
  bool debug_checks = false;  // before each collective, check every rank enters the same one with the same shape
  // mpi: wait for every rank to reach a collective without taking a wanted core (distributed.sleep_while_waiting).
  bool sleep_while_waiting = true;
  // What the launcher's environment says (Bootstrap); checked against MPI before any collective, so a rank
  // started without its launcher fails with a launch error instead of an MPI one. -1: not checked.
  int expected_rank = -1, expected_world_size = -1;
  std::string launcher = "none";
  // The launcher's local rank and local size (ranks on this host). When set (>= 0), the ranks check at
  // start-up that on every host name the local ranks are 0..n-1, one each, n the local size: otherwise two
  // ranks of one host would pick the same GPU (gpu_for_local_rank). -1: not checked.
  int expected_local_rank = -1, expected_local_size = -1;
};

// An asynchronous collective in flight.
class Work {
 public:
  virtual ~Work() = default;
  // Blocks until done (throws CollectiveError on timeout). Idempotent.
  virtual void wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend() const = 0;

  // In place on a contiguous tensor.
  virtual std::shared_ptr<Work> allreduce_async_(at::Tensor& t, ReduceOp op) = 0;
  void allreduce_(at::Tensor& t, ReduceOp op) { allreduce_async_(t, op)->wait(); }
  // Every rank's `t` (same shape), concatenated along dim 0 in rank order.
  virtual at::Tensor allgather(const at::Tensor& t) = 0;
  virtual void broadcast_(at::Tensor& t, int root) = 0;
  // `t` is [size * n, ...]: returns this rank's [n, ...] slice of the element-wise reduction over ranks.
  virtual at::Tensor reduce_scatter(const at::Tensor& t, ReduceOp op) = 0;
  virtual void barrier() = 0;

  // A communicator for small CPU tensors of control values (stop flags) that all ranks agree on; for the
  // NCCL backend the MPI communicator it bootstrapped from, so such values never touch the GPU.
  virtual Communicator& host() { return *this; }

  // What the job is doing, named in timeout and mismatch messages (e.g. "step 41").
  void set_context(std::string context) { context_ = std::move(context); }
  const std::string& context() const { return context_; }

 protected:
  std::string context_ = "start-up";
};

// Tensors as collectives' messages name them: "float32 [1024]" ("no tensor" when undefined).
std::string dtype_name(at::ScalarType t);
std::string describe_tensor(const at::Tensor& t);

// A world of one: every collective is the identity (allgather/reduce_scatter return the input).
std::unique_ptr<Communicator> make_local_communicator();
// OpenMPI over MPI_COMM_WORLD; initialises MPI if nobody has. CPU tensors.
std::unique_ptr<Communicator> make_mpi_communicator(const CommOptions& options);
// NCCL over the ranks of `bootstrap` (an MPI communicator that shares NCCL's unique id and is kept, and
// finalised, with the NCCL one), on GPU gpu_for_local_rank(local_rank, visible devices) (bootstrap.h); CUDA
// tensors. Collectives are stream-ordered (wait() blocks the caller's stream, not the host) and watched by a
// thread that ends the job on a timeout or an NCCL error. Only in builds with a CUDA libtorch and NCCL
// (IMPRINT_WITH_NCCL defined).
std::unique_ptr<Communicator> make_nccl_communicator(const CommOptions& options,
                                                     std::unique_ptr<Communicator> bootstrap, int local_rank);
// Ends every rank of the job (MPI_Abort when MPI is running), after this rank has logged why. Never waits
// on a peer: should the MPI runtime itself not end the process within a few seconds, it exits anyway.
[[noreturn]] void abort_job(int exit_code);

}  // namespace imprint
