#include "trainer/config_schema.h"

#include <cmath>
#include <sstream>

namespace imprint {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

KeySpec Int(std::string path, std::string def, double lo, double hi, std::string doc) {
  return KeySpec{std::move(path), KeyType::Int, std::move(def), lo, hi, false, false, {}, std::move(doc)};
}
KeySpec Float(std::string path, std::string def, double lo, double hi, bool lo_excl, bool hi_excl,
              std::string doc) {
  return KeySpec{std::move(path), KeyType::Float, std::move(def), lo, hi, lo_excl, hi_excl, {}, std::move(doc)};
}
KeySpec Bool(std::string path, std::string def, std::string doc) {
  return KeySpec{std::move(path), KeyType::Bool, std::move(def), -kInf, kInf, false, false, {}, std::move(doc)};
}
KeySpec String(std::string path, std::string def, std::string doc) {
  return KeySpec{std::move(path), KeyType::String, std::move(def), -kInf, kInf, false, false, {}, std::move(doc)};
}
KeySpec Choice(std::string path, std::string def, std::vector<std::string> choices, std::string doc) {
  return KeySpec{std::move(path), KeyType::Choice, std::move(def), -kInf, kInf, false, false,
                 std::move(choices), std::move(doc)};
}

std::vector<KeySpec> build_schema() {
  const double big = 9.0e15;  // integers stay exact in a double below 2^53
  return {
      Int("seed", "1234", 0, big, "Seed for model initialisation, pair sampling and augmentation."),

      Choice("data.modality", "image", {"image", "audio"}, "Which encoder to train and which samples to read."),
      Choice("data.source", "synthetic", {"synthetic", "shards"},
             "Where samples come from: the built-in procedural generator, or a shard dataset at data.path "
             "(docs/dataset-format.md)."),
      String("data.path", "",
             "Dataset folder (manifest.json + shard-*.h5) when data.source is shards; made by `imprint synth` "
             "when data.create_if_missing is true and it does not exist."),
      Bool("data.verify_checksums", "true",
           "Check every shard's checksum against the manifest before training (reads each file once); a corrupt "
           "shard then stops the run with its name instead of training on damaged samples."),
      Bool("data.create_if_missing", "false",
           "With data.source: shards, write the synthetic identities (data.seed, data.*_identities, "
           "data.samples_per_identity, size/rate) to data.path first if it holds no dataset."),
      Int("data.seed", "7", 0, big,
          "Seed of the synthetic identities themselves; fixed so that changing `seed` keeps the dataset."),
      Int("data.train_identities", "1000", 2, 1e7, "Synthetic training identities."),
      Int("data.eval_identities", "100", 2, 1e6,
          "Held-out synthetic identities, disjoint from the training ones, used only for evaluation."),
      Int("data.samples_per_identity", "16", 2, 1e6,
          "Distinct samples (pose/utterance) each synthetic identity has; a training pair draws two of them."),
      Int("data.content_classes", "0", 0, 1e4,
          "Synthetic images only: > 0 gives sample i the content label i % N, which decides where its shape sits "
          "(what a generator is asked to draw); 0: no content labels. Shard datasets carry their own labels."),
      Int("data.image_size", "32", 8, 1024,
          "Image side in pixels (images are square, RGB). With data.source: shards, the dataset's own (manifest) "
          "unless the config sets it; then the two must match."),
      Int("data.sample_rate", "8000", 4000, 48000,
          "Audio sample rate in Hz. With data.source: shards, the dataset's own (manifest) unless the config sets "
          "it; then the two must match."),
      Float("data.clip_seconds", "0.5", 0.1, 30, false, false, "Audio clip length fed to the encoder, seconds."),
      Bool("data.augment", "true",
           "Augment training samples (with the denoise objective references only: the generator's targets stay "
           "clean): colour jitter and pixel noise (image) or random crops and gain (audio), plus what the "
           "augment.* keys enable (shard datasets; synthetic data keeps its own jitter)."),
      Int("data.workers", "2", 0, 64,
          "Threads that build batches ahead of the trainer; 0 builds them on the training thread."),
      Int("data.prefetch", "4", 1, 256, "Batches the loader may hold ready ahead of the trainer."),
      // augment.*: what data.augment does to a training sample read from shards (data/augment_options.h).
      Float("augment.crop_scale_min", "1", 0.05, 1, false, false,
            "Image: random resized crop (torchvision's RandomResizedCrop): area fraction drawn from [this, 1], "
            "aspect ratio log-uniform in [3/4, 4/3], resized back to data.image_size; 1: off."),
      Float("augment.rotate_degrees", "0", 0, 180, false, false, "Image: rotation drawn from [-this, this] degrees."),
      Float("augment.shear_degrees", "0", 0, 45, false, false,
            "Image: horizontal shear drawn from [-this, this] degrees (leave 0 where slant IS the identity, e.g. "
            "italic font faces)."),
      Float("augment.translate", "0", 0, 0.5, false, false, "Image: shift of up to this fraction of the side, each axis."),
      Float("augment.gain", "0.1", 0, 1, false, false, "Image: per-channel gain drawn from [1 - this, 1 + this]."),
      Float("augment.brightness", "0.08", 0, 1, false, false, "Image: brightness offset drawn from [-this, this]."),
      Float("augment.contrast", "0", 0, 1, false, false,
            "Image: contrast factor drawn from [1 - this, 1 + this], around the image's mean."),
      Float("augment.pixel_noise", "0.02", 0, 1, false, false, "Image: Gaussian pixel noise std (pixels in [0, 1])."),
      Float("augment.blur_prob", "0", 0, 1, false, false, "Image: chance of a Gaussian blur."),
      Float("augment.blur_sigma", "1", 0.1, 10, false, false, "Image: the blur's sigma is drawn from [0.1, this] pixels."),
      Float("augment.speed", "0", 0, 0.5, false, true,
            "Audio: speed perturbation, factor drawn from [1 - this, 1 + this] (tempo and pitch, as sox speed; "
            "libsoxr resamples)."),
      Float("augment.noise_prob", "0", 0, 1, false, false, "Audio: chance of additive noise."),
      Float("augment.noise_snr_min", "5", -20, 60, false, false, "Audio: the noise's SNR is drawn from [min, max] dB."),
      Float("augment.noise_snr_max", "20", -20, 60, false, false, "Audio: see augment.noise_snr_min."),
      String("augment.noise_dir", "",
             "Audio: a folder of noise recordings (.wav/.flac, any rate; read once, held in memory, at most 2^28 "
             "samples); empty: generated white, pink or brown noise."),
      Float("augment.reverb_prob", "0", 0, 1, false, false,
            "Audio: chance of a synthetic room response (Gaussian tail decaying 60 dB over RT60, direct-to-"
            "reverberant ratio drawn from [0, 10] dB)."),
      Float("augment.reverb_rt60_max", "0.6", 0.1, 3, false, false, "Audio: RT60 drawn from [0.1, this] seconds."),
      Int("augment.time_masks", "0", 0, 20, "Audio: SpecAugment time masks per clip (spans set to silence)."),
      Float("augment.time_mask_seconds", "0.05", 0, 5, false, false, "Audio: each time mask is up to this long."),
      Int("augment.freq_masks", "0", 0, 20,
          "Audio: SpecAugment frequency masks per clip (a band removed from the clip's spectrum, so from every "
          "frame of the trunk's log-mel features)."),
      Float("augment.freq_mask_hz", "200", 0, 24000, false, false, "Audio: each frequency mask is up to this wide."),

      Choice("model.name", "auto", {"auto", "image_cnn", "audio_cnn", "ecapa_tdnn", "audio_resnet34", "image_resnet",
                                      "image_vit"},
             "Encoder to build (models/registry.cpp): image_cnn, image_resnet (ResNet, model.depth blocks per stage) "
             "or image_vit (ViT, model.depth/heads/patch) for images; audio_cnn, audio_resnet34 (thin ResNet34 on "
             "log-mel, widths model.width to 8 x model.width) or ecapa_tdnn (ECAPA-TDNN with 8 x model.width "
             "channels) for audio; auto picks the data.modality's default (image_cnn, audio_cnn)."),
      Int("model.embed_dim", "128", 8, 4096, "Width D of the conditioning tokens and the pooled vector."),
      Int("model.tokens", "4", 1, 256, "Number K of conditioning tokens per sample."),
      Int("model.width", "32", 4, 1024, "Base channel count of the convolutional trunk."),
      Int("model.depth", "2", 1, 64,
          "image_resnet: residual blocks per stage (3 stages); image_vit: transformer blocks. Other encoders ignore it."),
      Int("model.heads", "4", 1, 64, "image_vit: attention heads (must divide its width 4 x model.width)."),
      Int("model.patch", "4", 1, 256, "image_vit: patch side in pixels (must divide data.image_size)."),
      Int("model.resampler_depth", "1", 1, 64,
          "Every encoder's conditioning head: blocks of its token resampler (the first: K learned queries "
          "cross-attend over the trunk's features; each further one: the tokens query the features again, with "
          "residual attention and MLP). IP-Adapter-Plus uses 4."),
      Int("model.resampler_heads", "4", 1, 256, "Attention heads of the token resampler (must divide model.embed_dim)."),
      Int("model.audio.n_mels", "40", 8, 256, "Mel bands of the audio front end."),
      Int("model.audio.n_fft", "256", 32, 8192, "FFT size (and window length) of the audio front end."),
      Int("model.audio.hop", "80", 1, 4096, "Hop in samples between STFT frames."),

      Float("objective.infonce.weight", "1", 0, 1e6, false, false,
            "Weight of symmetric InfoNCE (reference vs target pooled embeddings, negatives from the global batch) "
            "in the training loss; 0 turns it off. The loss is the weighted sum of every objective with a weight "
            "above 0."),
      Float("objective.infonce.temperature", "0.07", 0, 10, true, false,
            "InfoNCE softmax temperature (initial value if learned)."),
      Bool("objective.infonce.learn_temperature", "true",
           "Learn the InfoNCE temperature as a parameter (clamped to >= 0.01)."),

      Float("objective.aam.weight", "0", 0, 1e6, false, false,
            "Weight of additive angular margin softmax (ArcFace; trainer/objectives/aam_softmax.h): every sample's "
            "pooled embedding (all K views) is classified among the dataset's identities with a margin; 0 turns it off."),
      Int("objective.aam.classes", "0", 0, 1e8,
          "Class centres: the dataset's identity count, held-out identities included (their centres never get a "
          "positive). 0 takes it from the dataset (manifest, or data.train_identities + data.eval_identities)."),
      Float("objective.aam.scale", "32", 0, 1e4, true, false, "Logit scale s (WeSpeaker and ArcFace use 32 to 64)."),
      Float("objective.aam.margin", "0.2", 0, 1.5, false, false,
            "Additive angular margin m in radians, added to the true class's angle."),
      Int("objective.aam.margin_warmup_steps", "0", 0, 1e9,
          "Steps over which the margin ramps linearly from 0 to objective.aam.margin; 0: the full margin from the "
          "start."),
      Int("objective.aam.sub_centers", "1", 1, 64,
          "Centres per class (sub-center ArcFace): a sample counts against its closest one."),
      Bool("objective.aam.shard_classifier", "false",
           "Partial FC: each rank holds 1/N of the class centres (and their AdamW moments), scores the all-gathered "
           "embeddings against them, and the softmax crosses ranks exactly. The centres then train with their own "
           "AdamW (optimizer.lr/beta1/beta2/eps, no weight decay, outside optimizer.grad_clip); checkpoints hold "
           "them whole, so a resume on another number of ranks re-shards them."),
      Float("objective.aam.sample_rate", "1", 0, 1, true, false,
            "Sharded classifier only (Partial FC's sample_rate): each step scores the classes present in the global "
            "batch plus this fraction of the other classes (drawn per class from seed and step, the same on any "
            "number of ranks); 1 scores all."),

      Float("objective.supcon.weight", "0", 0, 1e6, false, false,
            "Weight of the supervised contrastive loss (trainer/objectives/supcon.h): every view of the P x K batch "
            "against the other K-1 views of its identity, negatives from the global batch; 0 turns it off."),
      Float("objective.supcon.temperature", "0.1", 0, 10, true, false, "Softmax temperature of supcon."),

      Float("objective.ge2e.weight", "0", 0, 1e6, false, false,
            "Weight of the generalised end-to-end loss (trainer/objectives/ge2e.h): every view against each "
            "identity's centroid in the global batch (its own centroid leaves it out); 0 turns it off."),
      Choice("objective.ge2e.form", "softmax", {"softmax", "contrast"},
             "GE2E's loss form: softmax over centroids, or contrast (own centroid's sigmoid vs the hardest other)."),
      Float("objective.ge2e.init_scale", "10", 0, 1e4, true, false, "Initial w of S = w cos + b (learned, kept > 0)."),
      Float("objective.ge2e.init_bias", "-5", -1e4, 1e4, false, false,
            "Initial b of S = w cos + b (learned in the contrast form; it cancels in the softmax form and stays fixed)."),

      Float("objective.denoise.weight", "0", 0, 1e6, false, false,
            "Weight of the generative objective (trainer/objectives/denoise.h): a conditional diffusion generator "
            "predicts the noise added to the target from its content label and the reference's identity tokens. "
            "Images only."),
      Choice("objective.denoise.train", "all", {"generator", "adapter", "all"},
             "What learns: generator = pretraining on content only (encoder unused); adapter = generator frozen "
             "(from generator_from) except the identity branch of its cross-attention, plus the encoder; all = "
             "everything (from generator_from when given)."),
      String("objective.denoise.generator_from", "",
             "An imprint checkpoint whose generator (trained with objective.denoise.train: generator) is loaded; "
             "required for adapter. Its path and content hash go into the model signature: a resume refuses "
             "another generator."),
      String("objective.denoise.generator_script", "",
             "Bring your own generator: a TorchScript file whose forward(x_t, t, content, id_tokens, id_scale: float) "
             "predicts a tensor shaped like x_t (docs/architecture.md, \"Bring a generator\"); it replaces imprint's "
             "UNet (objective.denoise.width/heads then do not apply). Its path and content hash go into the model "
             "signature: a resume or generate refuses a changed file."),
      String("objective.denoise.adapter_pattern", "adapter",
             "With generator_script: the parameters whose names in the file match this regex (searched) are the "
             "adapter weights that objective.denoise.train: adapter trains; the rest stays frozen."),
      Int("objective.denoise.width", "32", 8, 1024,
          "Channels of the generator's first level (deeper levels have twice as many)."),
      Int("objective.denoise.heads", "4", 1, 64, "Attention heads of the generator's cross-attention blocks."),
      Int("objective.denoise.content_classes", "0", 0, 1e6,
          "Content labels the generator is conditioned on; must equal the dataset's count (0: none)."),
      Choice("objective.denoise.schedule", "cosine", {"cosine", "linear"},
             "Noise schedule of the forward process: cosine (Nichol & Dhariwal) or linear (DDPM)."),
      Int("objective.denoise.timesteps", "1000", 2, 1e5, "Diffusion timesteps T."),
      Choice("objective.denoise.prediction", "eps", {"eps", "v"},
             "What the generator predicts: the noise (eps) or v = sqrt(ab) eps - sqrt(1 - ab) x0."),
      Float("objective.denoise.drop_identity", "0.05", 0, 1, false, false,
            "Fraction of rows trained with the identity tokens dropped (zeroed), for classifier-free guidance."),
      Float("objective.denoise.drop_content", "0.05", 0, 1, false, false,
            "Fraction of rows trained with the content label dropped (the null label)."),
      Float("objective.denoise.drop_both", "0.05", 0, 1, false, false, "Fraction of rows with both dropped."),
      Float("objective.denoise.min_snr_gamma", "0", 0, 1e6, false, false,
            "> 0: weight each row's loss by min(SNR, gamma) / SNR (eps) or / (SNR + 1) (v), Min-SNR (Hang et al. "
            "2023); 5 is the paper's choice. 0: unweighted."),
      Float("objective.denoise.id_scale", "1", 0, 100, false, false,
            "Scale lambda of the identity branch of every cross-attention while training."),

      Choice("optimizer.name", "adamw", {"adamw", "lamb"},
             "AdamW (decoupled weight decay) or LAMB (AdamW direction rescaled per tensor by a trust ratio)."),
      Bool("optimizer.fused", "true",
           "Use imprint's fused single-pass optimizer; false uses torch::optim::AdamW (AdamW only)."),
      Bool("optimizer.amsgrad", "false", "AdamW with the AMSGrad maximum of second moments."),
      Float("optimizer.lr", "0.001", 0, 10, true, false, "Peak learning rate."),
      Float("optimizer.beta1", "0.9", 0, 1, false, true, "First-moment decay."),
      Float("optimizer.beta2", "0.999", 0, 1, false, true, "Second-moment decay."),
      Float("optimizer.eps", "1e-8", 0, 1, true, false, "Denominator epsilon."),
      Float("optimizer.weight_decay", "0.05", 0, 1, false, false,
            "Decoupled weight decay, applied to weight matrices and kernels only (not biases, norms, temperature)."),
      Float("optimizer.grad_clip", "1.0", 0, kInf, false, false,
            "Clip gradients to this global L2 norm; 0 disables clipping."),

      Float("ema.decay", "0", 0, 1, false, true,
            "Keep an exponential moving average of the trainable weights (avg = decay * avg + (1 - decay) * w "
            "after each step; e.g. 0.999) in checkpoints, and evaluate, generate and export with it; 0 keeps none."),

      Choice("schedule.name", "cosine", {"cosine", "constant"}, "Learning-rate schedule after warm-up."),
      Int("schedule.warmup_steps", "50", 0, big, "Linear warm-up steps from 0 to optimizer.lr."),
      Float("schedule.min_lr_ratio", "0.1", 0, 1, false, false, "Cosine floor as a fraction of optimizer.lr."),

      Int("train.steps", "300", 1, big, "Total optimizer steps of the run (the schedule spans these)."),
      Int("train.batch_size", "64", 2, 1e6,
          "Global batch: identities per step (P), all different; each gives train.samples_per_identity samples."),
      Int("train.samples_per_identity", "2", 2, 64,
          "Samples per identity per step (K of a P x K batch): a reference, a different target and K-2 extra views "
          "(distinct samples while the identity has them). Above 2 needs an objective that reads every view: "
          "supcon, ge2e or aam."),
      Int("train.stop_at", "0", 0, big,
          "Checkpoint and exit after this step (for time-limited allocations); 0 runs to train.steps."),
      Int("train.threads", "0", 0, 1024,
          "Torch intra-op threads; 0: the rank's cores (its CPU affinity, else the node's cores over its ranks) minus "
          "data.workers and, with several ranks, the communication thread; at least 1."),
      Choice("train.device", "auto", {"auto", "cpu", "cuda"},
             "Where to train: auto takes the GPU of this rank's local rank when this build and machine have one."),
      Choice("train.precision", "fp32", {"fp32", "bf16"},
             "fp32, or bf16: the forward pass under autocast in bfloat16 with float32 weights, gradients, all-reduce "
             "and optimizer (GPU; CPU needs libtorch 2.0 or newer)."),
      Int("train.log_every", "20", 1, big, "Steps between log lines (and metrics.jsonl records)."),
      Int("train.eval_every", "100", 0, big, "Steps between held-out evaluations; 0 evaluates only at the end."),

      Choice("distributed.backend", "auto", {"auto", "mpi", "nccl"},
             "Collectives backend: auto picks mpi when launched with more than one rank (nccl: CUDA builds only)."),
      Float("distributed.bucket_mb", "25", 0.001, 4096, false, false,
            "Gradient bucket size in MB: each full bucket is all-reduced while backward goes on."),
      Float("distributed.first_bucket_mb", "1", 0.001, 4096, false, false,
            "Size of the first (last layers') bucket, small so communication starts early."),
      Choice("distributed.grad_compression", "none", {"none", "bf16"},
             "none all-reduces float32 gradients; bf16 rounds each bucket to bfloat16 for the all-reduce (half the "
             "bytes; DDP's bf16_compress_hook) and widens the average back to float32."),
      Float("distributed.timeout_s", "300", 0, 1e6, false, false,
            "A collective not done within this many seconds ends every rank with a message naming it, the step "
            "and the missing ranks; 0 waits forever."),
      Bool("distributed.debug", "false",
           "Before each collective check that every rank enters the same one with the same shape and dtype "
           "(also set by the environment variable IMPRINT_DEBUG_COLLECTIVES=1)."),
      Bool("distributed.find_unused_parameters", "false",
           "Allow parameters that get no gradient in a step (they are averaged with zeros, or left alone when no "
           "rank used them); false names them in an error on the first step."),

      Int("eval.gallery_per_identity", "4", 1, 1e4,
          "Gallery samples per held-out identity (the reference sample is not among them)."),
      Int("eval.batch_size", "256", 1, 1e6, "Samples per forward pass during evaluation."),
      Int("eval.asnorm_cohort", "0", 0, 1e6,
          "AS-norm (adaptive symmetric score normalisation): a cohort of this many TRAINING identities (sample 0 "
          "each) normalises the verification scores; EER/minDCF are then reported raw and AS-normed "
          "(eval_eer_asnorm, eval_min_dcf_asnorm). 0: off."),
      Int("eval.asnorm_top_k", "100", 1, 1e6,
          "AS-norm: how many of a sample's highest cohort scores give its mean and deviation (clamped to the cohort)."),
      String("eval.judge", "",
             "Identity fidelity of generated samples (needs objective.denoise.train adapter or all): an imprint "
             "checkpoint of an encoder trained on the TRAINING identities only (e.g. a contrastive run on the same "
             "dataset) that scores samples generated from ONE reference of each held-out identity, beside the same "
             "without the identity tokens (floor) and real samples (ceiling); \"\" turns it off."),
      Int("eval.fidelity_identities", "16", 2, 1e6,
          "Held-out identities whose reference is generated from (the first ones; top-1 chance is 1 / this)."),
      Int("eval.fidelity_content", "4", 1, 1e4,
          "Samples generated per reference: one per content label, spread over the vocabulary."),
      Int("eval.fidelity_steps", "20", 1, 1e4, "DDIM steps of the samples the judge scores."),
      Float("eval.fidelity_guidance", "3.0", 0, 100, false, false,
            "Classifier-free guidance scale of those samples (1 = none)."),
      Int("eval.content_bank_identities", "256", 1, 1e6,
          "Training identities whose samples read a sample's content label (nearest neighbour: cosine of the "
          "mean-removed pixels). Every rank holds them all on its device: identities x samples x sample size x 4 "
          "bytes (82 MB for the font recipe's 32x32 RGB glyphs)."),

      Bool("log.tensorboard", "true",
           "Rank 0 also writes TensorBoard event files to <run dir>/tensorboard (every numeric metric as a "
           "scalar: train/*, eval/*, time/*); `tensorboard --logdir runs` shows them."),

      Int("checkpoint.every", "100", 0, big, "Steps between checkpoints; 0 writes only at the end."),
      Float("checkpoint.every_minutes", "0", 0, 1e6, false, false,
            "Also checkpoint when this many minutes of wall-clock time have passed since the last checkpoint (the "
            "ranks agree on the step); 0 turns the time-based interval off."),
      Choice("checkpoint.keep_best", "none", {"none", "top1", "top1_all", "eer", "min_dcf", "eer_asnorm"},
             "Also keep RUN/best.ckpt, the checkpoint of the best held-out evaluation so far by this metric "
             "(top1: one reference per identity; top1_all: every sample as the reference; eer, min_dcf, eer_asnorm "
             "(needs eval.asnorm_cohort): lower is better), and RUN/best.json naming its step and value."),
      Int("checkpoint.keep", "3", 1, 1e6,
          "Most recent checkpoints kept (by the step stored inside them); older ones are deleted."),
  };
}

std::string fmt_bound(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::ostringstream s;
  s << v;
  return s.str();
}

}  // namespace

const std::vector<KeySpec>& config_schema() {
  static const std::vector<KeySpec> schema = build_schema();
  return schema;
}

const KeySpec* find_key(const std::string& path) {
  for (const auto& k : config_schema())
    if (k.path == path) return &k;
  return nullptr;
}

std::string describe_expected(const KeySpec& spec) {
  std::string range = std::string(spec.min_exclusive ? "(" : "[") + fmt_bound(spec.min) + ", " +
                      fmt_bound(spec.max) + (spec.max_exclusive || std::isinf(spec.max) ? ")" : "]");
  switch (spec.type) {
    case KeyType::Int: return "an integer in " + range;
    case KeyType::Float: return "a number in " + range;
    case KeyType::Bool: return "true or false";
    case KeyType::String: return "a string";
    case KeyType::Choice: {
      std::string s = "one of";
      for (size_t i = 0; i < spec.choices.size(); ++i) s += (i ? ", " : " ") + spec.choices[i];
      return s;
    }
  }
  return "";
}

}  // namespace imprint
