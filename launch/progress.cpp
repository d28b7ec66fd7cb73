#include "launch/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <memory>

#include "config/config_error.h"
#include "core/text.h"

namespace imprint {

int64_t parse_size(const std::string& text, const std::string& option) {
  size_t end = 0;
  double v = 0;
  try {
    v = std::stod(text, &end);
  } catch (const std::exception&) {
    throw ConfigError(option + " " + text + ": expected a size such as 256MB");
  }
  std::string unit = text.substr(end);
  for (auto& ch : unit) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  const double mult = unit.empty() || unit == "B" ? 1
                      : unit == "KB"              ? 1e3
                      : unit == "MB"              ? 1e6
                      : unit == "GB"              ? 1e9
                                                  : -1;
  if (mult < 0 || v <= 0) throw ConfigError(option + " " + text + ": expected a size such as 256MB");
  return static_cast<int64_t>(v * mult);
}

std::function<void(int64_t, int64_t)> progress_printer(const char* what, const char* unit) {
  auto last = std::make_shared<int64_t>(-1);
  const auto start = std::chrono::steady_clock::now();
  const bool tty = isatty(STDERR_FILENO);
  return [=](int64_t done, int64_t total) {
    const int64_t percent = 100 * done / std::max<int64_t>(1, total);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
    const std::string eta = rate > 0 ? format_duration(static_cast<double>(total - done) / rate) : "?";
    if (tty) {
      const int filled = static_cast<int>(percent * 30 / 100);
      std::fprintf(stderr, "\r%s [%s%s] %lld/%lld %s (%lld%%) %.1f/s ETA %s   ", what, std::string(filled, '#').c_str(),
                   std::string(30 - filled, '.').c_str(), (long long)done, (long long)total, unit, (long long)percent,
                   rate, eta.c_str());
      if (done == total) std::fprintf(stderr, "\n");
    } else if (percent / 10 != *last / 10 || done == total) {
      std::fprintf(stderr, "%s: %lld/%lld %s (%.1f/s, ETA %s)\n", what, (long long)done, (long long)total, unit, rate,
                   eta.c_str());
    }
    *last = percent;
  };
}

}  // namespace imprint
