// Appends one JSON object per line to the run directory's metrics.jsonl, flushed per record so a crashed
// run keeps what it logged.
#pragma once
#include <nlohmann/json.hpp>

#include <fstream>
#include <string>

namespace imprint {

class MetricsLog {
 public:
  explicit MetricsLog(const std::string& path);
  void write(const nlohmann::json& record);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ofstream out_;
};

}  // namespace imprint
