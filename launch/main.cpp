// The `imprint` command line: a table of subcommands, one file each (launch/*_command.cpp).
#include <torch/version.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "core/exit_codes.h"
#include "core/log.h"
#include "core/text.h"
#include "launch/command.h"
#include "launch/job_failure.h"

namespace {

// A mistyped command gets a suggestion (CLI11 alone would only say that a subcommand is required).
bool known_command(CLI::App& app, int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') return true;
  std::vector<std::string> names;
  for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) names.push_back(sub->get_name());
  if (std::find(names.begin(), names.end(), argv[1]) != names.end()) return true;
  const std::string guess = imprint::closest(argv[1], names, 3);
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  imprint::log::error(std::string("unknown command '") + argv[1] + "'" +
                      (guess.empty() ? "" : " (did you mean '" + guess + "'?)") + "; commands: " + list +
                      " (imprint --help)");
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  imprint::log::set_rank(0, 1);
  CLI::App app{
      "imprint: trains encoders that map one reference sample of an identity (an image, a voice) to "
      "conditioning embeddings for a generator."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("imprint ") + IMPRINT_VERSION + " (libtorch " + TORCH_VERSION + ")");
  std::vector<std::unique_ptr<imprint::Command>> commands;
  for (auto make : {imprint::train_command, imprint::synth_command, imprint::pack_command, imprint::inspect_command,
                    imprint::export_command, imprint::embed_command, imprint::generate_command, imprint::eval_command,
                    imprint::config_reference_command})
    commands.push_back(make());
  std::vector<CLI::App*> subcommands;
  for (auto& c : commands) subcommands.push_back(c->add_to(app));
  if (!known_command(app, argc, argv)) return imprint::kExitUsage;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every command-line mistake exits with the one usage/config code.
    return app.exit(e) == 0 ? imprint::kExitOk : imprint::kExitUsage;
  }
  // Outlives every exception below: fail_job() ends the job while it is still alive.
  std::unique_ptr<imprint::Communicator> comm;
  try {
    for (size_t i = 0; i < commands.size(); ++i)
      if (*subcommands[i]) return commands[i]->run(comm);
  } catch (...) {
    imprint::fail_job();
  }
  return imprint::kExitOk;
}
