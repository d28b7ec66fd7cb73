#include "trainer/metrics_log.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace imprint {

namespace {

std::string tensorboard_tag(const std::string& key) {
  const auto ends_with = [&](const std::string& tail) {
    return key.size() >= tail.size() && key.compare(key.size() - tail.size(), tail.size(), tail) == 0;
  };
  if (key.rfind("eval_", 0) == 0 || key.rfind("fidelity_", 0) == 0 || key == "chance") return "eval/" + key;
  if (ends_with("_ms") || key == "samples_per_s" || key == "data_wait_fraction") return "time/" + key;
  return "train/" + key;
}

}  // namespace

MetricsLog::MetricsLog(const std::string& path, int64_t restart, const std::string& tensorboard_dir)
    : path_(path), restart_(restart), out_(path, "metrics log") {
  if (!tensorboard_dir.empty()) tensorboard_ = std::make_unique<TensorBoardWriter>(tensorboard_dir);
}

void MetricsLog::write(nlohmann::json record) {
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  record["time"] = std::round(now * 1000) / 1000;
  record["restart"] = restart_;
  const std::string which = record.contains("event") && record["event"].is_string()
                                ? "the '" + record["event"].get<std::string>() + "' record"
                            : record.contains("step") ? "the record of step " + record["step"].dump()
                                                      : "a record";
  out_.append(record.dump() + "\n", which);
  if (!tensorboard_ || !record.contains("step") || record.contains("event")) return;
  const int64_t step = record["step"].get<int64_t>();
  for (const auto& [key, value] : record.items())
    if (value.is_number() && key != "step" && key != "time" && key != "restart")
      tensorboard_->scalar(tensorboard_tag(key), value.get<double>(), step);
}

void MetricsLog::mark_start(int64_t step) {
  if (tensorboard_) tensorboard_->session_start(step);
}

void MetricsLog::drop_after(const std::string& path, int64_t step) {
  std::ifstream in(path);
  if (!in) return;
  std::string kept;
  for (std::string line; std::getline(in, line);) {
    const auto record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (record.is_discarded() || !record.is_object()) continue;
    if (record.contains("step") && record["step"].is_number_integer() && record["step"].get<int64_t>() > step) continue;
    kept += line + '\n';
  }
  write_file_atomically(path, kept);
}

}  // namespace imprint
