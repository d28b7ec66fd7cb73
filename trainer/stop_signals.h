// SIGTERM, SIGUSR1 and SIGINT mean "checkpoint at a step every rank agrees on, then exit" (Slurm's time
// limit, `scancel --signal`, `--signal=B:USR1@N`, Ctrl-C). The handler only records the signal; the train
// loop reads it once per step and the ranks agree on the stop step with a one-element all-reduce.
// A second signal of the same kind, while the first is being honoured, ends the process at once.
#pragma once

namespace imprint {

// Installs the handlers (idempotent). Called by the `train` command, not by library users.
void install_stop_signals();
// The signal that asked this process to stop, or 0.
int stop_signal();
// "SIGTERM", "SIGUSR1", "SIGINT".
const char* signal_name(int signal);

}  // namespace imprint
