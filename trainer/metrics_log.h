// Appends one JSON object per line to the run directory's metrics.jsonl, flushed per record so a crashed
// run keeps what it logged. Every record carries "time" (Unix seconds, wall clock) and "restart" (how many
// times the run had been resumed when it was written).
#pragma once
#include <nlohmann/json.hpp>

#include <fstream>
#include <string>

namespace imprint {

class MetricsLog {
 public:
  MetricsLog(const std::string& path, int64_t restart = 0);
  void write(nlohmann::json record);
  const std::string& path() const { return path_; }

  // Rewrites `path` (atomically) without the records of steps after `step`: a run resumed from the
  // checkpoint of `step` repeats those steps. Lines that are not JSON (a torn last line) go too.
  static void drop_after(const std::string& path, int64_t step);

 private:
  std::string path_;
  int64_t restart_;
  std::ofstream out_;
};

}  // namespace imprint
