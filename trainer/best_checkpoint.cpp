#include "trainer/best_checkpoint.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>

#include "core/log.h"

namespace imprint {

namespace {

bool lower_is_better(BestMetric m) {
  return m == BestMetric::Eer || m == BestMetric::MinDcf || m == BestMetric::EerAsnorm;
}

double value_of(BestMetric m, const RetrievalScore& s) {
  switch (m) {
    case BestMetric::Top1:
      return s.top1;
    case BestMetric::Top1All:
      return s.top1_all;
    case BestMetric::Eer:
      return s.eer;
    case BestMetric::MinDcf:
      return s.min_dcf;
    case BestMetric::EerAsnorm:
      return s.eer_asnorm;
    case BestMetric::None:
      break;
  }
  return std::nan("");
}

}  // namespace

BestCheckpoint::BestCheckpoint(const std::string& run_dir, const JobConfig& job, bool resume, const std::string& set)
    : run_dir_(run_dir),
      metric_(job.checkpoint.keep_best),
      name_(job.values.text("checkpoint.keep_best")),
      best_(std::nan("")) {
  const BestMetric metric = metric_;
  if (metric == BestMetric::None || !resume) return;
  std::ifstream in(run_dir + "/best.json");
  if (!in) return;
  const auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.value("metric", "") != name_ || !j.contains("value")) return;
  if (j.value("set", "held-out (all)") != set) {
    log::info(log::strf(
        "%s/best.json was measured on the %s, this run chooses on the %s: its best.ckpt will be "
        "replaced by the first evaluation",
        run_dir.c_str(), j.value("set", "held-out identities (before validation splits)").c_str(), set.c_str()));
    return;
  }
  best_ = j["value"];
}

void BestCheckpoint::offer(int64_t step, const RetrievalScore& score, const std::string& set,
                           Checkpointer& checkpointer, bool lead) {
  if (metric_ == BestMetric::None || !score.measured) return;
  const double v = value_of(metric_, score);
  if (!std::isnan(best_) && (lower_is_better(metric_) ? v >= best_ : v <= best_)) return;
  best_ = v;
  const std::string path = checkpointer.save_as(step, run_dir_ + "/best.ckpt");  // every rank: a collective
  if (!lead) return;
  std::ofstream(run_dir_ + "/best.json")
      << nlohmann::json{{"metric", name_}, {"value", v}, {"step", step}, {"set", set}, {"checkpoint", path}}.dump(2)
      << "\n";
  log::info(log::strf("best %s so far on the %s (%.4g at step %lld): %s", name_.c_str(), set.c_str(), v,
                      (long long)step, path.c_str()));
}

}  // namespace imprint
