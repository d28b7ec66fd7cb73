// The generative objective: a conditional diffusion generator (generation/diffusion.h) learns to predict the
// noise (or v) added to the TARGET sample (view 1: its pixels, a frozen autoencoder's latents, or for audio its
// log-mel, generation/mel_codec.h), given its content label and the REFERENCE's (view 0)
// identity tokens, so the encoder learns tokens that tell the generator what the identity looks like
// (IP-Adapter's training).
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
//
// With eval.judge, every evaluation also scores identity fidelity of generated samples
// (trainer/evaluation/fidelity_eval.h): the evaluation() this objective adds.
#pragma once
#include <memory>
#include <string>

#include "core/rng.h"
#include "generation/diffusion.h"
#include "trainer/objectives/objective_registry.h"

namespace imprint {

enum class DenoiseTraining { Generator, Adapter, All };

struct DenoiseOptions {
  DenoiseTraining train = DenoiseTraining::All;
  double drop_identity = 0.05, drop_content = 0.05, drop_both = 0.05;
  double min_snr_gamma = 0;  // > 0: min-SNR-gamma loss weighting (Hang et al. 2023)
  double timestep_bias = 0;  // > 0: timesteps drawn with density (1 + b) s^b over s = t / T (noisier more often)
  double id_scale = 1.0;     // weight of the identity branch while training
  int64_t probe_every = 10;  // steps between measurements of the loss without identity on the same rows (0: off)
  // Identity fidelity in the loop (eval.*).
  std::string judge;
  std::string content_judge;  // "" = the nearest-neighbour reader
  int64_t fidelity_identities = 16, fidelity_content = 4, fidelity_steps = 20, content_bank_identities = 256;
  double fidelity_guidance = 3.0;
  double fidelity_guidance_identity = -1;  // < 0: the same as fidelity_guidance
  uint64_t seed = 0;                       // the run's seed
};

// Its registry entry (objective_registry.h): keys objective.denoise.* (the generator's among them,
// generation/diffusion.h) and the eval.* keys of identity fidelity.
ObjectiveInfo denoise_objective();
// The options and generator spec `context` gives (what the registry's factory builds from).
DenoiseOptions denoise_options(const ObjectiveContext& context);
// The same options from a run's settings alone (a checkpoint's stored config: `imprint eval --judge` takes the
// run's fidelity settings from them).
DenoiseOptions denoise_options(const ConfigValues& values);

// A row's timestep in [0, timesteps): uniform for bias 0, else s = t / timesteps has density (1 + bias) s^bias
// (objective.denoise.timestep_bias: the noisy end more often).
int64_t draw_timestep(CounterRng& rng, int64_t timesteps, double bias);

class DenoiseObjective final : public Objective {
 public:
  // Builds the generator, loads a frozen one (generator_from) and freezes what does not train. Throws
  // ConfigError naming the key, CheckpointError naming a generator_from file that cannot serve.
  DenoiseObjective(const DenoiseOptions& options, const DiffusionSpec& generator);
  ObjectiveOutput compute(const TrainBatch& batch, const EncodedBatch& encoded, Communicator& comm) override;
  int64_t views_read(int64_t) const override { return options_.train == DenoiseTraining::Generator ? 0 : 1; }
  bool reads_pooled() const override { return false; }  // the generator reads the tokens
  bool augments_targets() const override { return false; }
  void check_dataset(const DatasetFacts& facts) const override;
  std::unique_ptr<ObjectiveEvaluation> evaluation(const EvaluationContext& context) override;
  std::map<std::string, std::string> signature() const override { return frozen_facts_; }
  // Also moves the frozen autoencoder, which is not a registered part (nothing of it is trained or saved).
  using Objective::to;
  void to(torch::Device device, bool non_blocking = false) override;

  Diffusion& diffusion() { return *diffusion_; }
  const DenoiseOptions& options() const { return options_; }

 private:
  DenoiseOptions options_;
  std::shared_ptr<Diffusion> diffusion_;
  std::map<std::string, std::string> frozen_facts_;  // the frozen generator file's hash (and script path)
};

}  // namespace imprint
