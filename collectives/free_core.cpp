#include "collectives/free_core.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

namespace imprint {

bool a_core_is_free(const std::string& loadavg, int cores) {
  double one = 0, five = 0, fifteen = 0;
  long running = 0, total = 0;
  if (std::sscanf(loadavg.c_str(), "%lf %lf %lf %ld/%ld", &one, &five, &fifteen, &running, &total) != 5) return false;
  return running >= 1 && running <= cores;
}

FreeCoreProbe::FreeCoreProbe() {
  // The machine's cores, not this process's affinity mask: the runnable count is the whole machine's, and
  // mpirun binds each rank to one core, so a rank's mask would never leave room for anyone else.
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  cores_ = online > 0 ? static_cast<int>(online) : static_cast<int>(std::thread::hardware_concurrency());
}

bool FreeCoreProbe::free_core_now() const {
  const int fd = ::open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char text[128];
  const ssize_t n = ::read(fd, text, sizeof(text) - 1);
  ::close(fd);
  return n > 0 && a_core_is_free(std::string(text, static_cast<size_t>(n)), cores_);
}

}  // namespace imprint
