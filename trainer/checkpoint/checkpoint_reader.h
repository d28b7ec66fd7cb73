// The one reader of an imprint checkpoint. A resume restores a run's parts in place (trainer/checkpointer.h);
// everything else — export, embed, eval, generate, the fidelity judge, a frozen generator_from — rebuilds what
// it needs from the checkpoint alone, here: the parts are built by the same builders training uses (the
// encoder registry, the generative module) from the settings the checkpoint stores, then loaded from the same
// archive entries the state parts write (the encoder through EncoderState, the generator's tensors from the
// objective's entry), with the run's weight average when it kept one.
//
// Settings: a format-2 checkpoint stores the run's resolved config; every checkpoint stores its model
// signature. A tool's keys are read as: schema defaults, then the stored settings, then the signature — so a
// format-1 checkpoint (signature only) rebuilds exactly, its absent keys having had their defaults.
#pragma once
#include <torch/serialize/archive.h>

#include <memory>
#include <string>

#include "config/config_values.h"
#include "generation/diffusion.h"
#include "models/encoder.h"
#include "trainer/checkpoint/signature.h"

namespace imprint {

// The archive format this imprint writes (state_part.h), the newest it reads; format 1 is the oldest.
constexpr int64_t kCheckpointFormat = 2;

struct TrainedEncoder {
  std::shared_ptr<Encoder> encoder;  // in eval mode
  EncoderSpec spec;
  int64_t step = 0;
  Signature signature;
  std::string checkpoint;
  bool averaged_weights = false;  // the run kept a weight average (ema.decay) and these are its weights
};

// Checks that `judge` (a fidelity judge: eval.judge, eval.content_judge, imprint eval --judge) reads what `run`
// generates: the same modality, and the image side or the sample rate. Throws CheckpointError naming `path`.
void check_judge_reads(const TrainedEncoder& judge, const std::string& path, const DiffusionSpec& run);

struct TrainedGenerator {
  TrainedEncoder encoder;
  std::shared_ptr<Diffusion> diffusion;  // its generator in eval mode, trained identity branch loaded
};

// The keys the reader rebuilds parts from: the encoder's (input, model.*, every encoder's own) and the
// generator's.
const Schema& model_schema();

class CheckpointReader {
 public:
  // Reads and verifies `path` (length, checksum, format). Throws CheckpointError naming it.
  explicit CheckpointReader(std::string path);
  const std::string& path() const { return path_; }
  int64_t step() const { return step_; }
  int64_t format() const { return format_; }
  const Signature& signature() const { return signature_; }
  // The run's value of every key of `schema` (defaults <- stored settings <- signature).
  ConfigValues settings(const Schema& schema) const;
  // Whether the run trained the objective `name` (the signature's "objectives").
  bool trained(const std::string& name) const;
  // Whether any objective of the run trained the encoder (false: generator pretraining, an autoencoder run;
  // its encoder is as initialised).
  bool encoder_trained() const { return encoder_trained_; }
  torch::serialize::InputArchive& archive() { return archive_; }

  // The encoder. Throws CheckpointError when the checkpoint holds none it can rebuild.
  TrainedEncoder encoder();
  // Encoder and generator, refusing a checkpoint without a trained identity branch, or one trained against a
  // frozen file that is missing or has changed.
  TrainedGenerator generator();
  // Loads this checkpoint's generator weights, all but the identity branch, into `into` (adapter training
  // from a pretrained generator: objective.denoise.generator_from), after checking both have the same shape;
  // the run's weight average (ema) instead of its raw weights when it kept one.
  void load_pretrained_generator(Diffusion& into);
  // The autoencoder its run trained (the autoencoder objective): its shape, and its weights and latent scale
  // loaded into `into` (which must have that shape). Throws CheckpointError naming the file when the run
  // trained none (objective.denoise.autoencoder_from must name such a run).
  AutoencoderSpec autoencoder_spec();
  void load_autoencoder(KlAutoencoder& into);

 private:
  // The objective whose state holds a generator ("" when none).
  std::string generator_owner();
  std::shared_ptr<Diffusion> build_diffusion();

  std::string path_;
  int64_t step_ = 0, format_ = 1;
  Signature signature_, settings_;
  bool encoder_trained_ = true;
  torch::serialize::InputArchive archive_;
};

// A file a checkpoint names by the relative path given at training time (objective.denoise.generator_from,
// generator_script): as given when it exists from here, else relative to the nearest ancestor directory of
// the checkpoint where it exists (training ran in one of them), else as given (the caller then says it
// cannot be read). What is found is still checked against the content hash the checkpoint recorded.
std::string resolve_recorded_path(const std::string& recorded, const std::string& checkpoint);

// diffusion_spec(values, encoder) with, for objective.denoise.autoencoder_from, the shape of the autoencoder
// that checkpoint holds (throws CheckpointError naming it).
DiffusionSpec resolved_diffusion_spec(const ConfigValues& values, const EncoderSpec& encoder);

// Refuses a checkpoint of generator pretraining (its encoder was never trained).
TrainedEncoder load_trained_encoder(const std::string& checkpoint);
TrainedGenerator load_trained_generator(const std::string& checkpoint);

}  // namespace imprint
