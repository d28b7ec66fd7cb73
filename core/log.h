// Rank-aware logging ("one voice"): rank 0 logs at info level; other ranks log only warnings and errors,
// prefixed with their rank, so a problem on any rank still reaches the log.
//
// This header deliberately exposes no fmt/spdlog types: libtorch 2.x bundles its own fmt headers, which
// clash with the fmt that Debian's spdlog is built against when both are seen by one translation unit.
// spdlog is used only in log.cpp, which includes no torch header; callers format with strf().
#pragma once
#include <string>

namespace imprint::log {

void set_rank(int rank, int world_size);
// This process's rank as set_rank() recorded it (0 before), for messages that must name it.
int rank();
void info(const std::string& message);
void warn(const std::string& message);
void error(const std::string& message);
// Writes out anything buffered (before the process ends abruptly).
void flush();

// printf-style formatting into a std::string.
std::string strf(const char* format, ...) __attribute__((format(printf, 1, 2)));

}  // namespace imprint::log
