#include "trainer/step_log.h"

#include <algorithm>

#include "core/log.h"
#include "core/text.h"

namespace imprint {

namespace {
using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }
// " (denoise 0.0587, infonce 0.0480, ...)": the values the objectives want beside the total ("loss_" dropped
// from a term's name).
std::string shown_values(const std::vector<std::string>& shown, const std::map<std::string, double>& values) {
  std::string parts;
  for (const auto& name : shown) {
    const auto it = values.find(name);
    if (it == values.end()) continue;
    const std::string label = name.rfind("loss_", 0) == 0 ? name.substr(5) : name;
    parts += (parts.empty() ? "" : ", ") + label + log::strf(" %.4f", it->second);
  }
  return parts.empty() ? parts : " (" + parts + ")";
}

}  // namespace

StepLog::StepLog(MetricsLog* metrics, Optimizer& optimizer, Communicator& comm, int64_t every, int64_t batch,
                 int64_t first_step, int64_t end, int64_t total, double& first_loss)
    : metrics_(metrics),
      optimizer_(optimizer),
      comm_(comm),
      every_(every),
      batch_(batch),
      first_step_(first_step),
      end_(end),
      total_(total),
      taken_at_start_(optimizer.steps_taken()),
      first_loss_(first_loss) {
  interval_start_ = run_start_ = Clock::now();
}

void StepLog::record(const StepOutcome& o, int64_t step, double lr, double data_ms) {
  data_ms_ += data_ms;
  compute_ms_ += o.compute_ms;
  comm_ms_ += o.comm_wait_ms;
  optim_ms_ += o.optim_ms;
  report_ = o.report;
  if (o.report.known && o.report.skipped) {
    ++skipped_;
    log::warn(
        log::strf("step %lld: non-finite gradient (norm %g), update skipped", (long long)step, o.report.grad_norm));
  }
  for (const auto& [name, value] : o.logged) {
    auto& sum = logged_sums_[name];
    sum = sum.defined() ? sum + value : value;
    ++logged_counts_[name];
  }
  for (const auto& name : o.shown)  // in the order first seen: some are shown only on the steps that log them
    if (std::find(shown_.begin(), shown_.end(), name) == shown_.end()) shown_.push_back(name);
  const at::Tensor loss = o.loss.to(at::kDouble);
  loss_sum_ = loss_sum_.defined() ? loss_sum_ + loss : loss;
  ++interval_;
  if (step % every_ == 0 || step == end_) write(step, lr);
}

void StepLog::write(int64_t step, double lr) {
  const double wall = ms_since(interval_start_);
  // Each rank's loss covers its own rows of the global batch: their mean is the global-batch loss, and so for
  // the objectives' own values (per-term losses, probes; each over the steps that logged it), reduced in the
  // same collective. Scalars the trainer reduces live where the backend works (GPU memory for NCCL).
  const at::Device where = comm_.backend() == "nccl" ? loss_sum_.device() : at::Device(at::kCPU);
  std::vector<at::Tensor> parts = {(loss_sum_ / static_cast<double>(interval_)).reshape({1})};
  for (const auto& [name, sum] : logged_sums_)
    parts.push_back(
        (sum.to(at::kDouble) / static_cast<double>(logged_counts_[name])).reshape({1}).to(parts[0].device()));
  at::Tensor global = at::cat(parts).to(where).contiguous();
  comm_.allreduce_(global, ReduceOp::Average);
  global = global.cpu();  // .cpu() also syncs the GPU: timings are honest
  const double mean_loss = global[0].item<double>();
  std::map<std::string, double> values;
  int64_t i = 1;
  for (const auto& kv : logged_sums_) values[kv.first] = global[i++].item<double>();
  if (!report_.known) {  // the device's report and update counter, read once per log line
    report_ = optimizer_.last_report();
    const int64_t now_skipped = (step - first_step_) - (optimizer_.steps_taken() - taken_at_start_);
    if (now_skipped > skipped_)
      log::warn(log::strf("%lld update(s) skipped (non-finite gradient) up to step %lld",
                          (long long)(now_skipped - skipped_), (long long)step));
    skipped_ = now_skipped;
  }
  if (std::isnan(first_loss_)) first_loss_ = mean_loss;
  last_loss_ = mean_loss;
  const double n = static_cast<double>(interval_);
  const double sps = 1000.0 * n * static_cast<double>(batch_) / wall;
  const double elapsed = ms_since(run_start_) / 1000;
  const double eta = elapsed / static_cast<double>(step - first_step_) * static_cast<double>(end_ - step);
  log::info(
      log::strf("step %6lld/%lld | loss %.4f%s | lr %.2e | %.0f samples/s | data %.1f ms (%.1f%%) | "
                "fwd+bwd %.1f ms (comm wait %.1f) | optim %.1f ms | %s elapsed, ETA %s",
                (long long)step, (long long)total_, mean_loss, shown_values(shown_, values).c_str(), lr, sps,
                data_ms_ / n, 100 * data_ms_ / wall, compute_ms_ / n, comm_ms_ / n, optim_ms_ / n,
                format_duration(elapsed).c_str(), format_duration(eta).c_str()));
  nlohmann::json record = {{"step", step},
                           {"loss", mean_loss},
                           {"lr", lr},
                           {"samples_per_s", sps},
                           {"data_ms", data_ms_ / n},
                           {"fwd_bwd_ms", compute_ms_ / n},
                           {"comm_wait_ms", comm_ms_ / n},
                           {"optim_ms", optim_ms_ / n},
                           {"data_wait_fraction", data_ms_ / wall},
                           {"grad_norm", report_.grad_norm},
                           {"skipped_steps", skipped_}};
  for (const auto& [name, value] : values) record[name] = value;
  if (metrics_) metrics_->write(record);
  logged_sums_.clear();
  logged_counts_.clear();
  loss_sum_ = at::Tensor();
  data_ms_ = compute_ms_ = comm_ms_ = optim_ms_ = 0;
  interval_ = 0;
  interval_start_ = Clock::now();
}

}  // namespace imprint
