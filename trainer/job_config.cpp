#include "trainer/job_config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <stdexcept>

#include "config/section.h"
#include "data/audio_channel.h"
#include "models/encoder_spec.h"
#include "trainer/objectives/objective_registry.h"

namespace imprint {

namespace {

using R = KeyRole;
constexpr double kBig = 9.0e15;  // integers stay exact in a double below 2^53

const Section<JobConfig>& seed_section() {
  static const auto s = Section<JobConfig>().integer("seed", &JobConfig::seed, uint64_t{1234}, Range::closed(0, kBig),
                                                     "Seed for model initialisation, sampling and augmentation.");
  return s;
}

const Section<DataConfig>& data_section() {
  using D = DataConfig;
  static const auto s =
      Section<D>("data")
          .choice("source", &D::source, {{"synthetic", DataSource::Synthetic}, {"shards", DataSource::Shards}},
                  DataSource::Synthetic,
                  "Where samples come from: the built-in procedural generator, or a shard dataset at data.path "
                  "(docs/dataset-format.md).")
          .path("path", &D::path, "",
                "Dataset folder (manifest.json + shard-*.h5) when data.source is shards; made by `imprint synth` "
                "when data.create_if_missing is true and it does not exist. Refused with data.source: synthetic (it "
                "would be ignored).")
          .flag("verify_checksums", &D::verify_checksums, true,
                "Check every shard's checksum against the manifest before training (reads each file once); a "
                "corrupt shard then stops the run with its name instead of training on damaged samples.",
                R::Operational)
          .flag("create_if_missing", &D::create_if_missing, false,
                "With data.source: shards, write the synthetic identities (data.seed, data.*_identities, "
                "data.samples_per_identity, size/rate) to data.path first if it holds no dataset.",
                R::Operational)
          .integer("seed", &D::seed, uint64_t{7}, Range::closed(0, kBig),
                   "Seed of the synthetic identities themselves; fixed so that changing `seed` keeps the dataset.")
          .integer("train_identities", &D::train_identities, int64_t{1000}, Range::closed(2, 1e7),
                   "Synthetic training identities.")
          .integer("eval_identities", &D::eval_identities, int64_t{100}, Range::closed(2, 1e6),
                   "Held-out synthetic identities, disjoint from the training ones, used only for evaluation.")
          .integer("samples_per_identity", &D::samples_per_identity, int64_t{16}, Range::closed(2, 1e6),
                   "Distinct samples (pose/utterance) each synthetic identity has; a step draws views among them.")
          .integer("content_classes", &D::content_classes, int64_t{0}, Range::closed(0, 1e4),
                   "Synthetic images only: > 0 gives sample i the content label i % N, which decides where its "
                   "shape sits (what a generator is asked to draw); 0: no content labels. Shard datasets carry "
                   "their own labels.")
          .real("clip_seconds", &D::clip_seconds, 0.5, Range::closed(0.1, 30),
                "Audio clip length fed to the encoder, seconds.")
          .flag("augment", &D::augment, true,
                "Augment training samples (with the denoise objective references only: the generator's targets "
                "stay clean): colour jitter and pixel noise (image) or random crops and gain (audio), plus what the "
                "augment.* keys enable (shard datasets; synthetic data keeps its own jitter).")
          .integer("workers", &D::workers, int64_t{2}, Range::closed(0, 64),
                   "Threads that build batches ahead of the trainer; 0 builds them on the training thread.",
                   R::Operational)
          .integer("prefetch", &D::prefetch, int64_t{4}, Range::closed(1, 256),
                   "Batches the loader may hold ready ahead of the trainer.", R::Operational);
  return s;
}

// augment.*: what data.augment does to a training sample read from shards (data/augment_options.h).
const Section<ImageAugmentOptions>& image_augment_section() {
  using I = ImageAugmentOptions;
  static const auto s =
      Section<I>("augment")
          .real("crop_scale_min", &I::crop_scale_min, 1, Range::closed(0.05, 1),
                "Image: random resized crop (torchvision's RandomResizedCrop): area fraction drawn from [this, 1], "
                "aspect ratio log-uniform in [3/4, 4/3], resized back to data.image_size; 1: off.")
          .real("rotate_degrees", &I::rotate_degrees, 0, Range::closed(0, 180),
                "Image: rotation drawn from [-this, this] degrees.")
          .real("shear_degrees", &I::shear_degrees, 0, Range::closed(0, 45),
                "Image: horizontal shear drawn from [-this, this] degrees (leave 0 where slant IS the identity, e.g. "
                "italic font faces).")
          .real("translate", &I::translate, 0, Range::closed(0, 0.5),
                "Image: shift of up to this fraction of the side, each axis.")
          .real("gain", &I::gain, 0.1, Range::closed(0, 1), "Image: per-channel gain drawn from [1 - this, 1 + this].")
          .real("brightness", &I::brightness, 0.08, Range::closed(0, 1),
                "Image: brightness offset drawn from [-this, this].")
          .real("contrast", &I::contrast, 0, Range::closed(0, 1),
                "Image: contrast factor drawn from [1 - this, 1 + this], around the image's mean.")
          .real("pixel_noise", &I::pixel_noise, 0.02, Range::closed(0, 1),
                "Image: Gaussian pixel noise std (pixels in [0, 1]).")
          .real("blur_prob", &I::blur_prob, 0, Range::closed(0, 1), "Image: chance of a Gaussian blur.")
          .real("blur_sigma", &I::blur_sigma, 1, Range::closed(0.1, 10),
                "Image: the blur's sigma is drawn from [0.1, this] pixels.");
  return s;
}

const Section<AudioAugmentOptions>& audio_augment_section() {
  using A = AudioAugmentOptions;
  static const auto s =
      Section<A>("augment")
          .real("speed", &A::speed, 0, Range::closed(0, 0.5).open_above(),
                "Audio: speed perturbation, factor drawn from [1 - this, 1 + this] (tempo and pitch, as sox speed; "
                "libsoxr resamples).")
          .real("noise_prob", &A::noise_prob, 0, Range::closed(0, 1), "Audio: chance of additive noise.")
          .real("noise_snr_min", &A::noise_snr_min, 5, Range::closed(-20, 60),
                "Audio: the noise's SNR is drawn from [min, max] dB.")
          .real("noise_snr_max", &A::noise_snr_max, 20, Range::closed(-20, 60), "Audio: see augment.noise_snr_min.")
          .path("noise_dir", &A::noise_dir, "",
                "Audio: a folder of noise recordings (.wav/.flac, any rate; read once, held in memory, at most 2^28 "
                "samples); empty: generated white, pink or brown noise.")
          .real("reverb_prob", &A::reverb_prob, 0, Range::closed(0, 1),
                "Audio: chance of a synthetic room response (Gaussian tail decaying 60 dB over RT60, direct-to-"
                "reverberant ratio drawn from [0, 10] dB).")
          .real("reverb_rt60_max", &A::reverb_rt60_max, 0.6, Range::closed(0.1, 3),
                "Audio: RT60 drawn from [0.1, this] seconds.")
          .integer("time_masks", &A::time_masks, 0, Range::closed(0, 20),
                   "Audio: SpecAugment time masks per clip (spans set to silence).")
          .real("time_mask_seconds", &A::time_mask_seconds, 0.05, Range::closed(0, 5),
                "Audio: each time mask is up to this long.")
          .integer("freq_masks", &A::freq_masks, 0, Range::closed(0, 20),
                   "Audio: SpecAugment frequency masks per clip (a band removed from the clip's spectrum, so from "
                   "every frame of the trunk's log-mel features).")
          .real("freq_mask_hz", &A::freq_mask_hz, 200, Range::closed(0, 24000),
                "Audio: each frequency mask is up to this wide.")
          .real("telephone_prob", &A::telephone_prob, 0, Range::closed(0, 1),
                "Audio, channel: chance of a telephone band: everything below [200, 400] Hz and above [3000, 3600] "
                "Hz removed (edges drawn).")
          .real("codec_prob", &A::codec_prob, 0, Range::closed(0, 1),
                "Audio, channel: chance of a codec round trip (encoded and decoded by libsndfile at 8 kHz, the "
                "codecs' rate; other rates are resampled there and back, so it also band-limits to 4 kHz).")
          .text("codecs", &A::codecs, "ulaw,alaw,gsm",
                "Audio, channel: the codecs augment.codec_prob draws from, uniformly: a comma-separated list of "
                "ulaw, alaw (G.711) and gsm (GSM 06.10 full rate). Leave one out to hold that channel out of "
                "training and evaluate on it (recipes/voices).")
          .real("packet_loss_prob", &A::packet_loss_prob, 0, Range::closed(0, 1),
                "Audio, channel: chance of lost packets: 20 ms spans set to silence, no concealment.")
          .real("packet_loss_rate", &A::packet_loss_rate, 0.1, Range::closed(0, 1),
                "Audio, channel: each packet is lost with a probability drawn from [0, this].")
          .real("level_db", &A::level_db, 0, Range::closed(0, 40),
                "Audio, channel: gain drawn from [-this, this] dB for every clip, then clipped at full scale (a "
                "converter overdriven); 0 = off.");
  return s;
}

const Section<OptimizerConfig>& optimizer_section() {
  using O = OptimizerConfig;
  static const auto s =
      Section<O>("optimizer")
          .choice("name", &O::kind, {{"adamw", OptimizerKind::AdamW}, {"lamb", OptimizerKind::Lamb}},
                  OptimizerKind::AdamW,
                  "AdamW (decoupled weight decay) or LAMB (AdamW direction rescaled per tensor by a trust ratio).",
                  R::Shaping)
          .flag("fused", &O::fused, true,
                "Use imprint's fused single-pass optimizer; false uses torch::optim::AdamW (AdamW only).", R::Shaping)
          .flag("amsgrad", &O::amsgrad, false, "AdamW with the AMSGrad maximum of second moments.", R::Shaping)
          .real("lr", &O::lr, 1e-3, Range::closed(0, 10).open_below(), "Peak learning rate.")
          .real("beta1", &O::beta1, 0.9, Range::closed(0, 1).open_above(), "First-moment decay.")
          .real("beta2", &O::beta2, 0.999, Range::closed(0, 1).open_above(), "Second-moment decay.")
          .real("eps", &O::eps, 1e-8, Range::closed(0, 1).open_below(), "Denominator epsilon.")
          .real("weight_decay", &O::weight_decay, 0.05, Range::closed(0, 1),
                "Decoupled weight decay, applied to weight matrices and kernels only (not biases, norms, "
                "temperature).")
          .real("grad_clip", &O::grad_clip, 1, Range::at_least(0),
                "Clip gradients to this global L2 norm; 0 disables clipping.");
  return s;
}

const Section<EmaConfig>& ema_section() {
  static const auto s = Section<EmaConfig>("ema").real(
      "decay", &EmaConfig::decay, 0, Range::closed(0, 1).open_above(),
      "Keep an exponential moving average of the trainable weights (avg = decay * avg + (1 - decay) * w after each "
      "step; e.g. 0.999) in checkpoints, and evaluate, generate and export with it; 0 keeps none.");
  return s;
}

const Section<ScheduleConfig>& schedule_section() {
  using S = ScheduleConfig;
  static const auto s =
      Section<S>("schedule")
          .choice("name", &S::kind, {{"cosine", LrScheduleKind::Cosine}, {"constant", LrScheduleKind::Constant}},
                  LrScheduleKind::Cosine, "Learning-rate schedule after warm-up.")
          .integer("warmup_steps", &S::warmup_steps, int64_t{50}, Range::closed(0, kBig),
                   "Linear warm-up steps from 0 to optimizer.lr.")
          .real("min_lr_ratio", &S::min_lr_ratio, 0.1, Range::closed(0, 1),
                "Cosine floor as a fraction of optimizer.lr.");
  return s;
}

const Section<TrainConfig>& train_section() {
  using T = TrainConfig;
  static const auto s =
      Section<T>("train")
          .integer("steps", &T::steps, int64_t{300}, Range::closed(1, kBig),
                   "Total optimizer steps of the run (the schedule spans these).")
          .integer("batch_size", &T::batch_size, int64_t{64}, Range::closed(2, 1e6),
                   "Global batch: identities per step (P), all different; each gives train.samples_per_identity "
                   "samples.")
          .integer("samples_per_identity", &T::samples_per_identity, int64_t{2}, Range::closed(2, 64),
                   "Views per identity per step (K of a P x K batch): a reference, a different target and K-2 extra "
                   "views (distinct samples while the identity has them). Above 2 needs an objective that reads "
                   "every view: " +
                       every_view_objectives() + ".")
          .integer("stop_at", &T::stop_at, int64_t{0}, Range::closed(0, kBig),
                   "Checkpoint and exit after this step (for time-limited allocations); 0 runs to train.steps.",
                   R::Operational)
          .integer("threads", &T::threads, int64_t{0}, Range::closed(0, 1024),
                   "Torch intra-op threads; 0: the rank's cores (its CPU affinity, else the node's cores over its "
                   "ranks) minus data.workers and, with several ranks, the communication thread; at least 1.",
                   R::Operational)
          .choice("device", &T::device,
                  {{"auto", TrainDevice::Auto}, {"cpu", TrainDevice::Cpu}, {"cuda", TrainDevice::Cuda}},
                  TrainDevice::Auto,
                  "Where to train: auto takes the GPU of this rank's local rank when this build and machine have one.",
                  R::Operational)
          .choice("precision", &T::precision, {{"fp32", Precision::Fp32}, {"bf16", Precision::Bf16}}, Precision::Fp32,
                  "fp32, or bf16: the forward pass under autocast in bfloat16 with float32 weights, gradients, "
                  "all-reduce and optimizer (GPU; CPU needs libtorch 2.0 or newer).")
          .integer("log_every", &T::log_every, int64_t{20}, Range::closed(1, kBig),
                   "Steps between log lines (and metrics.jsonl records).", R::Operational)
          .integer("eval_every", &T::eval_every, int64_t{100}, Range::closed(0, kBig),
                   "Steps between held-out evaluations; 0 evaluates only at the end.", R::Operational);
  return s;
}

const Section<DistributedConfig>& distributed_section() {
  using D = DistributedConfig;
  static const auto s =
      Section<D>("distributed")
          .choice("backend", &D::backend,
                  {{"auto", CommBackend::Auto}, {"mpi", CommBackend::Mpi}, {"nccl", CommBackend::Nccl}},
                  CommBackend::Auto,
                  "Collectives backend: auto picks mpi when launched with more than one rank (nccl: CUDA builds "
                  "only).",
                  R::Operational)
          .real("bucket_mb", &D::bucket_mb, 25, Range::closed(0.001, 4096),
                "Gradient bucket size in MB: each full bucket is all-reduced while backward goes on.", R::Operational)
          .real("first_bucket_mb", &D::first_bucket_mb, 1, Range::closed(0.001, 4096),
                "Size of the first (last layers') bucket, small so communication starts early.", R::Operational)
          .choice("grad_compression", &D::grad_compression, {{"none", GradWire::Fp32}, {"bf16", GradWire::Bf16}},
                  GradWire::Fp32,
                  "none all-reduces float32 gradients; bf16 rounds each bucket to bfloat16 for the all-reduce (half "
                  "the bytes; DDP's bf16_compress_hook) and widens the average back to float32.",
                  R::Operational)
          .real("timeout_s", &D::timeout_s, 300, Range::closed(0, 1e6),
                "A collective not done within this many seconds ends every rank with a message naming it, the step "
                "and the missing ranks; 0 waits forever. It must exceed the longest checkpoint write and evaluation "
                "(the other ranks wait for rank 0 in the next step's collective meanwhile, and a timeout there "
                "names what rank 0 was doing).",
                R::Operational)
          .flag("debug", &D::debug, false,
                "Before each collective check that every rank enters the same one with the same shape and dtype "
                "(also set by the environment variable IMPRINT_DEBUG_COLLECTIVES=1).",
                R::Operational)
          .flag("sleep_while_waiting", &D::sleep_while_waiting, true,
                "mpi backend: a rank that reaches a collective before its peers waits for them with a non-blocking "
                "barrier, polled while the machine has a free core and tested between short sleeps while every core "
                "is wanted, instead of polling inside OpenMPI with a whole core whatever else needs it. Measured on 2 "
                "cores: 0.80x -> 0.95x PyTorch DDP's samples/s with one core busy, no change on an idle machine; the "
                "price is one more round trip per collective between hosts (docs/benchmarks.md). false: OpenMPI's "
                "blocking wait.",
                R::Operational)
          .flag("find_unused_parameters", &D::find_unused_parameters, false,
                "Allow parameters that get no gradient in a step (they are averaged with zeros, or left alone when "
                "no rank used them); false names them in an error on the first step.",
                R::Operational);
  return s;
}

const Section<EvalConfig>& eval_section() {
  using E = EvalConfig;
  static const auto s =
      Section<E>("eval")
          .integer("gallery_per_identity", &E::gallery_per_identity, int64_t{4}, Range::closed(1, 1e4),
                   "Gallery samples per held-out identity (the reference sample is not among them).")
          .integer("batch_size", &E::batch_size, int64_t{256}, Range::closed(1, 1e6),
                   "Samples per forward pass during evaluation.", R::Operational)
          .integer("asnorm_cohort", &E::asnorm_cohort, int64_t{0}, Range::closed(0, 1e6),
                   "AS-norm (adaptive symmetric score normalisation): a cohort of this many TRAINING identities "
                   "(sample 0 each) normalises the verification scores; EER/minDCF are then reported raw and AS-normed "
                   "(eval_eer_asnorm, eval_min_dcf_asnorm). 0: off.")
          .integer("asnorm_top_k", &E::asnorm_top_k, int64_t{100}, Range::closed(1, 1e6),
                   "AS-norm: how many of a sample's highest cohort scores give its mean and deviation (clamped to "
                   "the cohort).")
          .integer("validation_identities", &E::validation_identities, int64_t{0}, Range::closed(0, 1e6),
                   "Held-out identities split off as a VALIDATION set (the ones with the smallest hash of their "
                   "index: stable for a dataset): checkpoint.keep_best chooses on them (val_* in metrics.jsonl), and "
                   "the held-out figures (eval_*) are then reported on the rest, the TEST identities, which nothing "
                   "is chosen on. 0: no split (every held-out identity is test; keep_best then refused). At least "
                   "2, leaving at least 2.");
  return s;
}

const Section<LogConfig>& log_section() {
  static const auto s =
      Section<LogConfig>("log")
          .flag(
              "tensorboard", &LogConfig::tensorboard, true,
              "Rank 0 also writes TensorBoard event files to <run dir>/tensorboard (every numeric metric as a scalar: "
              "train/*, eval/*, time/*); `tensorboard --logdir runs` shows them.",
              R::Operational)
          .flag(
              "gradient_paths", &LogConfig::gradient_paths, true,
              "At the first step of a run (and of every resume) and at every log line, measure which trained weights "
              "each objective's loss reaches: the norm of its weighted gradient over the encoder and over each "
              "objective's own trained weights (grad_<objective>_to_<part> in metrics.jsonl); warns when an objective "
              "that reads the encoder, or its own weights, is not reached by its gradient (a no_grad or detach cutting "
              "the path) or gets a non-finite one; a zero gradient through a connected path (at the first step, behind "
              "the UNet's zero-initialised output layer) is not warned about. Costs one extra backward per objective "
              "at those steps.",
              R::Operational);
  return s;
}

const Section<CheckpointConfig>& checkpoint_section() {
  using C = CheckpointConfig;
  static const auto s =
      Section<C>("checkpoint")
          .integer("every", &C::every, int64_t{100}, Range::closed(0, kBig),
                   "Steps between checkpoints; 0 writes only at the end.", R::Operational)
          .real("every_minutes", &C::every_minutes, 0, Range::closed(0, 1e6),
                "Also checkpoint when this many minutes of wall-clock time have passed since the last checkpoint "
                "(the ranks agree on the step); 0 turns the time-based interval off.",
                R::Operational)
          .choice("keep_best", &C::keep_best,
                  {{"none", BestMetric::None},
                   {"top1", BestMetric::Top1},
                   {"top1_all", BestMetric::Top1All},
                   {"eer", BestMetric::Eer},
                   {"min_dcf", BestMetric::MinDcf},
                   {"eer_asnorm", BestMetric::EerAsnorm}},
                  BestMetric::None,
                  "Also keep RUN/best.ckpt, the checkpoint of the best VALIDATION evaluation so far by this metric "
                  "(top1: one reference per identity; top1_all: every sample as the reference; eer, min_dcf, "
                  "eer_asnorm (needs eval.asnorm_cohort): lower is better), and RUN/best.json naming its step, "
                  "value and set. Needs eval.validation_identities: a checkpoint chosen on the identities it is "
                  "then reported on would overstate them.",
                  R::Operational)
          .integer("keep", &C::keep, int64_t{3}, Range::closed(1, 1e6),
                   "Most recent checkpoints kept (by the step stored inside them); older ones are deleted.",
                   R::Operational);
  return s;
}

[[noreturn]] void fail(const std::string& source, const std::string& key, const std::string& what) {
  throw ConfigError(source + ": " + key + ": " + what);
}

void check_data_rules(const JobConfig& j, const std::string& source) {
  if (j.train.batch_size > j.data.train_identities)
    fail(source, "train.batch_size",
         std::to_string(j.train.batch_size) +
             " identities per step need as many distinct "
             "training identities, but data.train_identities is " +
             std::to_string(j.data.train_identities));
  if (j.eval.gallery_per_identity >= j.data.samples_per_identity)
    fail(source, "eval.gallery_per_identity",
         "must be below data.samples_per_identity (" + std::to_string(j.data.samples_per_identity) +
             "): one sample of each held-out identity is the reference");
  if (j.train.stop_at > j.train.steps)
    fail(source, "train.stop_at", "is after the last step (train.steps = " + std::to_string(j.train.steps) + ")");
  if (j.data.source == DataSource::Shards && j.data.path.empty())
    fail(source, "data.path", "is required when data.source is shards");
  // Else a user who names a dataset and forgets the source trains on the synthetic identities, unwarned.
  if (j.data.source == DataSource::Synthetic && !j.data.path.empty())
    fail(source, "data.path",
         "is '" + j.data.path +
             "' but data.source is synthetic, which would train on the built-in synthetic identities and "
             "ignore it: set data.source: shards to train on that dataset, or remove data.path");
  if (j.data.content_classes > 0 && j.model.modality != Modality::Image)
    fail(source, "data.content_classes", "synthetic content labels exist for images only");
  if (j.augment.audio.noise_snr_min > j.augment.audio.noise_snr_max)
    fail(source, "augment.noise_snr_min", "is above augment.noise_snr_max");
  try {
    parse_codecs(j.augment.audio.codecs);
  } catch (const std::invalid_argument& e) {
    fail(source, "augment.codecs", e.what());
  }
  if (j.model.modality == Modality::Audio) {
    const int64_t clip = std::lround(j.data.clip_seconds * static_cast<double>(j.model.sample_rate));
    if (clip <= j.model.n_fft)
      fail(source, "data.clip_seconds",
           "clip of " + std::to_string(clip) +
               " samples must be longer than "
               "model.audio.n_fft (" +
               std::to_string(j.model.n_fft) + ")");
    if (j.model.n_mels > j.model.n_fft / 2 + 1)
      fail(source, "model.audio.n_mels", "must be at most n_fft / 2 + 1 = " + std::to_string(j.model.n_fft / 2 + 1));
  }
}

void check_training_rules(const JobConfig& j, const std::string& source) {
  if (j.checkpoint.keep_best != BestMetric::None && j.eval.validation_identities == 0)
    fail(source, "checkpoint.keep_best",
         "chooses on validation identities only, never on the ones it reports: set eval.validation_identities "
         "(held-out identities split off to choose on; the held-out figures are then reported on the rest)");
  if (j.eval.validation_identities == 1)
    fail(source, "eval.validation_identities", "1: at least 2 identities to rank (or 0: no validation split)");
  if (j.checkpoint.keep_best == BestMetric::EerAsnorm && j.eval.asnorm_cohort == 0)
    fail(source, "checkpoint.keep_best", "eer_asnorm needs an AS-norm cohort (eval.asnorm_cohort > 0)");
  if (j.optimizer.kind == OptimizerKind::Lamb) {
    if (!j.optimizer.fused)
      fail(source, "optimizer.fused", "must be true for optimizer.name: lamb (torch::optim has no LAMB)");
    if (j.optimizer.amsgrad) fail(source, "optimizer.amsgrad", "applies to adamw only, not lamb");
  }
  try {
    check_encoder(j.model, j.values);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(source + ": " + e.what());
  }
  std::vector<ObjectiveTerm> terms;
  try {
    terms = enabled_objectives(j.values);
    check_objectives(terms, objective_context(j));
  } catch (const ConfigError& e) {
    throw ConfigError(source + ": " + e.what());
  }
  const int64_t k = j.train.samples_per_identity;
  if (k > 2 &&
      std::none_of(terms.begin(), terms.end(), [](const ObjectiveTerm& t) { return t.info->reads_every_view; }))
    fail(source, "train.samples_per_identity",
         std::to_string(k) +
             " samples per identity, but no objective turned on reads more than a reference and a target; give one "
             "that does a weight (" +
             every_view_objectives("objective.") + ") or set it to 2");
}

}  // namespace

ObjectiveContext objective_context(const JobConfig& job) {
  std::vector<std::string> enabled;
  for (const auto& t : enabled_objectives(job.values)) enabled.push_back(t.info->name);
  return ObjectiveContext{
      job.values, job.model, job.seed, enabled, job.eval.gallery_per_identity, job.optimizer.options()};
}

OptimizerOptions OptimizerConfig::options() const {
  OptimizerOptions o;
  o.kind = kind;
  o.beta1 = beta1;
  o.beta2 = beta2;
  o.eps = eps;
  o.amsgrad = amsgrad;
  return o;
}

std::map<std::string, std::string> optimizer_signature(const ConfigValues& values) {
  std::map<std::string, std::string> sig;
  for (const auto& k : optimizer_section().keys())
    if (k.shapes_model()) sig[k.path] = values.text(k.path);
  return sig;
}

const Schema& job_schema() {
  static const Schema schema = [] {
    Schema s(seed_section().keys());
    s.add(encoder_input_section().keys());
    s.add(data_section().keys());
    s.add(image_augment_section().keys());
    s.add(audio_augment_section().keys());
    s.add(encoder_keys());
    s.add(objective_keys());
    s.add(optimizer_section().keys());
    s.add(ema_section().keys());
    s.add(schedule_section().keys());
    s.add(train_section().keys());
    s.add(distributed_section().keys());
    s.add(eval_section().keys());
    s.add(log_section().keys());
    s.add(checkpoint_section().keys());
    return s;
  }();
  return schema;
}

ConfigValues load_job_values(const std::string& file, const std::vector<std::string>& overrides) {
  return ConfigValues::load(job_schema(), file, overrides);
}

ConfigValues parse_job_values(const std::string& yaml_text, const std::string& source,
                              const std::vector<std::string>& overrides) {
  return ConfigValues::parse(job_schema(), yaml_text, source, overrides);
}

JobConfig read_job_sections(const ConfigValues& values) {
  JobConfig j(values);
  seed_section().read_into(values, j);
  j.model = read_encoder_spec(values);
  j.data = data_section().read(values);
  j.augment.image = image_augment_section().read(values);
  j.augment.audio = audio_augment_section().read(values);
  j.optimizer = optimizer_section().read(values);
  j.ema = ema_section().read(values);
  j.schedule = schedule_section().read(values);
  j.train = train_section().read(values);
  j.distributed = distributed_section().read(values);
  j.eval = eval_section().read(values);
  j.log = log_section().read(values);
  j.checkpoint = checkpoint_section().read(values);
  return j;
}

JobConfig read_job(const ConfigValues& values, const std::string& source) {
  JobConfig j = read_job_sections(values);
  j.source = source;
  check_data_rules(j, source);
  check_training_rules(j, source);
  j.objectives = enabled_objectives(values);
  return j;
}

JobConfig parse_job(const std::string& yaml_text, const std::string& source,
                    const std::vector<std::string>& overrides) {
  return read_job(parse_job_values(yaml_text, source, overrides),
                  overrides.empty() ? source : source + " (with --set overrides)");
}

JobConfig load_job(const std::string& file, const std::vector<std::string>& overrides) {
  return read_job(load_job_values(file, overrides), overrides.empty() ? file : file + " (with --set overrides)");
}

void check_job_files(const JobConfig& job) {
  if (job.data.source == DataSource::Shards && !job.data.create_if_missing &&
      !std::ifstream(job.data.path + "/manifest.json"))
    throw ConfigError(job.source + ": data.path: '" + job.data.path +
                      "' holds no manifest.json (make a dataset with "
                      "`imprint synth`, or set data.create_if_missing: true)");
  try {
    check_objective_files(enabled_objectives(job.values), objective_context(job));
  } catch (const ConfigError& e) {
    throw ConfigError(job.source + ": " + e.what());
  }
}

}  // namespace imprint
