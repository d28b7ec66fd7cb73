// `imprint export`: a trained encoder as safetensors weights and a TorchScript module (with metadata); with
// --format diffusers, an identity adapter in diffusers' IP-Adapter layout beside it; with --format generator, the
// trained generator itself.
#include "core/exit_codes.h"
#include "core/log.h"
#include "launch/command.h"
#include "launch/option_ranges.h"
#include "trainer/inference/diffusers_export.h"
#include "trainer/inference/encoder_export.h"
#include "trainer/inference/generator_export.h"

namespace imprint {

namespace {

class ExportCommand final : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    auto* c = app.add_subcommand(
        "export", "Write a trained encoder as safetensors weights and a TorchScript module (with metadata).");
    c->add_option("--checkpoint", checkpoint_, "A checkpoint file (runs/NAME/checkpoints/step-*.ckpt)")->required();
    folder(c->add_option("--out", out_,
                         "Folder to write model.safetensors, encoder.torchscript.pt, export.json (with --format "
                         "diffusers: ip_adapter.safetensors, image_encoder/, generator.pt, README.md)")
               ->required());
    c->add_option("--format", format_,
                  "imprint: the encoder; diffusers: the identity adapter trained against a UNet imported by "
                  "launch/diffusers_import.py, in diffusers' IP-Adapter layout (docs/diffusers.md); generator: the "
                  "trained generator as generator.safetensors + generator.torchscript.pt (a generator_script)")
        ->check(CLI::IsMember({"imprint", "diffusers", "generator"}))
        ->capture_default_str();
    c->add_flag("--overwrite", overwrite_, "With --format diffusers: write into an --out folder that is not empty");
    return c;
  }

  int run(std::unique_ptr<Communicator>&) override {
    if (format_ == "diffusers") {
      const auto d = export_diffusers(checkpoint_, out_, overwrite_);
      log::info(
          log::strf("exported the identity adapter of %s for diffusers: %s (%lld tensors, %lld cross-attention "
                    "layers), %s/, %s, %s",
                    checkpoint_.c_str(), d.adapter.c_str(), (long long)d.adapter_tensors,
                    (long long)d.cross_attention_layers, d.encoder_dir.c_str(), d.generator.c_str(), d.readme.c_str()));
      return kExitOk;
    }
    if (format_ == "generator") {
      const auto g = export_generator(checkpoint_, out_);
      log::info(log::strf("exported the generator of %s: %s, %s, %s", checkpoint_.c_str(), g.safetensors.c_str(),
                          g.torchscript.c_str(), g.metadata.c_str()));
      return kExitOk;
    }
    const auto trained = load_trained_encoder(checkpoint_);
    const auto files = export_encoder(trained, out_);
    log::info(log::strf("exported the %s encoder of %s (step %lld): %s, %s, %s", modality_name(trained.spec.modality),
                        checkpoint_.c_str(), (long long)trained.step, files.safetensors.c_str(),
                        files.torchscript.c_str(), files.metadata.c_str()));
    return kExitOk;
  }

 private:
  std::string checkpoint_, out_, format_ = "imprint";
  bool overwrite_ = false;
};

}  // namespace

std::unique_ptr<Command> export_command() { return std::make_unique<ExportCommand>(); }

}  // namespace imprint
