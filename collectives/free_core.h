// Whether this machine has a core that no runnable thread is using right now. A rank waiting for its peers
// may poll (fastest: it notices them at once) only while that costs nobody anything; when every core is
// wanted, its polling takes one from compute — its own data loader, a peer on the same node, another job —
// and it should sleep instead (collectives/mpi_communicator.cpp, distributed.sleep_while_waiting).
#pragma once
#include <string>

namespace imprint {

// From /proc/loadavg's fourth field ("running/total"): the kernel's count of runnable threads at the moment
// of reading, the caller included. A core is free when those fit on the machine's cores.
// False when the text cannot be read (then waiting sleeps: the choice that never takes a core).
bool a_core_is_free(const std::string& loadavg, int cores);

class FreeCoreProbe {
 public:
  FreeCoreProbe();             // counts the machine's online cores (not the affinity mask: mpirun binds ranks)
  bool free_core_now() const;  // reads /proc/loadavg (a few microseconds)
  int cores() const { return cores_; }

 private:
  int cores_;
};

}  // namespace imprint
