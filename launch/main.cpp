// The `imprint` command line.

#include <torch/cuda.h>
#include <torch/version.h>

#include <CLI/CLI.hpp>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <iostream>
#include <filesystem>

#include "collectives/bootstrap.h"
#include "collectives/communicator.h"
#include "core/log.h"
#include "core/text.h"
#include "data/folder_pack.h"
#include "data/holdout_selection.h"
#include "data/shard_dataset.h"
#include "data/synthetic_export.h"
#include "trainer/checkpoint_store.h"
#include "trainer/config.h"
#include "trainer/config_schema.h"
#include "trainer/embed_files.h"
#include "trainer/checkpoint_eval.h"
#include "trainer/encoder_export.h"
#include "trainer/generate_grid.h"
#include "trainer/stop_signals.h"
#include "trainer/train_loop.h"

namespace {

// Exit status of the `imprint` command (docs/running.md lists them).
enum ExitCode {
  kExitOk = 0,
  kExitError = 1,       // any other runtime error
  kExitUsage = 2,       // command line or config
  kExitCheckpoint = 3,
  kExitCollective = 4,  // a collective timed out or ranks disagreed; a peer failed
  kExitLaunch = 5,      // launch environment (ranks, MPI start-up)
  kExitDataset = 6,
  kExitStopped = 75,    // stopped by SIGTERM/SIGUSR1/SIGINT after checkpointing (EX_TEMPFAIL): resume it
};

// Logs the exception in flight and ends the whole job with its exit code (MPI_Abort when MPI runs), so no
// other rank is left waiting in a collective. Called while the communicator is still alive: tearing it down
// first would wait on peers.
[[noreturn]] void fail_job() {
  auto fail = [](const std::string& message, int code) {
    imprint::log::error(message);
    imprint::abort_job(code);
  };
  try {
    throw;
  } catch (const imprint::ConfigError& e) {
    fail(std::string("config error: ") + e.what(), kExitUsage);
  } catch (const imprint::CheckpointError& e) {
    fail(std::string("checkpoint error: ") + e.what(), kExitCheckpoint);
  } catch (const imprint::CollectiveError& e) {
    fail(std::string("collective error: ") + e.what(), kExitCollective);
  } catch (const imprint::DatasetError& e) {
    fail(std::string("dataset error: ") + e.what(), kExitDataset);
  } catch (const imprint::BootstrapError& e) {
    fail(std::string("launch error: ") + e.what(), kExitLaunch);
  } catch (const std::exception& e) {
    fail(std::string("error: ") + imprint::first_line(e.what()), kExitError);
  } catch (...) {
    fail("error: unknown exception", kExitError);
  }
  std::abort();  // unreachable: fail() does not return
}

// The communicator for this process: MPI when a launcher started several ranks (or the config asks for it),
// else a world of one.
std::unique_ptr<imprint::Communicator> connect(const imprint::Config& cfg, const imprint::Bootstrap& boot) {
  const std::string backend = cfg.get_string("distributed.backend");
#if !defined(IMPRINT_WITH_NCCL)
  if (backend == "nccl")
    throw imprint::ConfigError("distributed.backend: nccl needs imprint built against a CUDA libtorch with NCCL "
                               "(this build trains on CPU: use auto or mpi)");
#endif
  if (boot.world_size == 1 && backend == "auto") return imprint::make_local_communicator();
  imprint::CommOptions o;
  o.timeout_s = cfg.get_float("distributed.timeout_s");
  const char* env = std::getenv("IMPRINT_DEBUG_COLLECTIVES");
  o.debug_checks = cfg.get_bool("distributed.debug") || (env && std::string(env) == "1");
  o.expected_rank = boot.rank;
  o.expected_world_size = boot.world_size;
  o.launcher = boot.launcher;
  auto comm = imprint::make_mpi_communicator(o);
#if defined(IMPRINT_WITH_NCCL)
  // On GPUs, auto means NCCL.
  if (backend == "nccl" ||
      (backend == "auto" && cfg.get_string("train.device") != "cpu" && torch::cuda::is_available())) {
    return imprint::make_nccl_communicator(o, std::move(comm), boot.local_rank);
  }
#endif
  return comm;
}

struct TrainArgs {
  std::string config_file, run_dir;
  std::vector<std::string> sets;
  bool resume = false, allow_config_change = false;
};

// The config to train with. A resumed run compares it with the config.yaml it saved: a change to a key
// that shapes the run (steps, schedule, batch, model, data, ...) is refused unless allowed, so a forgotten
// --set cannot silently turn a 60-step run into a 300-step one. Without --config, a resume uses the saved one.
imprint::Config resolve_config(const TrainArgs& a, bool* write_config) {
  const std::string saved_path = a.run_dir + "/config.yaml";
  const bool have_saved = a.resume && std::filesystem::is_regular_file(saved_path);
  *write_config = true;
  if (a.config_file.empty() && !have_saved)
    throw imprint::ConfigError("--resume without --config: " + saved_path + " does not exist; pass --config");
  // train.stop_at belongs to one invocation (a time-limited slot), not to the run: a bare --resume goes on.
  std::vector<std::string> sets = a.sets;
  if (a.config_file.empty()) sets.insert(sets.begin(), "train.stop_at=0");
  const imprint::Config cfg = imprint::Config::load(a.config_file.empty() ? saved_path : a.config_file, sets);
  if (!have_saved) return cfg;
  const auto changes = imprint::diff_configs(imprint::Config::load(saved_path), cfg);
  std::string refused;
  for (const auto& c : changes) {
    const std::string line = c.key + ": " + c.before + " -> " + c.after;
    if (c.changes_run && !a.allow_config_change) {
      refused += "\n  " + line;
    } else {
      imprint::log::warn("config change on resume (" + std::string(c.changes_run ? "allowed by --allow-config-change"
                                                                                : "does not change what is trained") +
                         "): " + line);
    }
  }
  if (!refused.empty())
    throw imprint::ConfigError(saved_path + ": resuming with a config that changes the run:" + refused +
                               "\nresume with `--run-dir " + a.run_dir + " --resume` alone to keep the saved config, "
                               "or pass --allow-config-change to continue with the new values");
  *write_config = !changes.empty();
  return cfg;
}

// `comm` is owned by the caller so that it outlives any exception thrown from here (see fail_job).
int run_train(TrainArgs a, std::unique_ptr<imprint::Communicator>& comm) {
  const imprint::Bootstrap boot = imprint::Bootstrap::from_environment();
  imprint::log::set_rank(boot.rank, boot.world_size);
  if (a.config_file.empty() && !a.resume)
    throw imprint::ConfigError("--config: required (or continue a run with --run-dir DIR --resume)");
  if (a.run_dir.empty()) {
    if (a.config_file.empty()) throw imprint::ConfigError("--run-dir: required with --resume and no --config");
    a.run_dir = "runs/" + std::filesystem::path(a.config_file).stem().string();
  }
  bool write_config = true;
  const imprint::Config cfg = resolve_config(a, &write_config);
  imprint::install_stop_signals();
  comm = connect(cfg, boot);
  imprint::log::set_rank(comm->rank(), comm->size());
  imprint::log::info("imprint train: config " + (a.config_file.empty() ? a.run_dir + "/config.yaml" : a.config_file) +
                     " -> run directory " + a.run_dir);
  imprint::log::info("resolved configuration (saved as " + a.run_dir + "/config.yaml):\n" + cfg.to_yaml());
  imprint::TrainOptions opts;
  opts.run_dir = a.run_dir;
  opts.resume = a.resume;
  opts.comm = comm.get();
  opts.local_rank = boot.local_rank;
  opts.local_size = boot.local_size;
  opts.write_config = write_config;
  const auto s = imprint::train(cfg, opts);
  if (s.already_finished) return kExitOk;
  if (s.stop_signal) return kExitStopped;
  if (s.stopped_early) return kExitOk;
  imprint::log::info(imprint::log::strf(
      "done: %lld steps, loss %.4f -> %.4f (first and last logged); held-out top-1 %.1f%% vs chance %.1f%%",
      (long long)s.steps_done, s.first_loss, s.last_loss,
      100 * s.eval.top1, 100 * s.eval.chance));
  return kExitOk;
}

// "256MB", "1GB", "64KB" or a byte count.
int64_t parse_size(const std::string& text) {
  size_t end = 0;
  double v = 0;
  try {
    v = std::stod(text, &end);
  } catch (const std::exception&) {
    throw imprint::ConfigError("--shard-size " + text + ": expected a size such as 256MB");
  }
  std::string unit = text.substr(end);
  for (auto& ch : unit) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  const double mult = unit.empty() || unit == "B" ? 1 : unit == "KB" ? 1e3 : unit == "MB" ? 1e6 : unit == "GB" ? 1e9 : -1;
  if (mult < 0 || v <= 0) throw imprint::ConfigError("--shard-size " + text + ": expected a size such as 256MB");
  return static_cast<int64_t>(v * mult);
}

// Progress on a terminal as one rewritten line (a bar, rate and ETA), otherwise a plain line every 10%.
std::function<void(int64_t, int64_t)> progress_printer(const char* what, const char* unit) {
  auto last = std::make_shared<int64_t>(-1);
  const auto start = std::chrono::steady_clock::now();
  const bool tty = isatty(STDERR_FILENO);
  return [=](int64_t done, int64_t total) {
    const int64_t percent = 100 * done / std::max<int64_t>(1, total);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double rate = secs > 0 ? done / secs : 0;
    const std::string eta = rate > 0 ? imprint::format_duration((total - done) / rate) : "?";
    if (tty) {
      const int filled = static_cast<int>(percent * 30 / 100);
      std::fprintf(stderr, "\r%s [%s%s] %lld/%lld %s (%lld%%) %.1f/s ETA %s   ", what, std::string(filled, '#').c_str(),
                   std::string(30 - filled, '.').c_str(), (long long)done, (long long)total, unit, (long long)percent,
                   rate, eta.c_str());
      if (done == total) std::fprintf(stderr, "\n");
    } else if (percent / 10 != *last / 10 || done == total) {
      std::fprintf(stderr, "%s: %lld/%lld %s (%.1f/s, ETA %s)\n", what, (long long)done, (long long)total, unit, rate,
                   eta.c_str());
    }
    *last = percent;
  };
}

struct SynthArgs {
  std::string modality = "image", output, shard_size = "256MB";
  int64_t identities = 1100, holdout = 100, per_identity = 16, image_size = 32, sample_rate = 8000, seed = 7;
  int64_t content_classes = 0;
  double clip_seconds = 0.5;
  bool holdout_given = false;  // --holdout-identities on the command line
  imprint::HoldoutChoice holdout_choice;
};

int run_synth(const SynthArgs& a) {
  const int64_t identities = a.identities, holdout = a.holdout, per_identity = a.per_identity;
  if (identities < 3)
    throw imprint::ConfigError("--identities " + std::to_string(identities) +
                               ": expected at least 3 (at least 1 to train on and 2 held out)");
  std::vector<int64_t> chosen;
  if (!a.holdout_choice.list.empty() || !a.holdout_choice.groups.empty() || a.holdout_choice.group_count > 0 ||
      a.holdout_choice.group_fraction > 0) {
    if (a.holdout_given)
      throw imprint::ConfigError("--holdout-identities, --holdout-list, --holdout-groups: give one of them, not several");
    std::vector<std::string> names;
    for (int64_t id = 0; id < identities; ++id) names.push_back(imprint::synthetic_identity_name(id));
    for (const auto& n : imprint::chosen_holdout(a.holdout_choice, names, "identity",
                                                 "the synthetic dataset (" + names.front() + " to " + names.back() + ")"))
      chosen.push_back(std::stoll(n.substr(n.find('-') + 1)));
    if (static_cast<int64_t>(chosen.size()) >= identities)
      throw imprint::ConfigError("--holdout-list: holds out all " + std::to_string(identities) + " identities");
  }
  if (chosen.empty() && (holdout < 2 || holdout >= identities))
    throw imprint::ConfigError("--holdout-identities " + std::to_string(holdout) + ": expected 2 to --identities - 1");
  if (per_identity < 2) throw imprint::ConfigError("--samples-per-identity: expected at least 2");
  imprint::SyntheticSpec spec;
  spec.modality = imprint::parse_modality(a.modality);
  spec.data_seed = static_cast<uint64_t>(a.seed);
  spec.eval_identities = chosen.empty() ? holdout : static_cast<int64_t>(chosen.size());
  spec.train_identities = identities - spec.eval_identities;
  spec.samples_per_identity = per_identity;
  spec.image_size = static_cast<int>(a.image_size);
  spec.sample_rate = static_cast<int>(a.sample_rate);
  spec.clip_samples = static_cast<int>(std::lround(a.clip_seconds * a.sample_rate));
  if (a.content_classes < 0 || (a.content_classes > 0 && spec.modality != imprint::Modality::Image))
    throw imprint::ConfigError("--content-classes " + std::to_string(a.content_classes) +
                               ": expected 0, or a positive count for image datasets");
  spec.content_classes = static_cast<int>(a.content_classes);
  const std::string& output = a.output;
  const auto m =
      imprint::export_synthetic(spec, output, parse_size(a.shard_size), progress_printer("synth", "identities"), chosen);
  imprint::log::info(imprint::log::strf("wrote %zu identities (%zu held out), %lld samples each, in %zu shard(s) to %s",
                                        m.identities.size(), m.holdout.size(), (long long)per_identity,
                                        m.shards.size(), output.c_str()));
  return 0;
}

int run_pack(imprint::PackOptions o, const std::string& modality, const std::string& shard_size) {
  o.modality = imprint::parse_modality(modality);
  o.shard_bytes = parse_size(shard_size);
  o.progress = progress_printer("pack", "identities");
  const auto r = imprint::pack_folders(o);
  for (const auto& p : r.problems) imprint::log::warn(p);
  imprint::log::info(imprint::log::strf(
      "packed %lld identities (%zu held out), %lld samples into %zu shard(s) in %s; skipped %lld file(s) and "
      "%lld identit%s",
      (long long)r.identities, r.manifest.holdout.size(), (long long)r.samples, r.manifest.shards.size(),
      o.output.c_str(), (long long)r.skipped_files, (long long)r.skipped_identities,
      r.skipped_identities == 1 ? "y" : "ies"));
  return 0;
}

int run_export(const std::string& checkpoint, const std::string& out) {
  const auto trained = imprint::load_trained_encoder(checkpoint);
  const auto files = imprint::export_encoder(trained, out);
  imprint::log::info(imprint::log::strf("exported the %s encoder of %s (step %lld): %s, %s, %s",
                                        trained.spec.modality.c_str(), checkpoint.c_str(), (long long)trained.step,
                                        files.safetensors.c_str(), files.torchscript.c_str(), files.metadata.c_str()));
  return 0;
}

int run_embed(imprint::EmbedOptions o) {
  o.progress = progress_printer("embed", "files");
  const auto r = imprint::embed_files(o);
  for (const auto& s : r.skipped) imprint::log::warn("skipped " + s);
  std::string written;
  for (const auto& w : r.written) written += (written.empty() ? "" : ", ") + w;
  imprint::log::info(imprint::log::strf("embedded %lld file(s), skipped %zu; wrote %s", (long long)r.embedded,
                                        r.skipped.size(), written.c_str()));
  return 0;
}

int run_eval(const imprint::CheckpointEvalOptions& o) {
  const auto r = imprint::evaluate_checkpoint(o);
  int64_t hits = 0;
  for (const auto& i : r.identities) hits += i.hit;
  std::string missed;
  for (const auto& i : r.identities)
    if (!i.hit && missed.size() < 300) missed += (missed.empty() ? "" : ", ") + i.name;
  const auto& s = r.score;
  imprint::log::info(imprint::log::strf(
      "eval %s (step %lld%s) on %s: top-1 %.1f%% (%lld of %lld identities; chance %.1f%%, gallery %lld) | "
      "every sample as the reference: top-1 %.1f%% [95%% CI %.1f-%.1f], top-5 %.1f%% (%lld queries; chance %.1f%%) | "
      "EER %.2f%%, minDCF(0.01) %.3f over %lld target / %lld non-target pairs",
      o.checkpoint.c_str(), (long long)r.trained.step, r.trained.averaged_weights ? ", weight average" : "",
      o.data.c_str(), 100 * s.top1, (long long)hits, (long long)s.identities, 100 * s.chance,
      (long long)s.gallery_size, 100 * s.top1_all, 100 * s.top1_all_low, 100 * s.top1_all_high, 100 * s.top5_all,
      (long long)s.queries, 100 * s.chance_all, 100 * s.eer, s.min_dcf, (long long)s.target_trials,
      (long long)s.nontarget_trials));
  if (!std::isnan(s.eer_asnorm))
    imprint::log::info(imprint::log::strf("with AS-norm (%lld training identities, top %lld): EER %.2f%%, minDCF(0.01) %.3f",
                                          (long long)o.asnorm_cohort, (long long)o.asnorm_top_k, 100 * s.eer_asnorm,
                                          s.min_dcf_asnorm));
  if (!o.trials.empty()) {
    const auto& t = r.trials;
    imprint::log::info(imprint::log::strf("trials %s: EER %.2f%%, minDCF(0.01) %.3f over %lld target / %lld non-target "
                                          "trials%s",
                                          o.trials.c_str(), 100 * t.raw.eer, t.raw.min_dcf,
                                          (long long)t.raw.target_trials, (long long)t.raw.nontarget_trials,
                                          std::isnan(t.eer_asnorm) ? ""
                                          : imprint::log::strf("; with AS-norm EER %.2f%%, minDCF(0.01) %.3f",
                                                               100 * t.eer_asnorm, t.min_dcf_asnorm).c_str()));
    if (r.training_identity_trials > 0)
      imprint::log::warn(imprint::log::strf("%lld of the trials involve identities %s trains on: not a held-out "
                                            "measurement for a model trained on it",
                                            (long long)r.training_identity_trials, o.data.c_str()));
  }
  if (!missed.empty()) imprint::log::info("missed: " + missed);
  if (!o.json_out.empty()) imprint::log::info("wrote " + o.json_out);
  return 0;
}

int run_generate(imprint::GenerateOptions o) {
  o.progress = progress_printer("generate", "references");
  const auto r = imprint::generate_grid(o);
  std::string labels;
  for (const auto& c : r.content) labels += (labels.empty() ? "" : ", ") + c;
  imprint::log::info(imprint::log::strf("wrote %s: %lld reference(s) x %zu content label(s) (%s), each with and "
                                        "without the identity tokens (%lld samples, %lld DDIM steps, guidance %.2g)",
                                        r.out.c_str(), (long long)r.references, r.content.size(), labels.c_str(),
                                        (long long)r.samples, (long long)o.sampler.steps, o.sampler.guidance));
  return 0;
}

int run_inspect(const std::string& path) {
  if (std::filesystem::is_regular_file(path)) {
    std::cout << imprint::describe_checkpoint(path) << std::endl;
    return 0;
  }
  std::cout << imprint::inspect_dataset(path).summary << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  imprint::log::set_rank(0, 1);
  CLI::App app{"imprint: trains encoders that map one reference sample of an identity (an image, a voice) to "
               "conditioning embeddings for a generator."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("imprint ") + IMPRINT_VERSION + " (libtorch " + TORCH_VERSION + ")");

  auto* train = app.add_subcommand("train", "Train an encoder from a YAML config.");
  TrainArgs train_args;
  train->add_option("--config", train_args.config_file,
                    "YAML config file (see configs/ and docs/configuration.md); with --resume it defaults to the "
                    "run directory's saved config.yaml");
  train->add_option("--set", train_args.sets,
                    "Override one config key, e.g. --set optimizer.lr=3e-4 (repeatable; applied after the file)");
  train->add_option("--run-dir", train_args.run_dir,
                    "Where checkpoints, metrics.jsonl and the resolved config.yaml go (default: runs/<config name>)");
  train->add_flag("--resume", train_args.resume, "Continue from the newest valid checkpoint in the run directory");
  train->add_flag("--allow-config-change", train_args.allow_config_change,
                  "With --resume: accept a config that differs from the saved one in keys that change the run");

  auto* synth = app.add_subcommand("synth", "Write the built-in synthetic identities as a shard dataset.");
  SynthArgs sa;
  synth->add_option("--modality", sa.modality, "image or audio")->check(CLI::IsMember({"image", "audio"}));
  synth->add_option("--identities", sa.identities, "Identities in all, held-out ones included")->capture_default_str();
  auto* synth_holdout = synth->add_option("--holdout-identities", sa.holdout,
                                          "The last N identities are held out (manifest holdout)")
                            ->capture_default_str();
  synth->add_option("--holdout-list", sa.holdout_choice.list,
                    "A file naming the held-out identities (synthetic-NNNNNN), one per line");
  synth->add_option("--holdout-groups", sa.holdout_choice.groups,
                    "A TSV of <synthetic-NNNNNN><TAB><group> lines: whole groups are held out (with "
                    "--holdout-group-count or --holdout-group-fraction), chosen by a hash of the group name");
  synth->add_option("--holdout-group-count", sa.holdout_choice.group_count, "Groups to hold out");
  synth->add_option("--holdout-group-fraction", sa.holdout_choice.group_fraction, "Fraction of the groups to hold out")
      ->check(CLI::Range(0.0, 1.0));
  synth->add_option("--samples-per-identity", sa.per_identity, "Samples of each identity")->capture_default_str();
  synth->add_option("--output", sa.output, "Dataset folder to create")->required();
  synth->add_option("--image-size", sa.image_size, "Image side in pixels")->capture_default_str();
  synth->add_option("--sample-rate", sa.sample_rate, "Audio sample rate in Hz")->capture_default_str();
  synth->add_option("--clip-seconds", sa.clip_seconds, "Audio clip length")->capture_default_str();
  synth->add_option("--seed", sa.seed, "Seed of the identities (data.seed)")->capture_default_str();
  synth->add_option("--content-classes", sa.content_classes,
                    "Images: sample i gets content label i % N, which decides where its shape sits (0: none)")
      ->capture_default_str();
  synth->add_option("--shard-size", sa.shard_size, "Target shard size, e.g. 256MB")->capture_default_str();

  auto* pack = app.add_subcommand("pack", "Make a dataset from ROOT/<identity>/**/*.{png,jpg,jpeg} or *.{wav,flac}.");
  imprint::PackOptions pack_opts;
  std::string pack_modality = "image", pack_shard_size = "256MB";
  pack->add_option("--modality", pack_modality, "image or audio")->required()->check(CLI::IsMember({"image", "audio"}));
  pack->add_option("--input", pack_opts.input, "ROOT: one folder per identity")->required();
  pack->add_option("--output", pack_opts.output, "Dataset folder to create")->required();
  pack->add_option("--image-size", pack_opts.image_size, "Images are centre-cropped and resized to N x N")
      ->capture_default_str();
  pack->add_option("--sample-rate", pack_opts.sample_rate, "Audio is mixed to mono and resampled to HZ")
      ->capture_default_str();
  pack->add_option("--shard-size", pack_shard_size, "Target shard size, e.g. 256MB")->capture_default_str();
  pack->add_option("--threads", pack_opts.threads, "Decoding threads")->capture_default_str();
  pack->add_option("--holdout-identities", pack_opts.holdout_identities,
                   "Identities held out for evaluation, chosen by a hash of their name")
      ->capture_default_str();
  pack->add_option("--holdout-list", pack_opts.holdout_list,
                   "A file naming the held-out identity folders, one per line (e.g. whole font families)");
  pack->add_option("--holdout-groups", pack_opts.holdout_groups,
                   "A TSV of <identity folder><TAB><group> lines: whole groups are held out (with "
                   "--holdout-group-count or --holdout-group-fraction), chosen by a hash of the group name");
  pack->add_option("--holdout-group-count", pack_opts.holdout_group_count, "Groups to hold out");
  pack->add_option("--holdout-group-fraction", pack_opts.holdout_group_fraction, "Fraction of the groups to hold out")
      ->check(CLI::Range(0.0, 1.0));
  pack->add_option("--content-from", pack_opts.content_from,
                   "Content labels (format v2): 'stem' (file name without extension) or a TSV of "
                   "<path relative to ROOT><TAB><label> lines");
  pack->add_flag("--overwrite", pack_opts.overwrite,
                 "Replace the dataset in a non-empty --output (refused if it holds anything else)");

  auto* inspect = app.add_subcommand(
      "inspect", "Validate a dataset (manifest, shards, checksums, every sample read back) or a checkpoint file "
                 "(header, checksum, step, digest of the training state) and summarise it.");
  std::string inspect_dir;
  inspect->add_option("PATH", inspect_dir, "Dataset folder, or checkpoint file")->required();

  auto* exporter = app.add_subcommand(
      "export", "Write a trained encoder as safetensors weights and a TorchScript module (with metadata).");
  std::string export_checkpoint, export_out;
  exporter->add_option("--checkpoint", export_checkpoint, "A checkpoint file (runs/NAME/checkpoints/step-*.ckpt)")
      ->required();
  exporter->add_option("--out", export_out, "Folder to write model.safetensors, encoder.torchscript.pt, export.json")
      ->required();

  auto* embed = app.add_subcommand(
      "embed", "Embed image or audio files with a trained encoder (pooled vectors, optionally tokens).");
  imprint::EmbedOptions embed_opts;
  embed->add_option("--checkpoint", embed_opts.checkpoint, "A checkpoint file")->required();
  embed->add_option("--input", embed_opts.input, "A file, or a folder searched recursively")->required();
  embed->add_option("--out", embed_opts.out, "Folder for pooled.npy [N, D] (tokens.npy [N, K, D]) and index.tsv")
      ->required();
  embed->add_option("--format", embed_opts.format, "npy or safetensors (embeddings.safetensors)")
      ->capture_default_str();
  embed->add_flag("--tokens", embed_opts.tokens, "Also write the K conditioning tokens of each file");
  embed->add_option("--batch-size", embed_opts.batch_size, "Images per forward pass")->capture_default_str();

  auto* generate = app.add_subcommand(
      "generate", "Draw samples from a generative checkpoint and ONE reference image per identity: a PNG grid of "
                  "[reference | one sample per content label], each sample also without the identity tokens.");
  imprint::GenerateOptions gen_opts;
  generate->add_option("--checkpoint", gen_opts.checkpoint, "A checkpoint of a run with objective.denoise")
      ->required();
  generate->add_option("--reference", gen_opts.reference, "One reference image (PNG or JPEG)");
  generate->add_option("--data", gen_opts.data, "A dataset: sample 0 of each held-out identity is a reference");
  generate->add_option("--max-references", gen_opts.max_references, "With --data: at most this many identities")
      ->capture_default_str();
  generate->add_option("--content", gen_opts.content,
                       "Comma-separated content labels (names with --data, else indices), or all; default: the first 16");
  generate->add_option("--out", gen_opts.out, "PNG file to write")->capture_default_str();
  generate->add_option("--steps", gen_opts.sampler.steps, "DDIM steps")->capture_default_str();
  generate->add_option("--guidance", gen_opts.sampler.guidance, "Classifier-free guidance scale (1 = none)")
      ->capture_default_str();
  generate->add_option("--id-scale", gen_opts.sampler.id_scale, "Weight of the identity branch")->capture_default_str();
  generate->add_option("--seed", gen_opts.sampler.seed, "Seed of the starting noise")->capture_default_str();
  generate->add_option("--zoom", gen_opts.zoom, "Draw each pixel as N x N")->capture_default_str()->check(
      CLI::Range(1, 64));

  auto* evaluate = app.add_subcommand(
      "eval", "Evaluate a checkpoint's encoder on a dataset: top-1 retrieval from ONE reference per identity, "
              "verification EER and minDCF over every pair, per-identity hits. The checkpoint is only read.");
  imprint::CheckpointEvalOptions eval_opts;
  evaluate->add_option("--checkpoint", eval_opts.checkpoint, "A checkpoint file")->required();
  evaluate->add_option("--data", eval_opts.data, "A dataset folder (imprint pack / synth)")->required();
  evaluate->add_flag("--all", eval_opts.all_identities,
                     "Every identity of the dataset (for a dataset the encoder never saw), not only its held-out ones");
  evaluate->add_option("--gallery-per-identity", eval_opts.gallery_per_identity,
                       "Gallery samples of each identity (samples 1..N; sample 0 is its reference)")
      ->capture_default_str();
  evaluate->add_option("--clip-seconds", eval_opts.clip_seconds, "Audio: clip length fed to the encoder")
      ->capture_default_str();
  evaluate->add_option("--batch-size", eval_opts.batch_size, "Samples per forward pass")->capture_default_str();
  evaluate->add_option("--json", eval_opts.json_out, "Also write the report (and per-identity hits) as JSON here");
  evaluate->add_option("--asnorm-cohort", eval_opts.asnorm_cohort,
                       "Also report EER/minDCF with AS-norm over a cohort of this many of the dataset's training "
                       "identities (sample 0 each)")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  evaluate->add_option("--trials", eval_opts.trials,
                       "A trial list (lines 'LABEL IDENTITY/INDEX IDENTITY/INDEX', docs/running.md): also report "
                       "EER/minDCF over exactly these trials");
  evaluate->add_option("--asnorm-top-k", eval_opts.asnorm_top_k, "AS-norm: highest cohort scores per sample used")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));

  auto* reference = app.add_subcommand(
      "config-reference", "Print every config key with its type, default, range and meaning (markdown).");

  // A mistyped command gets a suggestion (CLI11 alone would only say that a subcommand is required).
  if (argc > 1 && argv[1][0] != '-') {
    std::vector<std::string> names;
    for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) names.push_back(sub->get_name());
    if (std::find(names.begin(), names.end(), argv[1]) == names.end()) {
      const std::string guess = imprint::closest(argv[1], names, 3);
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      imprint::log::error(std::string("unknown command '") + argv[1] + "'" +
                          (guess.empty() ? "" : " (did you mean '" + guess + "'?)") + "; commands: " + list +
                          " (imprint --help)");
      return kExitUsage;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every command-line mistake exits with the one usage/config code.
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  // Outlives every exception below: fail_job() ends the job while it is still alive.
  std::unique_ptr<imprint::Communicator> comm;
  try {
    if (*train) return run_train(train_args, comm);
    if (*synth) {
      sa.holdout_given = synth_holdout->count() > 0;
      return run_synth(sa);
    }
    if (*inspect) return run_inspect(inspect_dir);
    if (*pack) return run_pack(pack_opts, pack_modality, pack_shard_size);
    if (*exporter) return run_export(export_checkpoint, export_out);
    if (*embed) return run_embed(embed_opts);
    if (*generate) return run_generate(gen_opts);
    if (*evaluate) return run_eval(eval_opts);
    if (*reference) {
      std::cout << imprint::config_reference_markdown();
      return kExitOk;
    }
  } catch (...) {
    fail_job();
  }
  return kExitOk;
}
