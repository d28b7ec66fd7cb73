// One `imprint` subcommand: the options it adds to the command line and what it runs. main.cpp is the
// table of them; each lives in its own <name>_command.cpp.
#pragma once
#include <CLI/CLI.hpp>

#include <memory>

#include "collectives/communicator.h"

namespace imprint {

class Command {
 public:
  virtual ~Command() = default;
  // Adds the subcommand and its options to `app`; returns it (main.cpp asks it whether it was chosen).
  virtual CLI::App* add_to(CLI::App& app) = 0;
  // Runs it, returning the exit status. `comm` is owned by the caller so that it outlives any exception thrown
  // from here (launch/job_failure.h ends the job while it is still alive).
  virtual int run(std::unique_ptr<Communicator>& comm) = 0;
};

std::unique_ptr<Command> train_command();
std::unique_ptr<Command> synth_command();
std::unique_ptr<Command> pack_command();
std::unique_ptr<Command> inspect_command();
std::unique_ptr<Command> export_command();
std::unique_ptr<Command> embed_command();
std::unique_ptr<Command> generate_command();
std::unique_ptr<Command> eval_command();
std::unique_ptr<Command> config_reference_command();

}  // namespace imprint
