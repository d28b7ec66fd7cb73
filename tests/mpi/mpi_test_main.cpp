// main() of the multi-rank GoogleTest binary: one MPI communicator for the whole run, shared by the tests.
// Run under `mpirun -np N`; every rank runs every test, and mpirun fails if any rank fails.
#include <gtest/gtest.h>

#include "tests/mpi/mpi_world.h"

namespace imprint::testing {
Communicator* g_world = nullptr;
}

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  imprint::CommOptions options;
  options.timeout_s = 120;
  options.debug_checks = true;
  options.sleep_while_waiting = true;  // MpiCollectives.AnEarlyRankWaitsWithoutSpinning tests it
  auto comm = imprint::make_mpi_communicator(options);
  imprint::testing::g_world = comm.get();
  if (comm->rank() != 0) {
    // Only failures from other ranks: keeps the log readable while no failure is hidden.
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    struct FailurePrinter : ::testing::EmptyTestEventListener {
      int rank;
      explicit FailurePrinter(int r) : rank(r) {}
      void OnTestPartResult(const ::testing::TestPartResult& r) override {
        if (r.failed())
          std::fprintf(stderr, "[rank %d] %s:%d: %s\n", rank, r.file_name(), r.line_number(), r.summary());
      }
    };
    listeners.Append(new FailurePrinter(comm->rank()));
  }
  const int result = RUN_ALL_TESTS();
  int worst = result;
  at::Tensor flag = at::full({1}, static_cast<int32_t>(result), at::kInt);
  comm->allreduce_(flag, imprint::ReduceOp::Max);
  worst = flag.item<int32_t>();
  comm.reset();
  return worst;
}
