// `imprint train`: one training run (trainer/trainer.h), under mpirun, Slurm or as one process.
#include <torch/cuda.h>

#include <cstdlib>
#include <filesystem>

#include "collectives/bootstrap.h"
#include "core/exit_codes.h"
#include "core/log.h"
#include "launch/command.h"
#include "launch/option_ranges.h"
#include "trainer/resume_config.h"
#include "trainer/stop_signals.h"
#include "trainer/trainer.h"

namespace imprint {

namespace {

// The communicator for this process: MPI when a launcher started several ranks (or the config asks for it),
// else a world of one.
std::unique_ptr<Communicator> connect(const JobConfig& job, const Bootstrap& boot) {
  const CommBackend backend = job.distributed.backend;
#if !defined(IMPRINT_WITH_NCCL)
  if (backend == CommBackend::Nccl)
    throw ConfigError(
        "distributed.backend: nccl needs imprint built against a CUDA libtorch with NCCL (this build "
        "trains on CPU: use auto or mpi)");
#endif
  if (boot.world_size == 1 && backend == CommBackend::Auto) return make_local_communicator();
  CommOptions o;
  o.timeout_s = job.distributed.timeout_s;
  const char* env = std::getenv("IMPRINT_DEBUG_COLLECTIVES");
  o.debug_checks = job.distributed.debug || (env && std::string(env) == "1");
  o.sleep_while_waiting = job.distributed.sleep_while_waiting;
  o.expected_rank = boot.rank;
  o.expected_world_size = boot.world_size;
  o.expected_local_rank = boot.local_rank;
  o.expected_local_size = boot.local_size;
  o.launcher = boot.launcher;
  auto comm = make_mpi_communicator(o);
#if defined(IMPRINT_WITH_NCCL)
  // On GPUs, auto means NCCL.
  if (backend == CommBackend::Nccl ||
      (backend == CommBackend::Auto && job.train.device != TrainDevice::Cpu && torch::cuda::is_available()))
    return make_nccl_communicator(o, std::move(comm), boot.local_rank);
#endif
  return comm;
}

class TrainCommand final : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    auto* c = app.add_subcommand("train", "Train an encoder from a YAML config.");
    c->add_option("--config", request_.config_file,
                  "YAML config file (see configs/ and docs/configuration.md); with --resume it defaults to the run "
                  "directory's saved config.yaml");
    c->add_option("--set", request_.sets,
                  "Override one config key, e.g. --set optimizer.lr=3e-4 (repeatable; applied after the file)");
    folder(c->add_option("--run-dir", request_.run_dir,
                         "Where checkpoints, metrics.jsonl and the resolved config.yaml go (default: runs/<config "
                         "name>)"));
    c->add_flag("--resume", request_.resume, "Continue from the newest valid checkpoint in the run directory");
    c->add_flag("--allow-config-change", request_.allow_config_change,
                "With --resume: accept a config that differs from the saved one in keys that change the run");
    c->add_flag("--dry-run", dry_run_,
                "Check the config (every key, the rules between keys, and with --resume the changes from the saved "
                "one), print it resolved and exit: no data, model or run directory is touched");
    return c;
  }

  int run(std::unique_ptr<Communicator>& comm) override {
    const Bootstrap boot = Bootstrap::from_environment();
    log::set_rank(boot.rank, boot.world_size);
    ConfigRequest& a = request_;
    if (a.config_file.empty() && !a.resume)
      throw ConfigError("--config: required (or continue a run with --run-dir DIR --resume)");
    if (a.run_dir.empty()) {
      if (a.config_file.empty()) throw ConfigError("--run-dir: required with --resume and no --config");
      a.run_dir = "runs/" + std::filesystem::path(a.config_file).stem().string();
    }
    const ResolvedConfig resolved = resolve_train_config(a);
    const JobConfig job = read_job(resolved.values, resolved.source);
    if (dry_run_) {
      log::info("resolved configuration:\n" + job.to_yaml());
      log::info("config OK: " + resolved.source +
                " (checked without its data: `train` also checks that the "
                "dataset and the files the config names exist)");
      return kExitOk;
    }
    check_job_files(job);
    install_stop_signals();
    comm = connect(job, boot);
    log::set_rank(comm->rank(), comm->size());
    log::info("imprint train: config " + (a.config_file.empty() ? a.run_dir + "/config.yaml" : a.config_file) +
              " -> run directory " + a.run_dir);
    TrainOptions opts;
    opts.run_dir = a.run_dir;
    opts.resume = a.resume;
    opts.comm = comm.get();
    opts.local_rank = boot.local_rank;
    opts.local_size = boot.local_size;
    opts.write_config = resolved.write_config;
    const auto s = train(job, opts);
    if (s.already_finished) return kExitOk;
    if (s.stop_signal) return kExitStopped;
    if (s.stopped_early) return kExitOk;
    const std::string retrieval =
        s.eval.measured ? log::strf("held-out top-1 %.1f%% vs chance %.1f%%", 100 * s.eval.top1, 100 * s.eval.chance)
                        : "no held-out retrieval (" + s.eval.why_not_measured + ")";
    log::info(log::strf("done: %lld steps, loss %.4f -> %.4f (first and last logged); %s", (long long)s.steps_done,
                        s.first_loss, s.last_loss, retrieval.c_str()));
    return kExitOk;
  }

 private:
  ConfigRequest request_;
  bool dry_run_ = false;
};

}  // namespace

std::unique_ptr<Command> train_command() { return std::make_unique<TrainCommand>(); }

}  // namespace imprint
