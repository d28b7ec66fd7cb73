#include "trainer/metrics_log.h"

#include "data/png_encode.h"
#include "data/wav_write.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace imprint {

namespace {

bool starts_with(const std::string& s, const char* head) { return s.rfind(head, 0) == 0; }

// An evaluation's record (retrieval: eval_*; an objective's: fidelity_*, with chance and identities beside).
bool is_evaluation(const nlohmann::json& record) {
  for (const auto& item : record.items())
    if (starts_with(item.key(), "eval_") || starts_with(item.key(), "fidelity_")) return true;
  return false;
}

// eval/<name> for every field of an evaluation's record (eval/top1, eval/identities, eval/fidelity_top1), else
// time/<name> for timings and train/<name>.
std::string tensorboard_tag(const std::string& key, bool evaluation) {
  const auto ends_with = [&](const std::string& tail) {
    return key.size() >= tail.size() && key.compare(key.size() - tail.size(), tail.size(), tail) == 0;
  };
  if (evaluation) return "eval/" + (starts_with(key, "eval_") ? key.substr(5) : key);
  if (ends_with("_ms") || key == "samples_per_s" || key == "data_wait_fraction") return "time/" + key;
  return "train/" + key;
}

}  // namespace

MetricsLog::MetricsLog(const std::string& path, int64_t restart, const std::string& tensorboard_dir)
    : path_(path), restart_(restart), out_(path, "metrics log") {
  if (!tensorboard_dir.empty()) tensorboard_ = std::make_unique<TensorBoardWriter>(tensorboard_dir);
}

void MetricsLog::image(const std::string& tag, int width, int height, const std::vector<uint8_t>& rgb, int64_t step) {
  if (tensorboard_) tensorboard_->image(tag, encode_png_rgb(width, height, rgb), height, width, step);
}

void MetricsLog::audio(const std::string& tag, const std::vector<float>& samples, int sample_rate, int64_t step) {
  if (tensorboard_)
    tensorboard_->audio(tag, encode_wav_mono(samples, sample_rate), sample_rate, static_cast<int64_t>(samples.size()),
                        step);
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
  const bool evaluation = is_evaluation(record);
  for (const auto& [key, value] : record.items())
    if (value.is_number() && key != "step" && key != "time" && key != "restart")
      tensorboard_->scalar(tensorboard_tag(key, evaluation), value.get<double>(), step);
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
