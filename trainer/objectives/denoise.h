// The generative objective: a conditional diffusion generator (models/generator.h) learns to predict the
// noise (or v) added to the TARGET sample, given its content label and the REFERENCE's identity tokens, so
// the encoder learns tokens that tell the generator what the identity looks like (IP-Adapter's training).
//
// objective.denoise.train decides what learns:
//   generator  pretraining: the generator alone, conditioned on content only (identity branch off, encoder
//              unused and not trained);
//   adapter    the generator is FROZEN (loaded from generator_from) except its identity branch, which is
//              initialised from the content branch; encoder + identity branch train; or the generator is
//              the user's TorchScript file (generator_script), frozen except the parameters whose names
//              match adapter_pattern;
//   all        everything trains (from generator_from when given).
// Frozen weights are not in the optimizer, the gradient all-reduce or the checkpoints; a checkpoint records
// the frozen generator's path and content hash and is refused with another one.
//
// Each row's timestep, noise and condition dropout come from (seed, step, global row): N ranks draw what one
// rank draws for the same global batch, and a resumed run draws what the uninterrupted one did.
#pragma once
#include <memory>
#include <string>

#include "models/generator.h"
#include "trainer/noise_schedule.h"
#include "trainer/objectives/objective.h"

namespace imprint {

struct DenoiseOptions {
  std::string train = "all";    // generator | adapter | all
  std::string generator_from;   // an imprint checkpoint holding a trained generator ("" = none)
  std::string generator_script; // or the user's TorchScript generator (models/scripted_generator.h)
  std::string adapter_pattern = "adapter";  // which of the script's parameters are adapter weights
  GeneratorSpec generator;
  std::string schedule = "cosine";
  int64_t timesteps = 1000;
  Prediction prediction = Prediction::Eps;
  double drop_identity = 0.05, drop_content = 0.05, drop_both = 0.05;
  double min_snr_gamma = 0;     // > 0: min-SNR-gamma loss weighting (Hang et al. 2023)
  double id_scale = 1.0;        // weight of the identity branch while training
  uint64_t seed = 0;
};
DenoiseOptions denoise_options(const Config& config);

class DenoiseObjective final : public Objective {
 public:
  explicit DenoiseObjective(const DenoiseOptions& options);
  ObjectiveOutput compute(const TrainBatch& batch, const EncodedBatch& encoded, Communicator& comm) override;
  bool reads_reference() const override { return options_.train != "generator"; }
  bool reads_target() const override { return false; }
  std::map<std::string, std::string> signature() const override;

  Generator& generator() { return *generator_; }
  const NoiseSchedule& schedule() const { return schedule_; }
  const DenoiseOptions& options() const { return options_; }

 private:
  DenoiseOptions options_;
  NoiseSchedule schedule_;
  std::shared_ptr<Generator> generator_;
  std::string generator_hash_;  // of generator_from's file
};

// Loads the generator weights (all but the identity branch) of the imprint checkpoint at `path` into
// `generator`, after checking that the checkpoint's generator has the same shape; returns the file's
// FNV-1a-64 in hex. Throws CheckpointError naming the file and what differs.
std::string load_generator_weights(Generator& generator, const std::string& path, const DenoiseOptions& options);

}  // namespace imprint
