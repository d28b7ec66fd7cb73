#include "trainer/train_step.h"

#include <chrono>

#include "core/log.h"
#include "trainer/autocast_scope.h"
#include "trainer/checkpoint/weight_average.h"

namespace imprint {

namespace {
using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }
}  // namespace

TrainStep::TrainStep(const JobConfig& job, ModelParts& parts, Communicator& comm)
    : parts_(parts),
      comm_(comm),
      clip_(job.optimizer.grad_clip),
      bf16_(job.train.precision == Precision::Bf16),
      log_every_(job.train.log_every) {
  if (job.log.gradient_paths) paths_ = std::make_unique<GradientPaths>(parts);
  std::vector<at::Tensor> state;
  for (const auto& kv : parts.named) state.push_back(kv.second);
  for (const auto& b : parts.encoder->buffers()) state.push_back(b);
  for (const auto& b : parts.objective->buffers()) state.push_back(b);
  GradientReducer::broadcast_from_rank0(comm, state);
  if (comm.size() == 1) return;
  GradientReducer::Options ro;
  const DistributedConfig& d = job.distributed;
  ro.bucket_bytes = static_cast<int64_t>(d.bucket_mb * (1 << 20));
  ro.first_bucket_bytes = static_cast<int64_t>(d.first_bucket_mb * (1 << 20));
  ro.find_unused_parameters = d.find_unused_parameters;
  ro.wire = d.grad_compression == GradWire::Bf16 ? at::kBFloat16 : at::kFloat;
  std::vector<at::Tensor> params;
  std::vector<std::string> names;
  for (const auto& kv : parts.named) params.push_back(kv.second), names.push_back(kv.first);
  reducer_ = std::make_unique<GradientReducer>(params, names, comm, ro);
}

EncodedBatch TrainStep::encode(const at::Tensor& views) {
  EncodedBatch e;
  const int64_t n = parts_.views_read;
  if (n == 0) return e;
  if (parts_.device.is_cuda()) {  // one forward over [B*n, ...]: fewer, larger kernels
    const int64_t rows = views.size(0);
    const Conditioning c = parts_.encoder->encode(views.slice(1, 0, n).flatten(0, 1));
    e.tokens = c.tokens.unflatten(0, {rows, n});
    e.pooled = c.pooled.unflatten(0, {rows, n});
    return e;
  }
  // On the CPU one forward per view is faster: [B, ...] activations stay in cache (smoke-image, 2 cores: 300 vs
  // 278 samples/s for one forward over [2B], docs/benchmarks.md).
  std::vector<at::Tensor> tokens, pooled;
  for (int64_t k = 0; k < n; ++k) {
    const Conditioning c = parts_.encoder->encode(views.select(1, k).contiguous());
    tokens.push_back(c.tokens);
    pooled.push_back(c.pooled);
  }
  e.tokens = at::stack(tokens, 1);
  e.pooled = at::stack(pooled, 1);
  return e;
}

// The first step of this process (a run or a resume) and every logged step.
bool TrainStep::probe_due(int64_t step) { return !probed_ || step % log_every_ == 0; }

StepOutcome TrainStep::run(ViewBatch b, double lr) {
  StepOutcome o;
  const auto t1 = Clock::now();
  if (parts_.device.is_cuda()) b.views = b.views.to(parts_.device, /*non_blocking=*/true);
  for (auto& kv : parts_.named) kv.second.mutable_grad() = at::Tensor();
  const TrainBatch rows{b.views, b.identity, b.content, b.step, comm_.rank() * b.identity.size(0)};
  ObjectiveOutput out;
  {
    AutocastScope autocast(parts_.device, bf16_);
    out = parts_.objective->compute(rows, encode(b.views), comm_);
  }
  if (paths_ && probe_due(b.step + 1)) {  // before the reducer is armed: its hooks ignore these gradients
    const auto values = paths_->measure(out.terms);
    if (!probed_)
      for (const auto& w : paths_->broken(values)) log::warn(log::strf("step %lld: ", (long long)(b.step + 1)) + w);
    probed_ = true;
    for (const auto& [name, value] : values) o.logged[name] = value;
  }
  out.terms.clear();
  if (reducer_) reducer_->prepare(/*sync=*/true);
  out.loss = out.loss.to(at::kFloat);
  out.loss.backward();
  for (auto& [name, value] : out.logged) o.logged[name] = value;
  o.shown = std::move(out.shown);
  o.loss = out.loss.detach();
  if (reducer_) {
    reducer_->finalize();
    o.comm_wait_ms = 1000 * reducer_->last_wait_seconds();
  }
  o.compute_ms = ms_since(t1);
  const auto t2 = Clock::now();
  o.report = parts_.optimizer->step_async(lr, clip_);
  parts_.objective->step_shards(lr);
  o.optim_ms = ms_since(t2);
  // On a GPU the skip flag is not read back per step: the average then also moves on a skipped step
  // (towards unchanged weights).
  if (!parts_.average.empty() && !(o.report.known && o.report.skipped))
    update_average(parts_.average, parts_.named, parts_.average_decay);
  return o;
}

}  // namespace imprint
