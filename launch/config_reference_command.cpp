// `imprint config-reference`: every config key `train` accepts (docs/configuration.md's table).
#include <iostream>

#include "config/reference.h"
#include "core/exit_codes.h"
#include "launch/command.h"
#include "trainer/job_config.h"

namespace imprint {

namespace {

class ConfigReferenceCommand final : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    return app.add_subcommand("config-reference",
                              "Print every config key with its type, default, range and meaning (markdown).");
  }
  int run(std::unique_ptr<Communicator>&) override {
    std::cout << reference_markdown(job_schema());
    return kExitOk;
  }
};

}  // namespace

std::unique_ptr<Command> config_reference_command() { return std::make_unique<ConfigReferenceCommand>(); }

}  // namespace imprint
