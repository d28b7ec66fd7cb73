// The MPI backend for contiguous CPU tensors.
//
// Every collective runs on one communication thread, in the order the caller issued them (the same order on
// every rank), as a BLOCKING MPI call: OpenMPI's tuned blocking algorithms are about twice as fast as its
// non-blocking ones on shared memory, and a thread of its own progresses an all-reduce while backward goes
// on, which non-blocking calls would only do when the trainer happened to call into MPI. The caller waits
// on a future. With distributed.sleep_while_waiting the thread first waits, sleeping, for every rank to
// reach the collective (wait_for_peers).
//
// Deadlines belong to a watchdog thread, not to the waiting caller: each collective is armed when the
// communication thread starts it, and one that overruns distributed.timeout_s ends the job from the
// watchdog (message, then MPI_Abort) while the stuck MPI call is left where it is — no thread stuck in MPI
// is ever joined. Start-up (MPI_Init waits for every rank to arrive) and shutdown (MPI_Finalize is
// collective) are armed the same way, so a rank that never joins or stops at the end cannot hang the others.
//
// Finding who is missing when a collective times out: each rank's watchdog thread answers status queries
// five times a second, on a communicator of their own, with the number of collectives its rank has
// entered. The rank that timed out asks every peer and waits two seconds for the answers: a peer behind
// the stuck collective is "missing"; a peer that does not answer at all is stopped, hung or dead. Plain
// point-to-point messages work on every transport (one-sided windows do not exist on TCP-only OpenMPI).
#include <ATen/ATen.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>
#include <mpi.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include <unistd.h>

#include "collectives/bootstrap.h"
#include "collectives/communicator.h"
#include "collectives/free_core.h"
#include "collectives/watchdog.h"
#include "core/exit_codes.h"
#include "core/log.h"

namespace imprint {
namespace {

using Clock = std::chrono::steady_clock;

MPI_Datatype mpi_type(const at::Tensor& t) {
  switch (t.scalar_type()) {
    case at::kFloat:
      return MPI_FLOAT;
    case at::kDouble:
      return MPI_DOUBLE;
    case at::kLong:
      return MPI_INT64_T;
    case at::kInt:
      return MPI_INT32_T;
    case at::kByte:
      return MPI_UINT8_T;
    case at::kBFloat16:
    case at::kHalf:
      return MPI_UINT16_T;  // moved as 2-byte words; reduced by the ops below
    default:
      throw CollectiveError(std::string("mpi backend: tensors of dtype ") + at::toString(t.scalar_type()) +
                            " are not supported (float32, float64, bfloat16, float16, int64, int32, uint8 are)");
  }
}

// MPI has no bfloat16/float16: user ops that add (or take the max) in float32 and round back, as NCCL does
// for these types. Used for compressed gradients (distributed.grad_compression: bf16).
template <typename T, bool kMax>
void reduce_16bit(void* in, void* inout, int* len, MPI_Datatype*) {
  const T* a = static_cast<const T*>(in);
  T* b = static_cast<T*>(inout);
  for (int i = 0; i < *len; ++i) {
    const float x = static_cast<float>(a[i]), y = static_cast<float>(b[i]);
    b[i] = static_cast<T>(kMax ? (x > y ? x : y) : x + y);
  }
}

MPI_Op mpi_op(ReduceOp op, at::ScalarType type) {
  const bool max = op == ReduceOp::Max;
  if (type != at::kBFloat16 && type != at::kHalf) return max ? MPI_MAX : MPI_SUM;
  static std::once_flag once;
  static MPI_Op ops[2][2];  // [half?][max?]
  std::call_once(once, [] {
    MPI_Op_create(&reduce_16bit<c10::BFloat16, false>, 1, &ops[0][0]);
    MPI_Op_create(&reduce_16bit<c10::BFloat16, true>, 1, &ops[0][1]);
    MPI_Op_create(&reduce_16bit<c10::Half, false>, 1, &ops[1][0]);
    MPI_Op_create(&reduce_16bit<c10::Half, true>, 1, &ops[1][1]);
  });
  return ops[type == at::kHalf][max];
}

const char* op_name(int code) {
  static const char* names[] = {"allreduce", "allgather", "broadcast", "reduce_scatter", "barrier"};
  return code >= 0 && code < 5 ? names[code] : "?";
}
enum OpCode { kAllreduce = 0, kAllgather, kBroadcast, kReduceScatter, kBarrier };

std::string this_host() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "?";
  return host;
}

// "0-3 6 8-9"
std::string rank_ranges(const std::vector<int>& ranks) {
  std::ostringstream s;
  for (size_t i = 0; i < ranks.size();) {
    size_t j = i;
    while (j + 1 < ranks.size() && ranks[j + 1] == ranks[j] + 1) ++j;
    s << (i ? " " : "") << ranks[i];
    if (j > i) s << (j == i + 1 ? " " : "-") << ranks[j];
    i = j + 1;
  }
  return s.str();
}

class MpiCommunicator;

class MpiWork final : public Work {
 public:
  MpiWork(MpiCommunicator* comm, std::shared_future<void> done) : comm_(comm), done_(std::move(done)) {}
  ~MpiWork() override;
  void wait() override;

 private:
  MpiCommunicator* comm_;
  std::shared_future<void> done_;
  bool waited_ = false;
};

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(const CommOptions& o) : options_(o) {
    const std::string who = o.expected_rank >= 0 ? "rank " + std::to_string(o.expected_rank) : "this rank";
    {
      // MPI_Init_thread waits until every rank of the job has arrived.
      WatchdogScope startup(
          watchdog_, options_.timeout_s,
          [who, host = host_, t = options_.timeout_s, world = o.expected_world_size] {
            return who + ": MPI start-up (MPI_Init_thread and communicator set-up) did not finish within " +
                   log::strf("%g", t) + " s (distributed.timeout_s) on host " + host +
                   ": a rank of the job never started or cannot reach this one" +
                   (world > 0 ? log::strf(" (every rank that did start prints this line with its host: the "
                                          "rank(s) of 0..%d missing from these lines never joined)",
                                          world - 1)
                              : std::string());
          },
          kExitLaunch);
      int initialised = 0, provided = 0;
      MPI_Initialized(&initialised);
      if (!initialised) {
        MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided);
        owns_mpi_ = true;
      } else {
        MPI_Query_thread(&provided);
      }
      if (provided < MPI_THREAD_MULTIPLE)
        throw CollectiveError("mpi backend: this MPI library does not provide MPI_THREAD_MULTIPLE (got level " +
                              std::to_string(provided) + "); imprint's communication thread needs it");
      MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
      MPI_Comm_size(MPI_COMM_WORLD, &size_);
      // Checked before any collective: a rank started without its launcher is a world of one on its own.
      if (o.expected_world_size > 0 && (size_ != o.expected_world_size || rank_ != o.expected_rank))
        throw BootstrapError("MPI reports rank " + std::to_string(rank_) + " of " + std::to_string(size_) +
                             " but the launch environment (" + o.launcher + ") says rank " +
                             std::to_string(o.expected_rank) + " of " + std::to_string(o.expected_world_size) +
                             "; start every rank with the launcher (mpirun, or srun with PMIx)");
      MPI_Comm_dup(MPI_COMM_WORLD, &comm_);  // imprint's traffic never mixes with the application's
      MPI_Comm_dup(MPI_COMM_WORLD, &status_comm_);
      learn_hosts(o);
      watchdog_.set_tick([this] { answer_status_queries(); }, std::chrono::milliseconds(200));
    }
    worker_ = std::thread([this] { run_worker(); });
  }
  ~MpiCommunicator() override {
    // On an error path (an exception unwinding past us) the peers may be stuck in a collective: freeing the
    // communicators or finalising would wait for them. End the job instead; whoever threw has logged nothing yet,
    // so say why.
    if (std::uncaught_exceptions() > 0) {
      log::error("rank " + std::to_string(rank_) + ": an error is unwinding past the MPI communicator (" + context_ +
                 "); ending the job without waiting for the other ranks");
      abort_job(kExitError);
    }
    WatchdogScope shutdown(
        watchdog_, options_.timeout_s,
        [this] {
          return "rank " + std::to_string(rank_) +
                 ": MPI shutdown (MPI_Comm_free, MPI_Finalize) did not finish within " +
                 log::strf("%g", options_.timeout_s) + " s (distributed.timeout_s) on host " + host_ +
                 ": another rank stopped before the end";
        },
        kExitCollective);
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    worker_.join();  // idle: every submitted collective has been waited for (MpiWork's destructor waits)
    watchdog_.set_tick(nullptr, std::chrono::milliseconds(200));
    MPI_Comm_free(&status_comm_);
    MPI_Comm_free(&comm_);
    if (owns_mpi_) MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "mpi"; }

  std::shared_ptr<Work> allreduce_async_(at::Tensor& t, ReduceOp op) override {
    check_contiguous(t, "allreduce");
    at::Tensor buf = t;
    const double scale = op == ReduceOp::Average ? 1.0 / size_ : 1.0;
    return submit(kAllreduce, t, [this, buf, op, scale]() mutable {
      MPI_Allreduce(MPI_IN_PLACE, buf.data_ptr(), static_cast<int>(buf.numel()), mpi_type(buf),
                    mpi_op(op, buf.scalar_type()), comm_);
      if (scale != 1.0) buf.mul_(scale);
    });
  }

  at::Tensor allgather(const at::Tensor& in) override {
    const at::Tensor t = in.contiguous();
    std::vector<int64_t> shape = t.sizes().vec();
    if (shape.empty()) shape.push_back(1);
    shape[0] *= size_;
    at::Tensor out = at::empty(shape, t.options());
    submit(kAllgather, t, [this, t, out]() {
      MPI_Allgather(t.data_ptr(), static_cast<int>(t.numel()), mpi_type(t), out.data_ptr(), static_cast<int>(t.numel()),
                    mpi_type(t), comm_);
    })->wait();
    return out;
  }

  void broadcast_(at::Tensor& t, int root) override {
    check_contiguous(t, "broadcast");
    at::Tensor buf = t;
    submit(kBroadcast, t, [this, buf, root]() {
      MPI_Bcast(buf.data_ptr(), static_cast<int>(buf.numel()), mpi_type(buf), root, comm_);
    })->wait();
  }

  at::Tensor reduce_scatter(const at::Tensor& in, ReduceOp op) override {
    const at::Tensor t = in.contiguous();
    if (t.dim() == 0 || t.size(0) % size_ != 0)
      throw CollectiveError("reduce_scatter: dim 0 of " + describe_tensor(t) +
                            " must be a multiple of the world size " + std::to_string(size_));
    std::vector<int64_t> shape = t.sizes().vec();
    shape[0] /= size_;
    at::Tensor out = at::empty(shape, t.options());
    const double scale = op == ReduceOp::Average ? 1.0 / size_ : 1.0;
    submit(kReduceScatter, t, [this, t, out, op, scale]() mutable {
      MPI_Reduce_scatter_block(t.data_ptr(), out.data_ptr(), static_cast<int>(out.numel()), mpi_type(t),
                               mpi_op(op, t.scalar_type()), comm_);
      if (scale != 1.0) out.mul_(scale);
    })->wait();
    return out;
  }

  void barrier() override {
    submit(kBarrier, at::Tensor(), [this]() { MPI_Barrier(comm_); })->wait();
  }

  // Waits for `done`; the watchdog ends the job if the collective overruns its deadline.
  void wait_for(const std::shared_future<void>& done) {
    done.get();  // rethrows what the communication thread threw (a debug-check mismatch)
  }

 private:
  struct Task {
    std::function<void()> run;
    std::promise<void> done;
    std::string what, context;
    int64_t seq = 0;
  };

  // Returns once every rank has reached this collective, without taking a core that other work wants.
  // OpenMPI's blocking collectives poll without pause, so a rank that arrived first spins until its slowest
  // peer comes, taking a core from compute: its own backward, its data loader, other jobs (0.85x PyTorch DDP,
  // whose gloo sleeps in the kernel, with one of 2 cores busy; docs/benchmarks.md). The wait is a
  // non-blocking barrier, tested in a tight loop while the machine has a free core (FreeCoreProbe, looked at
  // again every kLookEvery: then polling costs nobody anything and notices the peers at once) and between
  // sleeps that double from kFirstSleepUs to kMaxSleepUs while every core is wanted. Sleeping whenever a
  // peer was late cost about 6% on an idle machine (the wake-ups, and a peer noticed up to 200 us late). The
  // collective itself then runs as the tuned blocking call: libnbc's non-blocking ones are slower (0.2-0.5x,
  // measured), and with every peer there its spin lasts only as long as the transfer. What remains: one
  // barrier per collective, one more round trip between hosts.
  void wait_for_peers() {
    constexpr auto kLookEvery = std::chrono::microseconds(500);
    constexpr int64_t kFirstSleepUs = 10, kMaxSleepUs = 200;
    MPI_Request request;
    MPI_Ibarrier(comm_, &request);
    int done = 0;
    bool polling = false;
    int64_t pause = kFirstSleepUs;
    auto next_look = Clock::now();
    while (MPI_Test(&request, &done, MPI_STATUS_IGNORE), !done) {
      const auto now = Clock::now();
      if (now >= next_look) {
        polling = free_core_.free_core_now();
        next_look = now + kLookEvery;
        if (polling) pause = kFirstSleepUs;
      }
      if (polling) continue;
      std::this_thread::sleep_for(std::chrono::microseconds(pause));
      pause = std::min(2 * pause, kMaxSleepUs);
    }
  }

  // In-place collectives work on the caller's own memory, so it must already be contiguous.
  static void check_contiguous(const at::Tensor& t, const char* name) {
    if (!t.is_contiguous())
      throw CollectiveError(std::string("mpi backend: ") + name + " needs a contiguous tensor, got " +
                            describe_tensor(t));
  }

  // Counts the collective (status queries report the count, so a timing-out rank sees who never got here)
  // and queues it, behind a debug check when those are on.
  std::shared_ptr<Work> submit(int op, const at::Tensor& t, std::function<void()> run) {
    // Unsupported dtypes and devices fail here, on the caller's thread, for every collective alike.
    if (t.defined()) {
      mpi_type(t);
      if (t.device().type() != at::kCPU)
        throw CollectiveError(std::string("mpi backend: ") + op_name(op) + " needs a CPU tensor, got " +
                              describe_tensor(t) + " on " + t.device().str() +
                              " (GPU tensors need distributed.backend: nccl)");
    }
    const int64_t seq = ++entered_;
    const std::string what = std::string(op_name(op)) + (t.defined() ? " of " + describe_tensor(t) : "");
    if (options_.debug_checks) {
      std::vector<int64_t> mine = descriptor(op, t, seq);
      const std::string context = context_;
      run = [this, mine, context, run = std::move(run)]() {
        check_same_collective(mine, context);
        run();
      };
    }
    Task task{std::move(run), {}, what, context_, seq};
    std::shared_future<void> done = task.done.get_future().share();
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(task));
    }
    cv_.notify_one();
    return std::make_shared<MpiWork>(this, done);
  }

  void run_worker() {
    for (;;) {
      Task task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      try {
        WatchdogScope deadline(
            watchdog_, options_.timeout_s,
            [this, &task] {
              return "rank " + std::to_string(rank_) + ": " + task.what + " (collective #" + std::to_string(task.seq) +
                     ", " + task.context + ") did not finish within " + log::strf("%g", options_.timeout_s) +
                     " s (distributed.timeout_s); " + missing_ranks(task.seq);
            },
            kExitCollective);
        if (options_.sleep_while_waiting) wait_for_peers();
        task.run();
        task.done.set_value();
      } catch (...) {
        task.done.set_exception(std::current_exception());
      }
    }
  }

  static constexpr int kFields = 12;
  static std::vector<int64_t> descriptor(int op, const at::Tensor& t, int64_t seq) {
    std::vector<int64_t> d(kFields, 0);
    d[0] = seq;
    d[1] = op;
    d[2] = t.defined() ? static_cast<int64_t>(t.scalar_type()) : -1;
    d[3] = t.defined() ? t.numel() : 0;
    d[4] = t.defined() ? t.dim() : -1;
    for (int k = 0; t.defined() && k < std::min<int64_t>(t.dim(), 7); ++k) d[5 + k] = t.size(k);
    return d;
  }

  // On the communication thread, before the collective itself.
  void check_same_collective(const std::vector<int64_t>& mine, const std::string& context) {
    std::vector<int64_t> all(static_cast<size_t>(kFields) * size_);
    MPI_Allgather(mine.data(), kFields, MPI_INT64_T, all.data(), kFields, MPI_INT64_T, comm_);
    bool same = true;
    for (int r = 1; r < size_ && same; ++r)
      for (int f = 0; f < kFields; ++f) same = same && all[r * kFields + f] == all[f];
    if (same) return;
    std::ostringstream msg;
    msg << "ranks disagree on collective #" << mine[0] << " (" << context << "):";
    for (int r = 0; r < size_; ++r) {
      const int64_t* d = &all[r * kFields];
      msg << " rank " << r << " " << op_name(static_cast<int>(d[1]));
      if (d[2] >= 0) {
        msg << " of " << dtype_name(static_cast<at::ScalarType>(d[2])) << " [";
        for (int64_t k = 0; k < d[4] && k < 7; ++k) msg << (k ? ", " : "") << d[5 + k];
        msg << "]";
      }
      msg << (r + 1 < size_ ? ";" : "");
    }
    throw CollectiveError(msg.str());
  }

  // Every rank's host name and launcher-given local rank, gathered once at start-up (on the communication
  // set-up's deadline): timeout messages name the host of each rank they name, rank 0 logs where the ranks
  // run, and the local ranks are checked against the host names (the GPU a rank picks follows its local rank).
  void learn_hosts(const CommOptions& o) {
    struct Entry {
      char host[72];  // a Linux host name has at most 64 bytes
      int32_t local_rank, local_size;
    };
    Entry mine{};
    std::snprintf(mine.host, sizeof mine.host, "%s", host_.c_str());
    mine.local_rank = o.expected_local_rank;
    mine.local_size = o.expected_local_size;
    std::vector<Entry> all(size_);
    MPI_Allgather(&mine, sizeof(Entry), MPI_BYTE, all.data(), sizeof(Entry), MPI_BYTE, comm_);
    hosts_.clear();
    std::vector<std::pair<std::string, std::vector<int>>> by_host;  // in order of first rank
    for (int r = 0; r < size_; ++r) {
      all[r].host[sizeof all[r].host - 1] = '\0';
      hosts_.emplace_back(all[r].host);
      auto it = std::find_if(by_host.begin(), by_host.end(), [&](const auto& h) { return h.first == hosts_[r]; });
      if (it == by_host.end()) it = by_host.insert(by_host.end(), {hosts_[r], {}});
      it->second.push_back(r);
    }
    // The layout names every host of a job of up to 16 hosts; of a larger one the first three and the last.
    constexpr size_t kHostsShown = 16;
    std::ostringstream layout, wrong;
    int wrong_hosts = 0;
    for (size_t i = 0; i < by_host.size(); ++i) {
      const auto& [host, ranks] = by_host[i];
      std::vector<int> locals;
      bool known = true, sizes_right = true;
      for (int r : ranks) {
        known = known && all[r].local_rank >= 0;
        sizes_right = sizes_right && all[r].local_size == static_cast<int>(ranks.size());
        locals.push_back(all[r].local_rank);
      }
      if (by_host.size() <= kHostsShown || i < 3 || i + 1 == by_host.size()) {
        layout << (i ? "; " : "") << host << ": rank(s) " << rank_ranges(ranks);
        if (known) layout << " (local " << rank_ranges(locals) << ")";
      } else if (i == 3) {
        layout << "; ... " << by_host.size() - 4 << " more hosts ...";
      }
      if (!known) continue;
      std::vector<int> sorted = locals;
      std::sort(sorted.begin(), sorted.end());
      bool one_each = true;
      for (size_t k = 0; k < sorted.size(); ++k) one_each = one_each && sorted[k] == static_cast<int>(k);
      if (one_each && sizes_right) continue;
      if (++wrong_hosts > 8) continue;  // enough to see the pattern
      wrong << (wrong.tellp() ? "; " : "") << "host " << host << " runs rank(s) " << rank_ranges(ranks)
            << " with local rank(s)";
      for (int l : locals) wrong << " " << l;
      wrong << " and local size(s)";
      for (int r : ranks) wrong << " " << all[r].local_size;
      wrong << " (expected local ranks 0.." << ranks.size() - 1 << ", one each, and local size " << ranks.size() << ")";
    }
    if (wrong_hosts > 8) wrong << "; and " << wrong_hosts - 8 << " more hosts";
    if (rank_ == 0)
      log::info((by_host.size() > kHostsShown ? "ranks by host (" + std::to_string(by_host.size()) + " hosts): "
                                              : std::string("ranks by host: ")) +
                layout.str());
    if (wrong.tellp() == 0) return;
    // Every rank sees the same table; rank 0 says it once and ends the job, the others wait to be ended.
    if (rank_ == 0)
      throw BootstrapError("the local ranks from the launcher (" + o.launcher +
                           ") do not match the ranks' host names: " + wrong.str() +
                           "; two ranks of one host would use the same GPU. Check the launcher's local rank "
                           "variables (OMPI_COMM_WORLD_LOCAL_RANK, SLURM_LOCALID) and give every node its own "
                           "host name");
    MPI_Barrier(comm_);  // never completes: rank 0 does not enter it
  }

  // " on host H" or " on hosts H1 (rank(s) 2 3), H2 (rank(s) 4)": where `ranks` run.
  std::string where(const std::vector<int>& ranks) const {
    if (ranks.empty() || hosts_.size() != static_cast<size_t>(size_)) return "";
    std::vector<std::pair<std::string, std::vector<int>>> by_host;
    for (int r : ranks) {
      auto it = std::find_if(by_host.begin(), by_host.end(), [&](const auto& h) { return h.first == hosts_[r]; });
      if (it == by_host.end()) it = by_host.insert(by_host.end(), {hosts_[r], {}});
      it->second.push_back(r);
    }
    if (by_host.size() == 1) return " on host " + by_host[0].first;
    std::string s = " on hosts ";
    for (size_t i = 0; i < by_host.size(); ++i)
      s += (i ? ", " : "") + by_host[i].first + " (rank(s) " + rank_ranges(by_host[i].second) + ")";
    return s;
  }

  enum StatusTag { kQuery = 1, kAnswer = 2 };

  // On the watchdog thread (and while a timed-out rank waits for answers): answer every pending query.
  void answer_status_queries() {
    for (;;) {
      int pending = 0;
      MPI_Status st;
      MPI_Iprobe(MPI_ANY_SOURCE, kQuery, status_comm_, &pending, &st);
      if (!pending) return;
      int64_t query = 0;
      MPI_Recv(&query, 1, MPI_INT64_T, st.MPI_SOURCE, kQuery, status_comm_, MPI_STATUS_IGNORE);
      answers_.push_back(entered_.load());
      MPI_Request req;  // freed at once: 8 bytes go out eagerly, and the buffer lives as long as we do
      MPI_Isend(&answers_.back(), 1, MPI_INT64_T, st.MPI_SOURCE, kAnswer, status_comm_, &req);
      MPI_Request_free(&req);
    }
  }

  // Which ranks hold collective `seq` up: those that have not entered it, and those that do not answer.
  std::string missing_ranks(int64_t seq) {
    query_ = seq;  // a member: a query still in flight when this returns (its request freed) keeps its buffer
    std::vector<int64_t> entered(size_, -1);
    std::vector<MPI_Request> asks(size_, MPI_REQUEST_NULL), answers(size_, MPI_REQUEST_NULL);
    for (int r = 0; r < size_; ++r) {
      if (r == rank_) continue;
      MPI_Irecv(&entered[r], 1, MPI_INT64_T, r, kAnswer, status_comm_, &answers[r]);
      MPI_Isend(&query_, 1, MPI_INT64_T, r, kQuery, status_comm_, &asks[r]);
    }
    const auto deadline = Clock::now() + std::chrono::seconds(2);
    std::vector<bool> answered(size_, false);
    for (int waiting = size_ - 1; waiting > 0 && Clock::now() < deadline;) {
      answer_status_queries();  // peers that timed out too are asking us meanwhile
      for (int r = 0; r < size_; ++r) {
        if (r == rank_ || answered[r]) continue;
        int done = 0;
        MPI_Test(&answers[r], &done, MPI_STATUS_IGNORE);
        if (done) answered[r] = true, --waiting;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::vector<int> behind, silent;
    for (int r = 0; r < size_; ++r) {
      if (r == rank_) continue;
      if (!answered[r]) {
        silent.push_back(r);
        MPI_Cancel(&answers[r]);
        MPI_Request_free(&answers[r]);
      } else if (entered[r] < seq) {
        behind.push_back(r);
      }
      int done = 0;
      MPI_Test(&asks[r], &done, MPI_STATUS_IGNORE);
      if (!done) MPI_Request_free(&asks[r]);
    }
    std::ostringstream s;
    if (!behind.empty()) {
      s << "missing: rank(s)";
      for (int r : behind) s << " " << r << " (entered " << entered[r] << " collectives)";
      s << where(behind);
    }
    if (!silent.empty()) {
      s << (behind.empty() ? "" : "; ") << "not responding (stopped, hung or dead): rank(s)";
      for (int r : silent) s << " " << r;
      s << where(silent);
    }
    if (s.tellp() == 0) s << "every rank entered it and is alive: the interconnect may have stalled";
    s << " (this rank runs on " << host_ << ")";
    return s.str();
  }

  CommOptions options_;
  FreeCoreProbe free_core_;  // read by wait_for_peers
  const std::string host_ = this_host();
  std::vector<std::string> hosts_;  // of every rank (learn_hosts)
  Watchdog watchdog_;               // before the MPI state: it is armed while that is set up, and outlives its teardown
  int rank_ = 0, size_ = 1;
  bool owns_mpi_ = false;
  MPI_Comm comm_ = MPI_COMM_NULL;
  MPI_Comm status_comm_ = MPI_COMM_NULL;  // status queries only (watchdog threads)
  std::atomic<int64_t> entered_{0};       // collectives this rank has entered
  std::deque<int64_t> answers_;           // send buffers of status answers (watchdog thread only)
  int64_t query_ = 0;                     // send buffer of this rank's status queries (watchdog thread only)
  std::thread worker_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> queue_;
  bool stopping_ = false;
};

MpiWork::~MpiWork() {
  // A Work dropped without wait() must still finish before the tensors it uses can be trusted — except on an
  // error path, which must not wait on peers (the communication thread keeps its own references to them).
  if (!waited_ && std::uncaught_exceptions() == 0) {
    try {
      wait();
    } catch (const std::exception& e) {
      log::error(e.what());
      abort_job(kExitCollective);
    }
  }
}

void MpiWork::wait() {
  if (waited_) return;
  waited_ = true;
  comm_->wait_for(done_);
}

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(const CommOptions& options) {
  return std::make_unique<MpiCommunicator>(options);
}

}  // namespace imprint
