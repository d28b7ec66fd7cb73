#include "trainer/trainer.h"

#include <ATen/Parallel.h>
#include <torch/utils.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "core/log.h"
#include "data/prefetch_loader.h"
#include "data/view_sampler.h"
#include "trainer/best_checkpoint.h"
#include "trainer/checkpointer.h"
#include "trainer/dataset_setup.h"
#include "trainer/evaluator.h"
#include "trainer/fault_injection.h"
#include "trainer/lr_schedule.h"
#include "trainer/metrics_log.h"
#include "trainer/model_parts.h"
#include "trainer/run_device.h"
#include "trainer/run_directory.h"
#include "trainer/shared_run_directory.h"
#include "trainer/step_agreement.h"
#include "trainer/step_log.h"
#include "trainer/stop_signals.h"
#include "trainer/train_step.h"

namespace imprint {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// The config with what the dataset decides where the config leaves it open (its rules checked again).
JobConfig with_dataset_shape(const JobConfig& given, bool lead) {
  ConfigValues values = given.values;
  const auto taken = adopt_dataset_shape(values);
  for (const auto& t : taken)
    if (lead) log::info(t + " (the config leaves it open)");
  return taken.empty() ? given
                       : read_job(values, given.source + " (with values taken from " + dataset_name(given) + ")");
}

// The run directory's checkpoints, refusing a folder that holds some unless resuming and an entry that would
// block a later checkpoint's write. Returns how many checkpoint files it holds. Every rank reads it (it must
// be on a shared filesystem), so all agree on where to start.
size_t check_run_directory(const TrainOptions& o, const JobConfig& job, int world) {
  std::vector<std::string> not_files;
  const CheckpointStore store(o.run_dir + "/checkpoints", job.checkpoint.keep);
  const auto existing = store.list(&not_files);
  for (const auto& entry : not_files) {
    const std::string path = entry.substr(0, entry.find(": "));
    const auto n = fs::path(path).filename().string();
    const bool ours = n.size() == 18 && n.rfind("step-", 0) == 0 && n.compare(13, 5, ".ckpt") == 0 &&
                      n.find_first_not_of("0123456789", 5) == 13;
    if (ours && std::stoll(n.substr(5, 8)) <= job.train.steps)  // a step this run may write
      throw CheckpointError(entry + ": a later checkpoint could not be written there; remove it");
  }
  if (!existing.empty() && !o.resume)
    throw CheckpointError(o.run_dir + " already holds checkpoints (" + existing.front().path +
                          "); pass --resume to continue that run or choose another --run-dir");
  if (world > 1 && job.train.batch_size % world != 0)
    throw ConfigError(job.source + ": train.batch_size: " + std::to_string(job.train.batch_size) +
                      " identities per step must be a multiple of the number of ranks (" + std::to_string(world) + ")");
  return existing.size();
}

// Makes the run directory and (rank 0) locks it, so a second run in it is refused while this one holds it;
// then checks what it holds (`existing`: its checkpoint files) and removes temp files of unfinished writes.
std::unique_ptr<RunDirectoryLock> take_run_directory(const TrainOptions& o, const JobConfig& job, Communicator& comm,
                                                     size_t& existing) {
  const bool lead = comm.rank() == 0;
  const bool made = make_run_directory(o.run_dir);
  auto lock = lead ? RunDirectoryLock::acquire(o.run_dir, made) : nullptr;
  check_run_directory_is_shared(o.run_dir, made, comm);  // before any rank reads a checkpoint from it
  // Shown once the lock is held: a run refused here (another run holds the directory) saves no configuration.
  if (lead) log::info("resolved configuration:\n" + job.to_yaml());
  existing = check_run_directory(o, job, comm.size());
  if (lead)
    for (const auto& f : CheckpointStore(o.run_dir + "/checkpoints", 1).remove_unfinished_writes())
      log::info("removed " + f + ", the temp file of a checkpoint write that never finished");
  return lock;
}

// A resumed run at or past its end: says so, before reading (and verifying) any data.
bool nothing_to_do(const JobConfig& job, const TrainOptions& o, const RunRecord& record, TrainSummary& summary) {
  const int64_t step = record.step, stop_at = job.train.stop_at, total = job.train.steps;
  const bool at_stop = stop_at > 0 && step >= stop_at && step < total;
  if (!at_stop && step < total) return false;
  log::info(at_stop ? log::strf("step %lld is already at train.stop_at=%lld; nothing to do (resume without it to go "
                                "on)",
                                (long long)step, (long long)stop_at)
                    : log::strf("the run in %s is already finished (step %lld of %lld); nothing to do",
                                o.run_dir.c_str(), (long long)step, (long long)total));
  summary.start_step = summary.steps_done = step;
  summary.stopped_early = at_stop;
  summary.already_finished = !at_stop;
  summary.first_loss = record.first_loss;
  return true;
}

// Rank 0's metrics.jsonl (and TensorBoard); a resumed run repeats the steps after its checkpoint, so their
// old records go and every step keeps one.
std::unique_ptr<MetricsLog> open_metrics(const JobConfig& job, const TrainOptions& o, const RunRecord& record) {
  const std::string path = o.run_dir + "/metrics.jsonl";
  if (o.resume) MetricsLog::drop_after(path, record.step);
  auto metrics =
      std::make_unique<MetricsLog>(path, record.restarts, job.log.tensorboard ? o.run_dir + "/tensorboard" : "");
  if (record.restarts > 0) {
    metrics->write({{"event", "resume"}, {"step", record.step}});
    metrics->mark_start(record.step + 1);
  }
  return metrics;
}

void log_start(const JobConfig& job, const ModelParts& parts, const IdentityDataset& dataset,
               const ViewSampler& sampler, const Communicator& comm, int64_t step, int64_t end) {
  std::string names;
  for (const auto& n : parts.objective->names()) names += (names.empty() ? "" : " + ") + n;
  const int64_t frozen = parts.frozen_count();
  int64_t encoder_params = 0;
  for (const auto& p : parts.encoder->parameters()) encoder_params += p.numel();
  log::info(log::strf("objectives: %s; training %.2fM parameters%s", names.c_str(), parts.trainable_count() / 1e6,
                      frozen > 0 ? log::strf(" (%.2fM more frozen)", frozen / 1e6).c_str() : ""));
  log::info(
      log::strf("%s encoder: %.2fM parameters, %lld tokens x %lld; %zu train / %zu held-out identities; "
                "%lld identities x %lld samples per step over %d rank(s) (%s), %lld steps per epoch; steps "
                "%lld..%lld of %lld; %d torch threads; device %s",
                modality_name(job.model.modality), encoder_params / 1e6, (long long)job.model.tokens,
                (long long)job.model.embed_dim, dataset.train_identities().size(), dataset.eval_identities().size(),
                (long long)job.train.batch_size, (long long)sampler.views(), comm.size(), comm.backend().c_str(),
                (long long)sampler.steps_per_epoch(), (long long)step + 1, (long long)end, (long long)job.train.steps,
                at::get_num_threads(), parts.device.str().c_str()));
}

// Between two steps: a checkpoint when due, first (an evaluation that fails or is preempted must not cost the
// training steps), then an evaluation when due. Returns what they were, for the context of the next step's
// collectives.
std::string between_steps(int64_t step, bool checkpoint_agreed, Checkpointer& checkpointer, Evaluator& evaluator,
                          BestCheckpoint& best, MetricsLog* metrics, bool lead) {
  std::string after;
  if (checkpointer.due(step, checkpoint_agreed)) {
    checkpointer.save(step);
    after = log::strf(", after the step-%lld checkpoint that rank 0 writes", static_cast<long long>(step));
  }
  if (evaluator.due(step)) {
    evaluator.run(step, metrics);
    best.offer(step, evaluator.selection_score(), evaluator.selection_set(), checkpointer, lead);
    after += log::strf(", after the step-%lld evaluation", static_cast<long long>(step));
  }
  return after;
}

// After the loop: the final checkpoint (no rank returns, and perhaps resumes or reads it, before rank 0 has
// written it), then what ended the run, and the evaluation of a finished one.
void finish(const JobConfig& job, const TrainOptions& o, int64_t step, ModelParts& parts, Checkpointer& checkpointer,
            Evaluator& evaluator, BestCheckpoint& best, MetricsLog* metrics, Communicator& comm,
            TrainSummary& summary) {
  checkpointer.save(step);
  comm.set_context("final checkpoint");
  comm.barrier();
  summary.steps_done = step;
  summary.stopped_early = step < job.train.steps;
  const bool lead = comm.rank() == 0;
  if (summary.stop_signal) {
    log::info(log::strf("stopped after step %lld on %s, checkpoint written; continue with --resume", (long long)step,
                        signal_name(summary.stop_signal)));
    if (metrics) metrics->write({{"event", "stopped"}, {"step", step}, {"signal", signal_name(summary.stop_signal)}});
  } else if (summary.stopped_early) {
    // An evaluation due at the stop step runs now: the resumed run starts after it and would never make it.
    if (evaluator.due(step)) {
      evaluator.run(step, metrics);
      best.offer(step, evaluator.selection_score(), evaluator.selection_set(), checkpointer, lead);
    }
    log::info(log::strf("stopped after step %lld (train.stop_at); continue with --resume", (long long)step));
  } else {
    summary.eval = evaluator.run(step, metrics);
    best.offer(step, evaluator.selection_score(), evaluator.selection_set(), checkpointer, lead);
    if (lead && summary.eval.measured) evaluator.write_embeddings(o.run_dir, summary.eval);
  }
  summary.evaluation = evaluator.objective_values();
  for (const auto& kv : parts.named) summary.parameters.push_back(kv.second.detach().cpu().clone());
  for (const auto& a : parts.average) summary.averaged.push_back(a.cpu().clone());
}

}  // namespace

TrainSummary train(const JobConfig& given, const TrainOptions& o) {
  std::unique_ptr<Communicator> own_comm = o.comm ? nullptr : make_local_communicator();
  Communicator& comm = o.comm ? *o.comm : *own_comm;
  const bool lead = comm.rank() == 0;
  const JobConfig job = with_dataset_shape(given, lead);
  comm.set_context("start-up");
  set_torch_threads(job, o.local_size, comm.size());
  size_t existing = 0;
  const auto lock = take_run_directory(o, job, comm, existing);  // held until train() returns or throws
  const Fault fault = fault_from_environment();
  torch::manual_seed(job.seed);  // decides the initial parameters (the data use counter-based streams of their own)
  const at::Device device = pick_device(job, o.local_rank, comm);
  ModelParts parts = build_model_parts(job, device, comm.rank(), comm.size());
  RunRecord record;
  Checkpointer checkpointer(o.run_dir, job, parts, record, comm);
  if (o.resume) checkpointer.resume(existing);
  TrainSummary summary;
  if (nothing_to_do(job, o, record, summary)) return summary;
  const auto dataset = open_dataset(job, comm);
  parts.objective->check_dataset(facts_of(*dataset, dataset_name(job)));
  // Saved once the config has passed every check, so a refused config leaves nothing behind.
  if (lead && o.write_config) {
    write_file_atomically(o.run_dir + "/config.yaml", job.to_yaml());
    log::info("saved the resolved configuration as " + o.run_dir + "/config.yaml");
  }
  int64_t step = summary.start_step = record.step;
  const int64_t end = job.train.stop_at > 0 ? job.train.stop_at : job.train.steps;

  TrainStep train_step(job, parts, comm);
  const ViewSampler sampler(*dataset, job.seed, job.train.batch_size, comm.rank(), comm.size(), job.data.augment,
                            parts.objective->augments_targets(), job.train.samples_per_identity);
  Evaluator evaluator(job, *dataset, parts);
  const std::unique_ptr<MetricsLog> metrics = lead ? open_metrics(job, o, record) : nullptr;
  PrefetchLoader loader(*dataset, sampler, static_cast<int>(job.data.workers), static_cast<int>(job.data.prefetch),
                        step, /*pin_memory=*/device.is_cuda());
  log_start(job, parts, *dataset, sampler, comm, step, end);
  BestCheckpoint best(o.run_dir, job, o.resume, evaluator.selection_set());
  StepLog step_log(metrics.get(), *parts.optimizer, comm, job.train.log_every, job.train.batch_size, step, end,
                   job.train.steps, record.first_loss);
  const LrSchedule schedule{job.schedule.kind, job.optimizer.lr, job.schedule.warmup_steps, job.train.steps,
                            job.schedule.min_lr_ratio};
  StepAgreement agreement(comm.host());
  // What the ranks did between two steps, named by the next step's collectives should they time out: a
  // checkpoint or evaluation longer than distributed.timeout_s otherwise reads as rank 0 gone missing.
  std::string after;
  while (step < end) {
    maybe_inject_fault(fault, comm.rank(), step + 1);
    const auto t0 = Clock::now();
    ViewBatch batch = loader.next();
    const double data_ms = ms_since(t0);
    comm.set_context(log::strf("step %lld%s", static_cast<long long>(step + 1), after.c_str()));
    after.clear();
    const double lr = schedule.at(step);
    const StepOutcome outcome = train_step.run(std::move(batch), lr);
    step_log.record(outcome, ++step, lr, data_ms);
    // Posted now, agreed on one step later (the all-reduce overlaps the next step), the same on every rank.
    const StepAgreement::Decision agreed = agreement.exchange(stop_signal(), lead && checkpointer.time_due());
    if (step == end) break;
    if (agreed.stop_signal) {
      summary.stop_signal = agreed.stop_signal;
      break;
    }
    after = between_steps(step, agreed.checkpoint, checkpointer, evaluator, best, metrics.get(), lead);
  }
  finish(job, o, step, parts, checkpointer, evaluator, best, metrics.get(), comm, summary);
  summary.first_loss = record.first_loss;
  summary.last_loss = step_log.last_loss();
  return summary;
}

}  // namespace imprint
