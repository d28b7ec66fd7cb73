#include "trainer/train_loop.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include <sched.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include "collectives/bootstrap.h"
#include "collectives/gradient_reducer.h"
#include "core/log.h"
#include "core/text.h"
#include "data/audio_augment.h"
#include "data/prefetch_loader.h"
#include "data/shard_dataset.h"
#include "data/synthetic_dataset.h"
#include "data/synthetic_export.h"
#include "trainer/autocast_scope.h"
#include "trainer/checkpoint_store.h"
#include "trainer/encoder_export.h"
#include "trainer/fault_injection.h"
#include "trainer/fidelity_eval.h"
#include "trainer/training_run.h"
#include "trainer/weight_average.h"
#include "trainer/lr_schedule.h"
#include "trainer/metrics_log.h"
#include "trainer/optim/optimizer.h"
#include "trainer/safetensors_writer.h"
#include "trainer/step_agreement.h"
#include "trainer/stop_signals.h"

namespace imprint {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

SyntheticSpec synthetic_spec(const Config& c) {
  SyntheticSpec s;
  s.modality = parse_modality(c.get_string("data.modality"));
  s.data_seed = static_cast<uint64_t>(c.get_int("data.seed"));
  s.train_identities = c.get_int("data.train_identities");
  s.eval_identities = c.get_int("data.eval_identities");
  s.samples_per_identity = c.get_int("data.samples_per_identity");
  s.image_size = static_cast<int>(c.get_int("data.image_size"));
  s.sample_rate = static_cast<int>(c.get_int("data.sample_rate"));
  s.clip_samples = static_cast<int>(std::lround(c.get_float("data.clip_seconds") * s.sample_rate));
  s.content_classes = static_cast<int>(c.get_int("data.content_classes"));
  return s;
}

// The denoise objective's generator knows a fixed number of content labels: the dataset must have as many.
void check_content_labels(const Config& c, const IdentityDataset& ds, const std::string& where) {
  if (c.get_float("objective.denoise.weight") <= 0) return;
  const auto have = static_cast<int64_t>(ds.content_labels().size());
  if (have != c.get_int("objective.denoise.content_classes"))
    throw ConfigError("objective.denoise.content_classes: is " + std::to_string(c.get_int("objective.denoise.content_classes")) +
                      " but " + where + " has " + std::to_string(have) + " content labels; set it to " +
                      std::to_string(have));
}

}  // namespace

int default_intra_op_threads(int rank_cores, int workers, bool comm_thread) {
  return std::max(1, rank_cores - workers - (comm_thread ? 1 : 0));
}

int cores_for_rank(int local_size) {
  const int node = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  cpu_set_t set;
  CPU_ZERO(&set);
  const int bound = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : node;
  if (bound > 0 && bound < node) return bound;  // the launcher gave this rank these cores
  return std::max(1, node / std::max(1, local_size));
}

std::vector<std::string> adopt_dataset_shape(Config& c) {
  std::vector<std::string> taken;
  const bool aam_open = c.get_float("objective.aam.weight") > 0 && c.get_int("objective.aam.classes") == 0;
  const std::string path = c.get_string("data.path");
  std::error_code ec;
  const bool have_manifest = !path.empty() && std::filesystem::is_regular_file(path + "/manifest.json", ec);
  // The synthetic identities: generated on the fly, or written to data.path first (create_if_missing).
  if (c.get_string("data.source") == "synthetic" || (!have_manifest && c.get_bool("data.create_if_missing"))) {
    if (aam_open) {
      const int64_t n = c.get_int("data.train_identities") + c.get_int("data.eval_identities");
      c.set("objective.aam.classes", std::to_string(n), "the synthetic dataset");
      taken.push_back("objective.aam.classes: " + std::to_string(n) + " from data.train_identities + data.eval_identities");
    }
    return taken;
  }
  if (!have_manifest) return taken;
  const Manifest m = Manifest::read(path);
  auto adopt = [&](const std::string& key, int64_t value) {
    if (c.given(key) || value <= 0 || c.get_int(key) == value) return;
    c.set(key, std::to_string(value), path + "/manifest.json");
    taken.push_back(key + ": " + std::to_string(value) + " from " + path + "/manifest.json");
  };
  if (m.modality == Modality::Image) adopt("data.image_size", m.image_size);
  if (m.modality == Modality::Audio) adopt("data.sample_rate", m.sample_rate);
  if (aam_open) adopt("objective.aam.classes", static_cast<int64_t>(m.identities.size()));
  if (!taken.empty()) check_config_rules(c, path + "/manifest.json (values taken from the dataset)");
  return taken;
}

namespace {

AugmentOptions augment_options(const Config& c) {
  AugmentOptions a;
  ImageAugmentOptions& i = a.image;
  i.crop_scale_min = c.get_float("augment.crop_scale_min");
  i.rotate_degrees = c.get_float("augment.rotate_degrees");
  i.shear_degrees = c.get_float("augment.shear_degrees");
  i.translate = c.get_float("augment.translate");
  i.gain = c.get_float("augment.gain");
  i.brightness = c.get_float("augment.brightness");
  i.contrast = c.get_float("augment.contrast");
  i.pixel_noise = c.get_float("augment.pixel_noise");
  i.blur_prob = c.get_float("augment.blur_prob");
  i.blur_sigma = c.get_float("augment.blur_sigma");
  AudioAugmentOptions& s = a.audio;
  s.speed = c.get_float("augment.speed");
  s.noise_prob = c.get_float("augment.noise_prob");
  s.noise_snr_min = c.get_float("augment.noise_snr_min");
  s.noise_snr_max = c.get_float("augment.noise_snr_max");
  s.noise_dir = c.get_string("augment.noise_dir");
  s.reverb_prob = c.get_float("augment.reverb_prob");
  s.reverb_rt60_max = c.get_float("augment.reverb_rt60_max");
  s.time_masks = static_cast<int>(c.get_int("augment.time_masks"));
  s.time_mask_seconds = c.get_float("augment.time_mask_seconds");
  s.freq_masks = static_cast<int>(c.get_int("augment.freq_masks"));
  s.freq_mask_hz = c.get_float("augment.freq_mask_hz");
  return a;
}

// The recordings of augment.noise_dir, read once (nullptr: generated noise, or nothing to add noise to).
std::shared_ptr<const NoiseBank> open_noise_bank(const Config& c, const Manifest& m) {
  const std::string dir = c.get_string("augment.noise_dir");
  if (dir.empty() || m.modality != Modality::Audio || !c.get_bool("data.augment") || c.get_float("augment.noise_prob") <= 0)
    return nullptr;
  try {
    auto bank = std::make_shared<const NoiseBank>(dir, m.sample_rate);
    log::info(log::strf("augment.noise_dir: %zu noise recording(s) from %s", bank->files(), dir.c_str()));
    return bank;
  } catch (const std::runtime_error& e) {
    throw ConfigError(std::string("augment.noise_dir: ") + e.what());
  }
}

// The dataset the config names: the generator itself, or shards (written from the generator first when
// data.create_if_missing asks for it and the folder holds none). Rank 0 writes; the others wait.
std::unique_ptr<IdentityDataset> open_dataset(const Config& c, Communicator& comm) {
  const SyntheticSpec spec = synthetic_spec(c);
  if (c.get_string("data.source") == "synthetic") {
    auto ds = std::make_unique<SyntheticDataset>(spec);
    check_content_labels(c, *ds, "the synthetic dataset (data.content_classes)");
    return ds;
  }
  const std::string path = c.get_string("data.path");
  if (c.get_bool("data.create_if_missing") && !fs::exists(path + "/manifest.json")) {
    if (comm.rank() == 0) {
      log::info("data.create_if_missing: writing the synthetic identities to " + path);
      const Manifest m = export_synthetic(spec, path, 256 << 20);
      log::info(log::strf("wrote %zu identities in %zu shard(s) to %s", m.identities.size(), m.shards.size(),
                          path.c_str()));
    }
    comm.barrier();
  }
  auto ds = std::make_unique<ShardDataset>(path, spec.clip_samples, c.get_bool("data.verify_checksums"));
  const Manifest& m = ds->manifest();
  ds->set_augmentation(augment_options(c), open_noise_bank(c, m));
  log::info(log::strf("dataset %s: %zu identities (%zu held out) in %zu shard(s); used as it is, the synthetic "
                      "data.* keys only shape a dataset created here",
                      path.c_str(), m.identities.size(), m.holdout.size(), m.shards.size()));
  if (m.modality != spec.modality)
    throw ConfigError("data.modality: is " + c.get_string("data.modality") + " but the dataset at " + path + " is " +
                      modality_name(m.modality));
  if (m.modality == Modality::Image && m.image_size != spec.image_size)
    throw ConfigError("data.image_size: is " + std::to_string(spec.image_size) + " but the images of " + path +
                      " are " + std::to_string(m.image_size) + " pixels");
  if (m.modality == Modality::Audio && m.sample_rate != spec.sample_rate)
    throw ConfigError("data.sample_rate: is " + std::to_string(spec.sample_rate) + " but " + path + " is at " +
                      std::to_string(m.sample_rate) + " Hz");
  check_content_labels(c, *ds, "the dataset at " + path);
  if (ds->eval_identities().size() < 2)
    throw ConfigError("data.path: " + path + " lists " + std::to_string(ds->eval_identities().size()) +
                      " held-out identities; evaluation needs at least 2 (imprint synth --holdout-identities)");
  return ds;
}

// The identity judge of eval.judge, checked against the run's samples, on `device`; nullptr when none.
std::shared_ptr<Encoder> load_judge(const Config& c, const at::Device& device) {
  const std::string path = c.get_string("eval.judge");
  if (path.empty()) return nullptr;
  TrainedEncoder judge;
  try {
    judge = load_trained_encoder(path);
  } catch (const CheckpointError& e) {
    throw ConfigError(std::string("eval.judge: ") + e.what());
  }
  if (judge.spec.modality != c.get_string("data.modality"))
    throw ConfigError("eval.judge: " + path + " encodes " + judge.spec.modality + "; this run's samples are " +
                      c.get_string("data.modality"));
  if (judge.spec.image_size != c.get_int("data.image_size"))
    throw ConfigError("eval.judge: " + path + " encodes images of " + std::to_string(judge.spec.image_size) +
                      " pixels; this run's are " + std::to_string(c.get_int("data.image_size")));
  log::info(log::strf("eval.judge: %s (step %lld, %s encoder) scores identity fidelity", path.c_str(),
                      (long long)judge.step, judge.spec.name.c_str()));
  judge.encoder->to(device);
  return judge.encoder;
}

at::Device pick_device(const Config& cfg, int local_rank) {
  const std::string want = cfg.get_string("train.device");
  const bool have_cuda = torch::cuda::is_available();
  if (want == "cuda" && !have_cuda)
    throw ConfigError("train.device: cuda was asked for, but this build of libtorch or this machine has no CUDA "
                      "device (use auto or cpu)");
  if (want == "cuda" || (want == "auto" && have_cuda))
    return at::Device(at::kCUDA, static_cast<at::DeviceIndex>(
                                     gpu_for_local_rank(local_rank, static_cast<int>(torch::cuda::device_count()))));
  return at::Device(at::kCPU);
}

// One optimizer step on this rank's rows `b`: forward through encoder and objectives, backward with the
// gradient all-reduce overlapping it, then the optimizer. Adds the objectives' logged values to `logged`.
// Nothing here reads a value back from a GPU: the loss stays a tensor until the log line reads the
// interval's sum, and the optimizer's report stays on the device (report.known false) until then too.
struct StepOutcome {
  at::Tensor loss;  // this rank's loss, detached
  double compute_ms = 0, comm_wait_ms = 0, optim_ms = 0;  // host time (on a GPU: time to enqueue)
  StepReport report;
};

StepOutcome train_step(TrainingRun& run, const PairBatch& b, GradientReducer* reducer, Communicator& comm, double lr,
                       double clip, bool bf16, std::map<std::string, at::Tensor>& logged) {
  StepOutcome o;
  const auto t1 = Clock::now();
  for (auto& kv : run.named) kv.second.mutable_grad() = at::Tensor();
  if (reducer) reducer->prepare(/*sync=*/true);
  TrainBatch rows{b.reference, b.target, b.identity, b.content, b.step, comm.rank() * b.identity.size(0), b.extra};
  ObjectiveOutput out;
  {
    AutocastScope autocast(run.device, bf16);
    EncodedBatch encoded;
    if (run.objective->reads_reference()) encoded.reference = run.encoder->encode(b.reference);
    if (run.objective->reads_target()) encoded.target = run.encoder->encode(b.target);
    if (b.extra.defined() && run.objective->reads_extra())
      encoded.extra = run.encoder->encode(b.extra.flatten(0, 1));  // [B*(K-2), ...]: one forward for every view
    out = run.objective->compute(rows, encoded, comm);
  }
  out.loss = out.loss.to(at::kFloat);
  out.loss.backward();
  for (auto& [name, value] : out.logged) {
    auto& sum = logged[name];
    sum = sum.defined() ? sum + value : value;
  }
  o.loss = out.loss.detach();
  if (reducer) {
    reducer->finalize();
    o.comm_wait_ms = 1000 * reducer->last_wait_seconds();
  }
  o.compute_ms = ms_since(t1);
  const auto t2 = Clock::now();
  o.report = run.optimizer->step_async(lr, clip);
  run.objective->step_shards(lr);
  o.optim_ms = ms_since(t2);
  return o;
}

}  // namespace

TrainSummary train(const Config& given, const TrainOptions& opts) {
  std::unique_ptr<Communicator> own_comm;
  Communicator* comm = opts.comm;
  if (!comm) own_comm = make_local_communicator(), comm = own_comm.get();
  const bool lead = comm->rank() == 0;
  Config cfg = given;  // with what the dataset decides where the config leaves it open
  for (const auto& t : adopt_dataset_shape(cfg))
    if (lead) log::info(t + " (the config leaves it open)");
  comm->set_context("start-up");
  // Set explicitly either way: Debian's libtorch starts with one OpenMP thread on some machines.
  const int64_t threads = cfg.get_int("train.threads");
  at::set_num_threads(threads > 0 ? static_cast<int>(threads)
                                  : default_intra_op_threads(cores_for_rank(opts.local_size),
                                                             static_cast<int>(cfg.get_int("data.workers")),
                                                             comm->size() > 1));
  fs::create_directories(opts.run_dir);
  CheckpointStore store(opts.run_dir + "/checkpoints", cfg.get_int("checkpoint.keep"));
  // Every rank reads the run directory (it must be on a shared filesystem), so all agree on where to start.
  const auto existing = store.list();
  if (!existing.empty() && !opts.resume)
    throw CheckpointError(opts.run_dir + " already holds checkpoints (" + existing.front().path +
                          "); pass --resume to continue that run or choose another --run-dir");
  if (comm->size() > 1 && cfg.get_int("train.batch_size") % comm->size() != 0)
    throw ConfigError("train.batch_size: " + std::to_string(cfg.get_int("train.batch_size")) +
                      " identities per step must be a multiple of the number of ranks (" + std::to_string(comm->size()) + ")");
  if (lead && opts.write_config) {
    std::ofstream out(opts.run_dir + "/config.yaml");
    out << cfg.to_yaml();
  }
  const Fault fault = fault_from_environment();

  const uint64_t seed = static_cast<uint64_t>(cfg.get_int("seed"));
  torch::manual_seed(seed);  // decides the initial parameters (the data use counter-based generators of their own)

  const at::Device device = pick_device(cfg, opts.local_rank);
  // Scalars the trainer itself reduces must live where the backend works: GPU memory for NCCL.
  const at::Device comm_device = comm->backend() == "nccl" ? device : at::Device(at::kCPU);
  if (device.is_cuda() && comm->size() > 1 && comm->backend() != "nccl")
    throw ConfigError("train.device: training on GPUs with several ranks needs distributed.backend: nccl (the " +
                      comm->backend() + " backend takes CPU tensors)");
  check_precision_supported(cfg.get_string("train.precision"), device);
  TrainingRun run = build_training_run(cfg, device, comm->rank(), comm->size());
  auto& named = run.named;
  const int64_t n_params = run.parameter_count();

  TrainSummary summary;
  int64_t step = 0;
  const int64_t total = cfg.get_int("train.steps");
  if (opts.resume) step = resume_training_run(run, store, existing.size());
  const int64_t stop_at = cfg.get_int("train.stop_at");
  const bool at_stop = stop_at > 0 && step >= stop_at && step < total;
  if (at_stop || step >= total) {  // nothing to do: say so before reading (and verifying) any data
    log::info(at_stop ? log::strf("step %lld is already at train.stop_at=%lld; nothing to do (resume without it to "
                                  "go on)", static_cast<long long>(step), static_cast<long long>(stop_at))
                      : log::strf("the run in %s is already finished (step %lld of %lld); nothing to do",
                                  opts.run_dir.c_str(), static_cast<long long>(step), static_cast<long long>(total)));
    summary.start_step = summary.steps_done = step;
    summary.stopped_early = at_stop;
    summary.already_finished = !at_stop;
    summary.first_loss = run.first_loss;
    return summary;
  }
  const std::unique_ptr<IdentityDataset> dataset_owner = open_dataset(cfg, *comm);
  const IdentityDataset& dataset = *dataset_owner;
  if (cfg.get_float("objective.aam.weight") > 0) {  // class = dataset identity index
    int64_t last = 0;
    for (const auto* ids : {&dataset.train_identities(), &dataset.eval_identities()})
      for (int64_t id : *ids) last = std::max(last, id);
    if (cfg.get_int("objective.aam.classes") <= last)
      throw ConfigError("objective.aam.classes: is " + std::to_string(cfg.get_int("objective.aam.classes")) +
                        " but the dataset's identities go up to index " + std::to_string(last) + "; set it to " +
                        std::to_string(last + 1) + " (or 0 to take it from the dataset)");
  }
  summary.start_step = step;

  // Every rank starts from rank 0's parameters, buffers and temperature, whatever its own initialisation.
  std::vector<at::Tensor> state;
  for (const auto& kv : named) state.push_back(kv.second);
  for (const auto& b : run.encoder->buffers()) state.push_back(b);
  for (const auto& b : run.objective->buffers()) state.push_back(b);
  GradientReducer::broadcast_from_rank0(*comm, state);
  std::unique_ptr<GradientReducer> reducer;
  if (comm->size() > 1) {
    GradientReducer::Options ro;
    ro.bucket_bytes = static_cast<int64_t>(cfg.get_float("distributed.bucket_mb") * (1 << 20));
    ro.first_bucket_bytes = static_cast<int64_t>(cfg.get_float("distributed.first_bucket_mb") * (1 << 20));
    ro.find_unused_parameters = cfg.get_bool("distributed.find_unused_parameters");
    ro.wire = cfg.get_string("distributed.grad_compression") == "bf16" ? at::kBFloat16 : at::kFloat;
    std::vector<at::Tensor> params;
    std::vector<std::string> names;
    for (const auto& kv : named) params.push_back(kv.second), names.push_back(kv.first);
    reducer = std::make_unique<GradientReducer>(params, names, *comm, ro);
  }

  const int64_t end = stop_at > 0 ? stop_at : total;
  const int64_t batch = cfg.get_int("train.batch_size");
  const int64_t log_every = cfg.get_int("train.log_every"), eval_every = cfg.get_int("train.eval_every");
  const int64_t ckpt_every = cfg.get_int("checkpoint.every");
  const double ckpt_minutes = cfg.get_float("checkpoint.every_minutes");
  const double clip = cfg.get_float("optimizer.grad_clip");
  const bool bf16 = cfg.get_string("train.precision") == "bf16";
  LrSchedule schedule{cfg.get_string("schedule.name"), cfg.get_float("optimizer.lr"),
                      cfg.get_int("schedule.warmup_steps"), total, cfg.get_float("schedule.min_lr_ratio")};

  // A generator learns to draw its targets: they stay clean (augmented ones taught it colour casts and speckle).
  PairSampler sampler(dataset, seed, batch, comm->rank(), comm->size(), cfg.get_bool("data.augment"),
                      /*augment_targets=*/cfg.get_float("objective.denoise.weight") <= 0,
                      cfg.get_int("train.samples_per_identity"));
  EvalSet eval_set = build_eval_set(dataset, cfg.get_int("eval.gallery_per_identity"));
  if (cfg.get_int("eval.asnorm_cohort") > 0) {
    add_asnorm_cohort(eval_set, dataset, cfg.get_int("eval.asnorm_cohort"), cfg.get_int("eval.asnorm_top_k"));
    eval_set.cohort = eval_set.cohort.to(device);
  }
  eval_set.references = eval_set.references.to(device);
  eval_set.gallery = eval_set.gallery.to(device);
  eval_set.gallery_identity = eval_set.gallery_identity.to(device);
  // Identity fidelity of generated samples: every rank draws the same samples (like the retrieval eval), so
  // no rank waits on another's evaluation.
  const std::shared_ptr<Encoder> judge = load_judge(cfg, device);
  std::shared_ptr<DenoiseObjective> denoise;
  FidelitySet fidelity_set;
  SamplerOptions fidelity_sampler;
  if (judge) {
    denoise = std::dynamic_pointer_cast<DenoiseObjective>(run.objective->find("denoise"));
    fidelity_set = build_fidelity_set(dataset, eval_set, cfg.get_int("eval.fidelity_identities"),
                                      cfg.get_int("eval.fidelity_content"), cfg.get_int("eval.content_bank_identities"),
                                      device);
    fidelity_sampler.steps = cfg.get_int("eval.fidelity_steps");
    fidelity_sampler.guidance = cfg.get_float("eval.fidelity_guidance");
    fidelity_sampler.id_scale = cfg.get_float("objective.denoise.id_scale");
    fidelity_sampler.seed = seed;
  }
  PrefetchLoader loader(dataset, sampler, static_cast<int>(cfg.get_int("data.workers")),
                        static_cast<int>(cfg.get_int("data.prefetch")), step, /*pin_memory=*/device.is_cuda());
  std::unique_ptr<MetricsLog> metrics;
  if (lead) {
    const std::string path = opts.run_dir + "/metrics.jsonl";
    // A resumed run repeats the steps after its checkpoint: their old records go, so every step has one.
    if (opts.resume) MetricsLog::drop_after(path, step);
    metrics = std::make_unique<MetricsLog>(path, run.restarts,
                                           cfg.get_bool("log.tensorboard") ? opts.run_dir + "/tensorboard" : "");
    if (run.restarts > 0) {
      metrics->write({{"event", "resume"}, {"step", step}});
      metrics->mark_start(step + 1);
    }
  }
  int64_t encoder_params = 0, all_params = 0;
  for (const auto& p : run.encoder->parameters()) encoder_params += p.numel();
  for (const auto& p : run.objective->parameters()) all_params += p.numel();
  all_params += encoder_params;
  std::string objectives;
  for (const auto& n : run.objective->names()) objectives += (objectives.empty() ? "" : " + ") + n;
  log::info(log::strf("objectives: %s; training %.2fM parameters%s", objectives.c_str(), n_params / 1e6,
                      all_params > n_params ? log::strf(" (%.2fM more frozen)", (all_params - n_params) / 1e6).c_str()
                                            : ""));
  log::info(log::strf("%s encoder: %.2fM parameters, %lld tokens x %lld; %zu train / %zu held-out identities; "
                      "%lld identities x %lld samples per step over %d rank(s) (%s), %lld steps per epoch; steps %lld..%lld of %lld; "
                      "%d torch threads; device %s",
                      cfg.get_string("data.modality").c_str(), encoder_params / 1e6, (long long)cfg.get_int("model.tokens"),
                      (long long)cfg.get_int("model.embed_dim"), dataset.train_identities().size(),
                      dataset.eval_identities().size(), (long long)batch, (long long)sampler.samples_per_identity(), comm->size(), comm->backend().c_str(),
                      (long long)sampler.steps_per_epoch(),
                      (long long)step + 1, (long long)end, (long long)total, at::get_num_threads(),
                      device.str().c_str()));

  // checkpoint.keep_best: RUN/best.ckpt is the checkpoint of the best evaluation so far by that metric, and
  // RUN/best.json says which (carried across resumes). Written after evaluate() has swapped the raw weights
  // back, so it is a checkpoint like any other (resumable, exportable).
  const std::string best_metric = cfg.get_string("checkpoint.keep_best");
  const bool lower_is_better = best_metric == "eer" || best_metric == "min_dcf" || best_metric == "eer_asnorm";
  double best_value = std::nan("");
  if (best_metric != "none" && opts.resume) {
    std::ifstream in(opts.run_dir + "/best.json");
    if (in) {
      const auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
      if (j.is_object() && j.value("metric", "") == best_metric && j.contains("value")) best_value = j["value"];
    }
  }
  auto keep_best = [&](int64_t at_step, const RetrievalScore& s) {
    if (best_metric == "none") return;
    const double v = best_metric == "top1" ? s.top1 : best_metric == "top1_all" ? s.top1_all
                     : best_metric == "eer" ? s.eer : best_metric == "eer_asnorm" ? s.eer_asnorm : s.min_dcf;
    if (!std::isnan(best_value) && (lower_is_better ? v >= best_value : v <= best_value)) return;
    best_value = v;
    const GatheredShards shards = run.objective->gather_shards(*comm);  // every rank: a collective
    if (!lead) return;
    const std::string path = save_checkpoint_as(run, at_step, store, opts.run_dir + "/best.ckpt", shards);
    std::ofstream(opts.run_dir + "/best.json") << nlohmann::json{{"metric", best_metric}, {"value", v},
                                                                 {"step", at_step}, {"checkpoint", path}}.dump(2)
                                               << "\n";
    log::info(log::strf("best %s so far (%.4g at step %lld): %s", best_metric.c_str(), v, (long long)at_step,
                        path.c_str()));
  };

  auto evaluate = [&](int64_t at_step) {
    // With ema.decay, what is evaluated is what generate and export will use: the averaged weights.
    std::unique_ptr<AveragedWeights> averaged;
    if (!run.average.empty()) averaged = std::make_unique<AveragedWeights>(run.named, run.average);
    const auto t = Clock::now();
    const RetrievalScore s = evaluate_retrieval(*run.encoder, eval_set, cfg.get_int("eval.batch_size"));
    log::info(log::strf("eval step %lld: held-out top-1 retrieval %.1f%% (chance %.1f%%; %lld identities, gallery %lld); "
                        "every sample as the reference: top-1 %.1f%% [95%% CI %.1f-%.1f], top-5 %.1f%% (%lld queries); "
                        "verification EER %.2f%%, minDCF(0.01) %.3f (%lld target / %lld non-target pairs) in %.1fs",
                        (long long)at_step, 100 * s.top1, 100 * s.chance, (long long)s.identities,
                        (long long)s.gallery_size, 100 * s.top1_all, 100 * s.top1_all_low, 100 * s.top1_all_high,
                        100 * s.top5_all, (long long)s.queries, 100 * s.eer, s.min_dcf, (long long)s.target_trials,
                        (long long)s.nontarget_trials, ms_since(t) / 1000));
    const bool asnorm = !std::isnan(s.eer_asnorm);
    if (asnorm)
      log::info(log::strf("eval step %lld: with AS-norm (cohort of %lld training identities, top %lld): EER %.2f%%, "
                          "minDCF(0.01) %.3f", (long long)at_step, (long long)eval_set.cohort.size(0),
                          (long long)eval_set.cohort_top_k, 100 * s.eer_asnorm, s.min_dcf_asnorm));
    if (metrics) {
      nlohmann::json record = {{"step", at_step}, {"eval_top1", s.top1}, {"chance", s.chance},
                               {"identities", s.identities}, {"eval_top1_all", s.top1_all},
                               {"eval_top1_all_low", s.top1_all_low}, {"eval_top1_all_high", s.top1_all_high},
                               {"eval_top5_all", s.top5_all}, {"eval_eer", s.eer}, {"eval_min_dcf", s.min_dcf}};
      if (asnorm) record["eval_eer_asnorm"] = s.eer_asnorm, record["eval_min_dcf_asnorm"] = s.min_dcf_asnorm;
      metrics->write(record);
    }
    if (judge) {
      const auto tf = Clock::now();
      const FidelityReport f = evaluate_fidelity(*run.encoder, *denoise, *judge, fidelity_set, fidelity_sampler,
                                                 cfg.get_int("eval.batch_size"));
      auto pct = [](double v) { return v < 0 ? std::string("-") : log::strf("%.1f%%", 100 * v); };
      log::info(log::strf("eval step %lld: identity fidelity from ONE reference (%lld held-out identities, %lld samples; "
                          "chance %.1f%%) | judge top-1 generated %s, identity dropped %s, real %s | judge cosine %.3f, "
                          "%.3f, %.3f | content accuracy %s, %s, %s | in %.1fs",
                          (long long)at_step, (long long)f.identities, (long long)f.samples, 100 * f.chance,
                          pct(f.generated.top1).c_str(), pct(f.floor.top1).c_str(), pct(f.ceiling.top1).c_str(),
                          f.generated.cosine, f.floor.cosine, f.ceiling.cosine, pct(f.generated.content).c_str(),
                          pct(f.floor.content).c_str(), pct(f.ceiling.content).c_str(), ms_since(tf) / 1000));
      if (metrics) {
        nlohmann::json record{{"step", at_step},
                              {"fidelity_top1", f.generated.top1}, {"fidelity_top1_floor", f.floor.top1},
                              {"fidelity_top1_real", f.ceiling.top1}, {"fidelity_cosine", f.generated.cosine},
                              {"fidelity_cosine_floor", f.floor.cosine}, {"fidelity_cosine_real", f.ceiling.cosine},
                              {"fidelity_chance", f.chance}, {"fidelity_identities", f.identities}};
        if (f.generated.content >= 0) {
          record["fidelity_content"] = f.generated.content;
          record["fidelity_content_floor"] = f.floor.content;
          record["fidelity_content_real"] = f.ceiling.content;
        }
        metrics->write(record);
      }
      summary.fidelity = f;
    }
    return s;
  };

  at::Tensor loss_sum;  // this rank's loss summed over the log interval, on the training device
  double data_ms = 0, compute_ms = 0, comm_ms = 0, optim_ms = 0;
  std::map<std::string, at::Tensor> logged_sums;  // the objectives' values, summed over the log interval
  int64_t interval = 0, skipped = 0;
  const int64_t taken_at_start = run.optimizer->steps_taken();
  auto interval_start = Clock::now();
  auto last_checkpoint = Clock::now();
  const auto run_start = Clock::now();
  const int64_t first_step = step;
  StepAgreement agreement(comm->host());
  auto checkpoint = [&](int64_t at_step) {
    const GatheredShards shards = run.objective->gather_shards(*comm);  // every rank: a collective
    if (lead) save_checkpoint(run, at_step, store, shards);
    last_checkpoint = Clock::now();
  };
  while (step < end) {
    maybe_inject_fault(fault, comm->rank(), step + 1);
    auto t0 = Clock::now();
    PairBatch b = loader.next();
    // Pinned host memory: the copies overlap with queued GPU work. Content labels stay on the CPU (objective.h).
    if (device.is_cuda()) {
      b.reference = b.reference.to(device, /*non_blocking=*/true);
      b.target = b.target.to(device, /*non_blocking=*/true);
      if (b.extra.defined()) b.extra = b.extra.to(device, /*non_blocking=*/true);
    }
    data_ms += ms_since(t0);

    comm->set_context(log::strf("step %lld", static_cast<long long>(step + 1)));
    const double lr = schedule.at(step);
    const StepOutcome outcome = train_step(run, b, reducer.get(), *comm, lr, clip, bf16, logged_sums);
    compute_ms += outcome.compute_ms;
    comm_ms += outcome.comm_wait_ms;
    optim_ms += outcome.optim_ms;
    StepReport rep = outcome.report;
    if (rep.known && rep.skipped) {
      ++skipped;
      log::warn(log::strf("step %lld: non-finite gradient (norm %g), update skipped", (long long)step + 1, rep.grad_norm));
    } else if (!run.average.empty()) {
      // On a GPU the skip flag is not read back per step: the average then also moves on a skipped step
      // (towards unchanged weights).
      update_average(run.average, run.named, run.average_decay);
    }
    const at::Tensor loss_value = outcome.loss.to(at::kDouble);
    loss_sum = loss_sum.defined() ? loss_sum + loss_value : loss_value;
    ++interval;
    ++step;

    if (step % log_every == 0 || step == end) {
      const double wall = ms_since(interval_start);
      // Each rank's loss covers its own rows of the global batch: their mean is the global-batch loss.
      at::Tensor global_loss = (loss_sum / static_cast<double>(interval)).reshape({1}).to(comm_device).contiguous();
      comm->allreduce_(global_loss, ReduceOp::Average);
      const double mean_loss = global_loss.item<double>();  // .item() also syncs the GPU: timings are honest
      if (!rep.known) {  // the device's report and update counter, read once per log line
        rep = run.optimizer->last_report();
        const int64_t now_skipped = (step - first_step) - (run.optimizer->steps_taken() - taken_at_start);
        if (now_skipped > skipped)
          log::warn(log::strf("%lld update(s) skipped (non-finite gradient) up to step %lld",
                              (long long)(now_skipped - skipped), (long long)step));
        skipped = now_skipped;
      }
      if (std::isnan(run.first_loss)) run.first_loss = mean_loss;
      summary.last_loss = mean_loss;
      const double sps = 1000.0 * interval * batch / wall;
      const double elapsed = ms_since(run_start) / 1000;
      const double eta = elapsed / static_cast<double>(step - first_step) * static_cast<double>(end - step);
      log::info(log::strf("step %6lld/%lld | loss %.4f | lr %.2e | %.0f samples/s | data %.1f ms (%.1f%%) | "
                          "fwd+bwd %.1f ms (comm wait %.1f) | optim %.1f ms | %s elapsed, ETA %s",
                          (long long)step, (long long)total, mean_loss, lr, sps, data_ms / interval,
                          100 * data_ms / wall, compute_ms / interval, comm_ms / interval, optim_ms / interval,
                          format_duration(elapsed).c_str(), format_duration(eta).c_str()));
      nlohmann::json record = {{"step", step},
                               {"loss", mean_loss},
                               {"lr", lr},
                               {"samples_per_s", sps},
                               {"data_ms", data_ms / interval},
                               {"fwd_bwd_ms", compute_ms / interval},
                               {"comm_wait_ms", comm_ms / interval},
                               {"optim_ms", optim_ms / interval},
                               {"data_wait_fraction", data_ms / wall},
                               {"grad_norm", rep.grad_norm},
                               {"skipped_steps", skipped}};
      // The objectives' own values (temperature, per-term losses), read now: once per log line, not per step.
      for (auto& [name, sum] : logged_sums) record[name] = sum.item<double>() / interval;
      logged_sums.clear();
      if (metrics) metrics->write(record);
      loss_sum = at::Tensor();
      data_ms = compute_ms = comm_ms = optim_ms = 0;
      interval = 0;
      interval_start = Clock::now();
    }
    // Posted now, agreed on one step later (the all-reduce overlaps the next step), the same on every rank.
    const bool time_due = ckpt_minutes > 0 && ms_since(last_checkpoint) >= ckpt_minutes * 60000;
    const StepAgreement::Decision agreed = agreement.exchange(stop_signal(), lead && time_due);
    if (step == end) break;
    if (agreed.stop_signal) {
      summary.stop_signal = agreed.stop_signal;
      break;
    }
    // Checkpoint first: an evaluation that fails or is preempted must not cost the training steps.
    if ((ckpt_every > 0 && step % ckpt_every == 0) || agreed.checkpoint) checkpoint(step);
    if (eval_every > 0 && step % eval_every == 0) keep_best(step, evaluate(step));
  }

  checkpoint(step);
  // No rank returns (and perhaps resumes or reads the checkpoint) before rank 0 has written it.
  comm->set_context("final checkpoint");
  comm->barrier();
  summary.steps_done = step;
  summary.first_loss = run.first_loss;
  summary.stopped_early = step < total;
  if (summary.stop_signal) {
    log::info(log::strf("stopped after step %lld on %s, checkpoint written; continue with --resume", (long long)step,
                        signal_name(summary.stop_signal)));
    if (metrics) metrics->write({{"event", "stopped"}, {"step", step}, {"signal", signal_name(summary.stop_signal)}});
  } else if (summary.stopped_early) {
    log::info(log::strf("stopped after step %lld (train.stop_at); continue with --resume", (long long)step));
  } else {
    summary.eval = evaluate(step);
    keep_best(step, summary.eval);
    if (lead) {  // for `launch/plot_run.py`: a 2-D map of the held-out identities
      write_npy(opts.run_dir + "/heldout_embeddings.npy", summary.eval.gallery_embeddings.cpu().contiguous());
      write_npy(opts.run_dir + "/heldout_identity.npy", eval_set.gallery_identity.cpu().contiguous());
    }
  }
  for (const auto& kv : named) summary.parameters.push_back(kv.second.detach().cpu().clone());
  for (const auto& a : run.average) summary.averaged.push_back(a.cpu().clone());
  return summary;
}

}  // namespace imprint
