#include "trainer/checkpointer.h"

#include "core/log.h"
#include "core/text.h"

namespace imprint {

Checkpointer::Checkpointer(const std::string& run_dir, const JobConfig& job, ModelParts& parts, RunRecord& record,
                           Communicator& comm)
    : store_(run_dir + "/checkpoints", job.checkpoint.keep),
      every_(job.checkpoint.every),
      every_minutes_(job.checkpoint.every_minutes),
      record_(record),
      comm_(comm),
      last_(std::chrono::steady_clock::now()) {
  parts_.push_back(std::make_unique<RunRecordState>(record, parts.signature, job.values, parts.views_read > 0));
  parts_.push_back(std::make_unique<EncoderState>(parts.encoder));
  parts_.push_back(std::make_unique<ObjectiveState>(*parts.objective));
  parts_.push_back(std::make_unique<OptimizerState>(*parts.optimizer));
  auto shards = std::make_unique<ShardState>(*parts.objective, comm);
  shards_ = shards.get();
  parts_.push_back(std::move(shards));
  parts_.push_back(std::make_unique<AverageState>(parts));
  parts_.push_back(std::make_unique<RngState>(parts.device));
}

int64_t Checkpointer::resume(size_t files_present) {
  torch::serialize::InputArchive ar;
  std::vector<std::string> skipped;
  const auto found = load_newest_valid(store_, ar, &skipped);
  for (const auto& s : skipped) log::warn("checkpoint passed over: " + s);
  if (!found && files_present > 0)
    throw CheckpointError(store_.dir() + ": none of its " + std::to_string(files_present) +
                          " checkpoint file(s) reads back intact (see the warnings above); refusing to start "
                          "the run again from step 0 — move them aside to do that");
  if (!found) {
    log::info("--resume: no checkpoint in " + store_.dir() + " yet, starting at step 0");
    return 0;
  }
  try {
    for (auto& part : parts_) part->load(ar, found->path);
  } catch (const CheckpointError&) {
    throw;
  } catch (const std::exception& e) {
    throw CheckpointError(found->path + ": cannot restore training state: " + first_line(e.what()));
  }
  ++record_.restarts;
  log::info(log::strf("resumed from %s at step %lld (restart %lld)", found->path.c_str(),
                      static_cast<long long>(record_.step), static_cast<long long>(record_.restarts)));
  return record_.step;
}

void Checkpointer::write(int64_t step, const std::string* path) {
  shards_->gather();  // every rank: a collective
  if (comm_.rank() == 0) {
    record_.step = step;
    torch::serialize::OutputArchive ar;
    for (auto& part : parts_) part->save(ar);
    if (path) {
      store_.save_as(*path, step, ar);
    } else {
      log::info("checkpoint: " + store_.save(step, ar));
    }
  }
}

void Checkpointer::save(int64_t step) {
  write(step, nullptr);
  last_ = std::chrono::steady_clock::now();
}

std::string Checkpointer::save_as(int64_t step, const std::string& path) {
  write(step, &path);
  return path;
}

bool Checkpointer::due(int64_t step, bool agreed) const { return (every_ > 0 && step % every_ == 0) || agreed; }

bool Checkpointer::time_due() const {
  return every_minutes_ > 0 &&
         std::chrono::duration<double>(std::chrono::steady_clock::now() - last_).count() >= every_minutes_ * 60;
}

}  // namespace imprint
