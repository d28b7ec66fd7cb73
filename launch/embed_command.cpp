// `imprint embed`: embeddings of image or audio files with a trained encoder.
#include <string>

#include "core/exit_codes.h"
#include "core/log.h"
#include "launch/command.h"
#include "launch/option_ranges.h"
#include "launch/progress.h"
#include "models/encoder_spec.h"
#include "trainer/checkpoint/checkpoint_reader.h"
#include "trainer/inference/embed_files.h"
#include "trainer/job_config.h"

namespace imprint {

namespace {

class EmbedCommand final : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    EmbedOptions& o = options_;
    auto* c = app.add_subcommand(
        "embed", "Embed image or audio files with a trained encoder (pooled vectors, optionally tokens).");
    c->add_option("--checkpoint", o.checkpoint, "A checkpoint file")->required();
    c->add_option("--input", o.input, "A file, or a folder searched recursively")->required();
    folder(
        c->add_option("--out", o.out, "Folder for pooled.npy [N, D] (tokens.npy [N, K, D]) and index.tsv")->required());
    c->add_option("--format", o.format, "npy or safetensors (embeddings.safetensors)")->capture_default_str();
    c->add_flag("--tokens", o.tokens, "Also write the K conditioning tokens of each file");
    like_key(c->add_option("--batch-size", o.batch_size, "Images per forward pass")->capture_default_str(),
             "eval.batch_size");
    clip_ = c->add_option("--clip-seconds", options_.clip_seconds,
                          "Audio: embed the first this many seconds of each file, zero-padded, as `imprint eval` "
                          "cuts them (default: the checkpoint's data.clip_seconds); 0: each whole file");
    return c;
  }

  int run(std::unique_ptr<Communicator>&) override {
    EmbedOptions o = options_;
    if (clip_->count() == 0) {  // as eval: the run's own clip length, so both see the same audio
      const CheckpointReader reader(o.checkpoint);
      const ConfigValues run = reader.settings(job_schema());
      o.clip_seconds =
          read_encoder_spec(run).modality == Modality::Audio ? std::stod(run.text("data.clip_seconds")) : 0;
      if (o.clip_seconds > 0) log::info(log::strf("audio cut to the run's data.clip_seconds %g", o.clip_seconds));
    }
    o.progress = progress_printer("embed", "files");
    const auto r = embed_files(o);
    for (const auto& s : r.skipped) log::warn("skipped " + s);
    std::string written;
    for (const auto& w : r.written) written += (written.empty() ? "" : ", ") + w;
    log::info(log::strf("embedded %lld file(s), skipped %zu; wrote %s", (long long)r.embedded, r.skipped.size(),
                        written.c_str()));
    return kExitOk;
  }

 private:
  EmbedOptions options_;
  CLI::Option* clip_ = nullptr;
};

}  // namespace

std::unique_ptr<Command> embed_command() { return std::make_unique<EmbedCommand>(); }

}  // namespace imprint
