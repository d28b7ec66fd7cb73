// A training configuration small enough for a unit test: a few seconds on one core.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "trainer/job_config.h"

namespace imprint::testing {

inline JobConfig tiny_config(const std::string& modality, std::vector<std::string> extra = {}) {
  std::vector<std::string> sets = {"data.modality=" + modality,
                                   "data.train_identities=48",
                                   "data.eval_identities=8",
                                   "data.samples_per_identity=6",
                                   "data.image_size=16",
                                   "data.clip_seconds=0.25",
                                   "data.workers=1",
                                   "model.embed_dim=32",
                                   "model.tokens=2",
                                   "model.width=8",
                                   "model.audio.n_mels=24",
                                   "model.audio.n_fft=128",
                                   "model.audio.hop=64",
                                   "optimizer.lr=0.003",
                                   "schedule.warmup_steps=2",
                                   "train.steps=24",
                                   "train.batch_size=16",
                                   "train.log_every=4",
                                   "train.eval_every=0",
                                   "train.threads=1",
                                   "eval.gallery_per_identity=3",
                                   "checkpoint.every=6",
                                   "checkpoint.keep=2"};
  sets.insert(sets.end(), extra.begin(), extra.end());
  return parse_job("", "tiny", sets);
}

// A fresh, empty folder under the system temp dir, unique per call.
inline std::string fresh_dir(const std::string& name) {
  static int counter = 0;
  const auto dir = std::filesystem::temp_directory_path() /
                   ("imprint-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" + name);
  std::filesystem::remove_all(dir);
  return dir.string();
}

}  // namespace imprint::testing
