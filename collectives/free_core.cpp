#include "collectives/free_core.h"

#include <fcntl.h>
#include <sched.h>
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
  cpu_set_t set;
  CPU_ZERO(&set);
  cores_ = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set)
                                                        : static_cast<int>(std::thread::hardware_concurrency());
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
