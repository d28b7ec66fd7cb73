// A run directory every rank sees. Rank 0 writes the checkpoints and every rank reads them to resume: a
// folder on a node-local disk would let a fresh run train (the other nodes never look) and then resume the
// ranks of other nodes from nothing while rank 0 resumes from its checkpoint — a half-resume. So it is
// checked at the start of every multi-rank run, fresh or resumed, and a run directory that is not shared is
// refused before anything is trained (exit 3).
#pragma once
#include <string>

#include "collectives/communicator.h"

namespace imprint {

// Call after rank 0 holds the run directory's lock (RunDirectoryLock), on every rank. Rank 0 sends the lock
// file's content to every rank; each reads DIR/imprint.lock (for up to 3 s: a shared filesystem may show a new
// file late). When a rank sees another content or none, rank 0 throws one RunDirectoryError naming the ranks
// and their hosts that do not see it (and its own host); the other ranks remove the directory if `made` it and
// it is empty, and wait to be ended with the job. A world of one returns at once.
void check_run_directory_is_shared(const std::string& dir, bool made, Communicator& comm);

}  // namespace imprint
