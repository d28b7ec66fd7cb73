// The MPI backend: non-blocking MPI collectives on contiguous CPU tensors, waited on with a deadline.
//
// Finding who is missing when a collective times out: every rank exposes the number of collectives it
// has entered in a one-sided MPI window (a passive-target epoch is open for the communicator's lifetime).
// The rank that timed out reads every peer's counter with MPI_Rget, itself waited on with a short
// deadline, and names the ranks whose counter is behind its own.
#include <ATen/ATen.h>
#include <mpi.h>

#include <chrono>
#include <sstream>
#include <thread>

#include "collectives/communicator.h"
#include "core/log.h"

namespace imprint {
namespace {

using Clock = std::chrono::steady_clock;

MPI_Datatype mpi_type(const at::Tensor& t) {
  switch (t.scalar_type()) {
    case at::kFloat: return MPI_FLOAT;
    case at::kDouble: return MPI_DOUBLE;
    case at::kLong: return MPI_INT64_T;
    case at::kInt: return MPI_INT32_T;
    case at::kByte: return MPI_UINT8_T;
    default:
      throw CollectiveError(std::string("mpi backend: tensors of dtype ") + at::toString(t.scalar_type()) +
                            " are not supported (float32, float64, int64, int32, uint8 are)");
  }
}

MPI_Op mpi_op(ReduceOp op) { return op == ReduceOp::Max ? MPI_MAX : MPI_SUM; }

const char* op_name(int code) {
  static const char* names[] = {"allreduce", "allgather", "broadcast", "reduce_scatter", "barrier"};
  return code >= 0 && code < 5 ? names[code] : "?";
}
enum OpCode { kAllreduce = 0, kAllgather, kBroadcast, kReduceScatter, kBarrier };

std::string dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kByte: return "uint8";
    case at::kBFloat16: return "bfloat16";
    case at::kHalf: return "float16";
    default: return at::toString(t);
  }
}

std::string describe(const at::Tensor& t) {
  if (!t.defined()) return "no tensor";
  std::ostringstream s;
  s << dtype_name(t.scalar_type()) << " " << t.sizes();
  return s.str();
}

class MpiCommunicator;

class MpiWork final : public Work {
 public:
  MpiWork(MpiCommunicator* comm, MPI_Request req, std::string what, int64_t seq, at::Tensor out, double scale)
      : comm_(comm), req_(req), what_(std::move(what)), seq_(seq), out_(std::move(out)), scale_(scale) {}
  ~MpiWork() override;
  void wait() override;

 private:
  MpiCommunicator* comm_;
  MPI_Request req_;
  std::string what_;
  int64_t seq_;
  at::Tensor out_;  // divided by the world size after an Average
  double scale_;
  bool done_ = false;
};

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(const CommOptions& o) : options_(o) {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) {
      int provided = 0;
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
      owns_mpi_ = true;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Win_create(&entered_, sizeof(entered_), sizeof(entered_), MPI_INFO_NULL, MPI_COMM_WORLD, &window_);
    MPI_Win_lock_all(MPI_MODE_NOCHECK, window_);
  }
  ~MpiCommunicator() override {
    MPI_Win_unlock_all(window_);
    MPI_Win_free(&window_);
    if (owns_mpi_) MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "mpi"; }

  std::shared_ptr<Work> allreduce_async_(at::Tensor& t, ReduceOp op) override {
    check_contiguous(t, "allreduce");
    const std::string what = enter(kAllreduce, t);
    MPI_Request req;
    MPI_Iallreduce(MPI_IN_PLACE, t.data_ptr(), static_cast<int>(t.numel()), mpi_type(t), mpi_op(op), MPI_COMM_WORLD,
                   &req);
    return std::make_shared<MpiWork>(this, req, what, entered_, t, op == ReduceOp::Average ? 1.0 / size_ : 1.0);
  }

  at::Tensor allgather(const at::Tensor& in) override {
    const at::Tensor t = in.contiguous();
    const std::string what = enter(kAllgather, t);
    std::vector<int64_t> shape = t.sizes().vec();
    if (shape.empty()) shape.push_back(1);
    shape[0] *= size_;
    at::Tensor out = at::empty(shape, t.options());
    MPI_Request req;
    MPI_Iallgather(t.data_ptr(), static_cast<int>(t.numel()), mpi_type(t), out.data_ptr(), static_cast<int>(t.numel()),
                   mpi_type(t), MPI_COMM_WORLD, &req);
    MpiWork(this, req, what, entered_, {}, 1.0).wait();
    return out;
  }

  void broadcast_(at::Tensor& t, int root) override {
    check_contiguous(t, "broadcast");
    const std::string what = enter(kBroadcast, t);
    MPI_Request req;
    MPI_Ibcast(t.data_ptr(), static_cast<int>(t.numel()), mpi_type(t), root, MPI_COMM_WORLD, &req);
    MpiWork(this, req, what, entered_, {}, 1.0).wait();
  }

  at::Tensor reduce_scatter(const at::Tensor& in, ReduceOp op) override {
    const at::Tensor t = in.contiguous();
    if (t.dim() == 0 || t.size(0) % size_ != 0)
      throw CollectiveError("reduce_scatter: dim 0 of " + describe(t) + " must be a multiple of the world size " +
                            std::to_string(size_));
    const std::string what = enter(kReduceScatter, t);
    std::vector<int64_t> shape = t.sizes().vec();
    shape[0] /= size_;
    at::Tensor out = at::empty(shape, t.options());
    MPI_Request req;
    MPI_Ireduce_scatter_block(t.data_ptr(), out.data_ptr(), static_cast<int>(out.numel()), mpi_type(t), mpi_op(op),
                              MPI_COMM_WORLD, &req);
    MpiWork(this, req, what, entered_, out, op == ReduceOp::Average ? 1.0 / size_ : 1.0).wait();
    return out;
  }

  void barrier() override {
    const std::string what = enter(kBarrier, at::Tensor());
    MPI_Request req;
    MPI_Ibarrier(MPI_COMM_WORLD, &req);
    MpiWork(this, req, what, entered_, {}, 1.0).wait();
  }

  // Polls `req` until done or the deadline; on timeout throws a CollectiveError naming the missing ranks.
  void wait_for(MPI_Request& req, const std::string& what, int64_t seq) {
    const auto start = Clock::now();
    int done = 0;
    for (int spins = 0;; ++spins) {
      MPI_Test(&req, &done, MPI_STATUS_IGNORE);
      if (done) return;
      const double waited = std::chrono::duration<double>(Clock::now() - start).count();
      if (options_.timeout_s > 0 && waited > options_.timeout_s) {
        throw CollectiveError("rank " + std::to_string(rank_) + ": " + what + " (collective #" + std::to_string(seq) +
                              ", " + context_ + ") did not finish within " + log::strf("%g", options_.timeout_s) +
                              " s (distributed.timeout_s); " + missing_ranks(seq));
      }
      if (spins > 1000) std::this_thread::sleep_for(std::chrono::microseconds(spins > 100000 ? 1000 : 50));
    }
  }

 private:
  static void check_contiguous(const at::Tensor& t, const char* name) {
    if (!t.is_contiguous() || t.device().type() != at::kCPU)
      throw CollectiveError(std::string("mpi backend: ") + name + " needs a contiguous CPU tensor, got " + describe(t));
  }

  // Counts the collective, publishes the count, and in debug mode checks all ranks agree on what it is.
  std::string enter(int op, const at::Tensor& t) {
    ++entered_;
    MPI_Win_sync(window_);
    const std::string what = std::string(op_name(op)) + (t.defined() ? " of " + describe(t) : "");
    if (options_.debug_checks) check_same_collective(op, t, what);
    return what;
  }

  void check_same_collective(int op, const at::Tensor& t, const std::string& what) {
    constexpr int kFields = 12;
    int64_t mine[kFields] = {entered_, op, t.defined() ? static_cast<int64_t>(t.scalar_type()) : -1,
                             t.defined() ? t.numel() : 0, t.defined() ? t.dim() : -1};
    for (int d = 0; t.defined() && d < std::min<int64_t>(t.dim(), 7); ++d) mine[5 + d] = t.size(d);
    std::vector<int64_t> all(static_cast<size_t>(kFields) * size_);
    MPI_Request req;
    MPI_Iallgather(mine, kFields, MPI_INT64_T, all.data(), kFields, MPI_INT64_T, MPI_COMM_WORLD, &req);
    wait_for(req, "debug check before " + what, entered_);
    bool same = true;
    for (int r = 1; r < size_ && same; ++r)
      for (int f = 0; f < kFields; ++f) same = same && all[r * kFields + f] == all[f];
    if (same) return;
    std::ostringstream msg;
    msg << "ranks disagree on collective #" << entered_ << " (" << context_ << "):";
    for (int r = 0; r < size_; ++r) {
      const int64_t* d = &all[r * kFields];
      msg << " rank " << r << " " << op_name(static_cast<int>(d[1])) << " of "
          << (d[2] < 0 ? std::string("no tensor") : dtype_name(static_cast<at::ScalarType>(d[2]))) << " [";
      for (int64_t k = 0; k < d[4] && k < 7; ++k) msg << (k ? ", " : "") << d[5 + k];
      msg << "]" << (r + 1 < size_ ? ";" : "");
    }
    throw CollectiveError(msg.str());
  }

  std::string missing_ranks(int64_t seq) {
    std::vector<int64_t> seen(size_, -1);
    std::vector<MPI_Request> reqs(size_, MPI_REQUEST_NULL);
    for (int r = 0; r < size_; ++r)
      if (r != rank_) MPI_Rget(&seen[r], 1, MPI_INT64_T, r, 0, 1, MPI_INT64_T, window_, &reqs[r]);
    const auto deadline = Clock::now() + std::chrono::seconds(3);
    std::vector<int> pending;
    for (int r = 0; r < size_; ++r) {
      if (r == rank_) continue;
      int done = 0;
      while (!done && Clock::now() < deadline) {
        MPI_Test(&reqs[r], &done, MPI_STATUS_IGNORE);
        if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      if (!done) pending.push_back(r);
    }
    std::ostringstream s;
    std::vector<int> behind;
    for (int r = 0; r < size_; ++r)
      if (r != rank_ && seen[r] >= 0 && seen[r] < seq) behind.push_back(r);
    if (!behind.empty()) {
      s << "missing: rank(s)";
      for (int r : behind) s << " " << r << " (entered " << seen[r] << " collectives)";
    } else if (pending.empty()) {
      s << "every rank entered it: a rank may have died or the interconnect stalled";
    }
    if (!pending.empty()) {
      s << (behind.empty() ? "" : "; ") << "no answer from rank(s)";
      for (int r : pending) s << " " << r;
    }
    return s.str();
  }

  CommOptions options_;
  int rank_ = 0, size_ = 1;
  bool owns_mpi_ = false;
  int64_t entered_ = 0;  // exposed in window_
  MPI_Win window_ = MPI_WIN_NULL;
};

MpiWork::~MpiWork() {
  // A Work dropped without wait() still has to complete before its buffers go away.
  if (!done_) {
    try {
      wait();
    } catch (const std::exception& e) {
      log::error(e.what());
      abort_job(4);
    }
  }
}

void MpiWork::wait() {
  if (done_) return;
  comm_->wait_for(req_, what_, seq_);
  done_ = true;
  if (scale_ != 1.0 && out_.defined()) out_.mul_(scale_);
}

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(const CommOptions& options) {
  return std::make_unique<MpiCommunicator>(options);
}

}  // namespace imprint
