#include "core/log.h"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <cstdarg>
#include <cstdlib>
#include <vector>

namespace imprint::log {
namespace {
int g_rank = 0;
}

void set_rank(int rank, int world_size) {
  g_rank = rank;
  // Colour only for a person at a terminal: not in files, pipes, or behind a launcher (mpirun hands its
  // ranks a pseudo-terminal and copies what they print into the job's log file). NO_COLOR turns it off too.
  const bool colour = world_size == 1 && isatty(STDOUT_FILENO) && !std::getenv("NO_COLOR");
  const std::string level = colour ? "[%^%l%$]" : "[%l]";
  if (world_size > 1) {
    spdlog::set_pattern("[%H:%M:%S.%e] " + level + " [rank " + std::to_string(rank) + "] %v");
    spdlog::set_level(rank == 0 ? spdlog::level::info : spdlog::level::warn);
  } else {
    spdlog::set_pattern("[%H:%M:%S.%e] " + level + " %v");
    spdlog::set_level(spdlog::level::info);
  }
}

int rank() { return g_rank; }

void info(const std::string& message) { spdlog::info("{}", message); }
void warn(const std::string& message) { spdlog::warn("{}", message); }
void error(const std::string& message) { spdlog::error("{}", message); }
void flush() {
  spdlog::default_logger()->flush();
  std::fflush(stdout);
  std::fflush(stderr);
}

std::string strf(const char* format, ...) {
  va_list args;
  va_start(args, format);
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  std::vector<char> buf(static_cast<size_t>(n > 0 ? n : 0) + 1);
  std::vsnprintf(buf.data(), buf.size(), format, args);
  va_end(args);
  return std::string(buf.data(), static_cast<size_t>(n > 0 ? n : 0));
}

}  // namespace imprint::log
