#include "trainer/step_log.h"

#include "core/log.h"
#include "core/text.h"

namespace imprint {

namespace {
using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }
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
  }
  const at::Tensor loss = o.loss.to(at::kDouble);
  loss_sum_ = loss_sum_.defined() ? loss_sum_ + loss : loss;
  ++interval_;
  if (step % every_ == 0 || step == end_) write(step, lr);
}

void StepLog::write(int64_t step, double lr) {
  const double wall = ms_since(interval_start_);
  // Each rank's loss covers its own rows of the global batch: their mean is the global-batch loss. Scalars
  // the trainer reduces live where the backend works (GPU memory for NCCL).
  const at::Device where = comm_.backend() == "nccl" ? loss_sum_.device() : at::Device(at::kCPU);
  at::Tensor global = (loss_sum_ / static_cast<double>(interval_)).reshape({1}).to(where).contiguous();
  comm_.allreduce_(global, ReduceOp::Average);
  const double mean_loss = global.item<double>();  // .item() also syncs the GPU: timings are honest
  if (!report_.known) {                            // the device's report and update counter, read once per log line
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
  log::info(log::strf(
      "step %6lld/%lld | loss %.4f | lr %.2e | %.0f samples/s | data %.1f ms (%.1f%%) | "
      "fwd+bwd %.1f ms (comm wait %.1f) | optim %.1f ms | %s elapsed, ETA %s",
      (long long)step, (long long)total_, mean_loss, lr, sps, data_ms_ / n, 100 * data_ms_ / wall, compute_ms_ / n,
      comm_ms_ / n, optim_ms_ / n, format_duration(elapsed).c_str(), format_duration(eta).c_str()));
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
  // The objectives' own values (temperature, per-term losses), read now: once per log line, not per step.
  for (auto& [name, sum] : logged_sums_) record[name] = sum.item<double>() / n;
  if (metrics_) metrics_->write(record);
  logged_sums_.clear();
  loss_sum_ = at::Tensor();
  data_ms_ = compute_ms_ = comm_ms_ = optim_ms_ = 0;
  interval_ = 0;
  interval_start_ = Clock::now();
}

}  // namespace imprint
