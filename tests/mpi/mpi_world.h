#pragma once
#include "collectives/communicator.h"

namespace imprint::testing {
// The job's communicator, set up by mpi_test_main.cpp (debug checks on, 120 s timeout).
extern Communicator* g_world;
}  // namespace imprint::testing
