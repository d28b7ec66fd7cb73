// The `imprint` command line.

#include <torch/cuda.h>

#include <CLI/CLI.hpp>
#include <unistd.h>

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
#include "data/folder_pack.h"
#include "data/shard_dataset.h"
#include "data/synthetic_export.h"
#include "trainer/checkpoint_store.h"
#include "trainer/config.h"
#include "trainer/config_schema.h"
#include "trainer/train_loop.h"

namespace {

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
  auto comm = imprint::make_mpi_communicator(o);
  if (comm->size() != boot.world_size || comm->rank() != boot.rank)
    throw imprint::BootstrapError("MPI reports rank " + std::to_string(comm->rank()) + " of " +
                                  std::to_string(comm->size()) + " but the " + boot.launcher +
                                  " environment says rank " + std::to_string(boot.rank) + " of " +
                                  std::to_string(boot.world_size));
#if defined(IMPRINT_WITH_NCCL)
  // On GPUs, auto means NCCL.
  if (backend == "nccl" ||
      (backend == "auto" && cfg.get_string("train.device") != "cpu" && torch::cuda::is_available())) {
    return imprint::make_nccl_communicator(o, std::move(comm), boot.local_rank);
  }
#endif
  return comm;
}

int run_train(const std::string& config_file, const std::vector<std::string>& sets, std::string run_dir, bool resume) {
  const imprint::Bootstrap boot = imprint::Bootstrap::from_environment();
  imprint::log::set_rank(boot.rank, boot.world_size);
  const imprint::Config cfg = imprint::Config::load(config_file, sets);
  auto comm = connect(cfg, boot);
  imprint::log::set_rank(comm->rank(), comm->size());
  if (run_dir.empty()) run_dir = "runs/" + std::filesystem::path(config_file).stem().string();
  imprint::log::info("imprint train: config " + config_file + " -> run directory " + run_dir);
  imprint::log::info("resolved configuration (saved as " + run_dir + "/config.yaml):\n" + cfg.to_yaml());
  imprint::TrainOptions opts;
  opts.run_dir = run_dir;
  opts.resume = resume;
  opts.comm = comm.get();
  opts.local_rank = boot.local_rank;
  const auto s = imprint::train(cfg, opts);
  if (s.stopped_early) return 0;
  imprint::log::info(imprint::log::strf("done: %lld steps, loss %.4f -> %.4f; held-out top-1 %.1f%% vs chance %.1f%%",
                                        (long long)s.steps_done, s.first_loss, s.last_loss, 100 * s.eval.top1,
                                        100 * s.eval.chance));
  return 0;
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

// Progress on a terminal as one rewritten line, otherwise a plain line every 10%.
std::function<void(int64_t, int64_t)> progress_printer(const char* what, const char* unit) {
  auto last = std::make_shared<int64_t>(-1);
  const bool tty = isatty(STDERR_FILENO);
  return [=](int64_t done, int64_t total) {
    const int64_t percent = 100 * done / std::max<int64_t>(1, total);
    if (tty) {
      std::fprintf(stderr, "\r%s: %lld/%lld %s (%lld%%)", what, (long long)done, (long long)total, unit, (long long)percent);
      if (done == total) std::fprintf(stderr, "\n");
    } else if (percent / 10 != *last / 10 || done == total) {
      std::fprintf(stderr, "%s: %lld/%lld %s\n", what, (long long)done, (long long)total, unit);
    }
    *last = percent;
  };
}

int run_synth(const std::string& modality, int64_t identities, int64_t holdout, int64_t per_identity,
              const std::string& output, int64_t image_size, int64_t sample_rate, double clip_seconds, int64_t seed,
              const std::string& shard_size) {
  if (holdout < 2 || holdout >= identities)
    throw imprint::ConfigError("--holdout-identities " + std::to_string(holdout) + ": expected 2 to --identities - 1");
  if (per_identity < 2) throw imprint::ConfigError("--samples-per-identity: expected at least 2");
  imprint::SyntheticSpec spec;
  spec.modality = imprint::parse_modality(modality);
  spec.data_seed = static_cast<uint64_t>(seed);
  spec.train_identities = identities - holdout;
  spec.eval_identities = holdout;
  spec.samples_per_identity = per_identity;
  spec.image_size = static_cast<int>(image_size);
  spec.sample_rate = static_cast<int>(sample_rate);
  spec.clip_samples = static_cast<int>(std::lround(clip_seconds * sample_rate));
  const auto m = imprint::export_synthetic(spec, output, parse_size(shard_size), progress_printer("synth", "identities"));
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

int run_inspect(const std::string& dir) {
  std::cout << imprint::inspect_dataset(dir).summary << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  imprint::log::set_rank(0, 1);
  CLI::App app{"imprint: trains encoders that map one reference sample of an identity (an image, a voice) to "
               "conditioning embeddings for a generator."};
  app.require_subcommand(1);

  auto* train = app.add_subcommand("train", "Train an encoder from a YAML config.");
  std::string config_file, run_dir;
  std::vector<std::string> sets;
  bool resume = false;
  train->add_option("--config", config_file, "YAML config file (see configs/ and docs/configuration.md)")->required();
  train->add_option("--set", sets,
                    "Override one config key, e.g. --set optimizer.lr=3e-4 (repeatable; applied after the file)");
  train->add_option("--run-dir", run_dir,
                    "Where checkpoints, metrics.jsonl and the resolved config.yaml go (default: runs/<config name>)");
  train->add_flag("--resume", resume, "Continue from the newest checkpoint in the run directory");

  auto* synth = app.add_subcommand("synth", "Write the built-in synthetic identities as a shard dataset.");
  std::string synth_modality = "image", synth_output, shard_size = "256MB";
  int64_t synth_ids = 1100, synth_holdout = 100, synth_per_id = 16, synth_size = 32, synth_rate = 8000, synth_seed = 7;
  double synth_clip = 0.5;
  synth->add_option("--modality", synth_modality, "image or audio")->check(CLI::IsMember({"image", "audio"}));
  synth->add_option("--identities", synth_ids, "Identities in all, held-out ones included")->capture_default_str();
  synth->add_option("--holdout-identities", synth_holdout, "The last N identities are held out (manifest holdout)")
      ->capture_default_str();
  synth->add_option("--samples-per-identity", synth_per_id, "Samples of each identity")->capture_default_str();
  synth->add_option("--output", synth_output, "Dataset folder to create")->required();
  synth->add_option("--image-size", synth_size, "Image side in pixels")->capture_default_str();
  synth->add_option("--sample-rate", synth_rate, "Audio sample rate in Hz")->capture_default_str();
  synth->add_option("--clip-seconds", synth_clip, "Audio clip length")->capture_default_str();
  synth->add_option("--seed", synth_seed, "Seed of the identities (data.seed)")->capture_default_str();
  synth->add_option("--shard-size", shard_size, "Target shard size, e.g. 256MB")->capture_default_str();

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

  auto* inspect = app.add_subcommand("inspect", "Validate a dataset (manifest, shards, checksums) and summarise it.");
  std::string inspect_dir;
  inspect->add_option("DIR", inspect_dir, "Dataset folder")->required();

  auto* reference = app.add_subcommand(
      "config-reference", "Print every config key with its type, default, range and meaning (markdown).");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  // On any rank, an error is logged there and then ends the whole job (MPI_Abort when MPI is running), so
  // no other rank is left waiting in a collective.
  auto fail = [](const std::string& message, int code) {
    imprint::log::error(message);
    imprint::abort_job(code);
    return code;
  };
  try {
    if (*train) return run_train(config_file, sets, run_dir, resume);
    if (*synth)
      return run_synth(synth_modality, synth_ids, synth_holdout, synth_per_id, synth_output, synth_size, synth_rate,
                       synth_clip, synth_seed, shard_size);
    if (*inspect) return run_inspect(inspect_dir);
    if (*pack) return run_pack(pack_opts, pack_modality, pack_shard_size);
    if (*reference) {
      std::cout << imprint::config_reference_markdown();
      return 0;
    }
  } catch (const imprint::ConfigError& e) {
    return fail(std::string("config error: ") + e.what(), 2);
  } catch (const imprint::CheckpointError& e) {
    return fail(std::string("checkpoint error: ") + e.what(), 3);
  } catch (const imprint::CollectiveError& e) {
    return fail(std::string("collective error: ") + e.what(), 4);
  } catch (const imprint::DatasetError& e) {
    return fail(std::string("dataset error: ") + e.what(), 6);
  } catch (const imprint::BootstrapError& e) {
    return fail(std::string("launch error: ") + e.what(), 5);
  } catch (const std::exception& e) {
    return fail(e.what(), 1);
  }
  return 0;
}
