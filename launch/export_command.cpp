// `imprint export`: a trained encoder as safetensors weights and a TorchScript module (with metadata).
#include "core/exit_codes.h"
#include "core/log.h"
#include "launch/command.h"
#include "launch/option_ranges.h"
#include "trainer/inference/encoder_export.h"

namespace imprint {

namespace {

class ExportCommand final : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    auto* c = app.add_subcommand(
        "export", "Write a trained encoder as safetensors weights and a TorchScript module (with metadata).");
    c->add_option("--checkpoint", checkpoint_, "A checkpoint file (runs/NAME/checkpoints/step-*.ckpt)")->required();
    folder(c->add_option("--out", out_, "Folder to write model.safetensors, encoder.torchscript.pt, export.json")
               ->required());
    return c;
  }

  int run(std::unique_ptr<Communicator>&) override {
    const auto trained = load_trained_encoder(checkpoint_);
    const auto files = export_encoder(trained, out_);
    log::info(log::strf("exported the %s encoder of %s (step %lld): %s, %s, %s", modality_name(trained.spec.modality),
                        checkpoint_.c_str(), (long long)trained.step, files.safetensors.c_str(),
                        files.torchscript.c_str(), files.metadata.c_str()));
    return kExitOk;
  }

 private:
  std::string checkpoint_, out_;
};

}  // namespace

std::unique_ptr<Command> export_command() { return std::make_unique<ExportCommand>(); }

}  // namespace imprint
