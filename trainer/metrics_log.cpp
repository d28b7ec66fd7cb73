#include "trainer/metrics_log.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

namespace imprint {

MetricsLog::MetricsLog(const std::string& path, int64_t restart)
    : path_(path), restart_(restart), out_(path, std::ios::app) {
  if (!out_) throw std::runtime_error(path + ": cannot open metrics file for appending");
}

void MetricsLog::write(nlohmann::json record) {
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  record["time"] = std::round(now * 1000) / 1000;
  record["restart"] = restart_;
  out_ << record.dump() << '\n';
  out_.flush();
}

void MetricsLog::drop_after(const std::string& path, int64_t step) {
  std::ifstream in(path);
  if (!in) return;
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (std::string line; std::getline(in, line);) {
      const auto record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (record.is_discarded() || !record.is_object()) continue;
      if (record.contains("step") && record["step"].is_number_integer() && record["step"].get<int64_t>() > step)
        continue;
      out << line << '\n';
    }
    if (!out) throw std::runtime_error(tmp + ": cannot write metrics file");
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace imprint
