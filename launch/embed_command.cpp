// `imprint embed`: embeddings of image or audio files with a trained encoder.
#include "core/exit_codes.h"
#include "core/log.h"
#include "launch/command.h"
#include "launch/option_ranges.h"
#include "launch/progress.h"
#include "trainer/inference/embed_files.h"

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
    return c;
  }

  int run(std::unique_ptr<Communicator>&) override {
    EmbedOptions o = options_;
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
};

}  // namespace

std::unique_ptr<Command> embed_command() { return std::make_unique<EmbedCommand>(); }

}  // namespace imprint
