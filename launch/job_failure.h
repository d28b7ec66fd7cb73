// Ending a command that failed: one message and the exit status of its error kind (docs/running.md), on every
// rank at once (MPI_Abort when MPI runs), so no rank is left waiting in a collective. Called while the
// communicator is still alive: tearing it down first would wait on peers.
#pragma once

namespace imprint {

// Logs the exception in flight and ends the job. Call from a catch block.
[[noreturn]] void fail_job();

}  // namespace imprint
