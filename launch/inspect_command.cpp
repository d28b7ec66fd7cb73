// `imprint inspect`: validate and summarise a dataset folder or a checkpoint file.
#include <filesystem>
#include <iostream>

#include "core/exit_codes.h"
#include "data/shard_dataset.h"
#include "launch/command.h"
#include "trainer/checkpoint/checkpoint_store.h"

namespace imprint {

namespace {

class InspectCommand final : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    auto* c = app.add_subcommand(
        "inspect",
        "Validate a dataset (manifest, shards, checksums, every sample read back) or a checkpoint file "
        "(header, checksum, step, digest of the training state) and summarise it.");
    c->add_option("PATH", path_, "Dataset folder, or checkpoint file")->required();
    return c;
  }

  int run(std::unique_ptr<Communicator>&) override {
    if (std::filesystem::is_regular_file(path_)) {
      std::cout << describe_checkpoint(path_) << std::endl;
    } else {
      std::cout << inspect_dataset(path_).summary << std::endl;
    }
    return kExitOk;
  }

 private:
  std::string path_;
};

}  // namespace

std::unique_ptr<Command> inspect_command() { return std::make_unique<InspectCommand>(); }

}  // namespace imprint
