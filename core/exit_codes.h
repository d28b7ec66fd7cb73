// Exit status of the `imprint` command, shared by every library that ends the job (collectives' watchdog
// aborts with kCollective; the command line maps each error kind to one of these). docs/running.md lists them.
#pragma once

namespace imprint {

enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,       // any other runtime error
  kExitUsage = 2,       // command line or config
  kExitCheckpoint = 3,  // a checkpoint cannot be read or written; a run directory that cannot hold one
  kExitCollective = 4,  // a collective timed out or ranks disagreed; a peer failed
  kExitLaunch = 5,      // launch environment (ranks, MPI start-up)
  kExitDataset = 6,     // a dataset, sample or trial list that cannot be used
  kExitStopped = 75,    // stopped by SIGTERM/SIGUSR1/SIGINT after checkpointing (EX_TEMPFAIL): resume it
};

}  // namespace imprint
