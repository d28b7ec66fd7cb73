// The `imprint` command line.

#include <CLI/CLI.hpp>
#include <iostream>
#include <filesystem>

#include "core/log.h"
#include "trainer/checkpoint_store.h"
#include "trainer/config.h"
#include "trainer/config_schema.h"
#include "trainer/train_loop.h"

namespace {

int run_train(const std::string& config_file, const std::vector<std::string>& sets, std::string run_dir, bool resume) {
  const imprint::Config cfg = imprint::Config::load(config_file, sets);
  if (run_dir.empty()) run_dir = "runs/" + std::filesystem::path(config_file).stem().string();
  imprint::log::info("imprint train: config " + config_file + " -> run directory " + run_dir);
  imprint::log::info("resolved configuration (saved as " + run_dir + "/config.yaml):\n" + cfg.to_yaml());
  imprint::TrainOptions opts;
  opts.run_dir = run_dir;
  opts.resume = resume;
  const auto s = imprint::train(cfg, opts);
  if (s.stopped_early) return 0;
  imprint::log::info(imprint::log::strf("done: %lld steps, loss %.4f -> %.4f; held-out top-1 %.1f%% vs chance %.1f%%",
                                        (long long)s.steps_done, s.first_loss, s.last_loss, 100 * s.eval.top1,
                                        100 * s.eval.chance));
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

  auto* reference = app.add_subcommand(
      "config-reference", "Print every config key with its type, default, range and meaning (markdown).");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (*train) return run_train(config_file, sets, run_dir, resume);
    if (*reference) {
      std::cout << imprint::config_reference_markdown();
      return 0;
    }
  } catch (const imprint::ConfigError& e) {
    imprint::log::error(std::string("config error: ") + e.what());
    return 2;
  } catch (const imprint::CheckpointError& e) {
    imprint::log::error(std::string("checkpoint error: ") + e.what());
    return 3;
  } catch (const std::exception& e) {
    imprint::log::error(e.what());
    return 1;
  }
  return 0;
}
