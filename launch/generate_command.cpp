// `imprint generate`: a grid of samples from a generative checkpoint and ONE reference (image or audio clip)
// per identity; for audio also the WAVs.
#include "core/exit_codes.h"
#include "core/log.h"
#include "launch/command.h"
#include "launch/option_ranges.h"
#include "launch/progress.h"
#include "trainer/inference/generate_grid.h"

namespace imprint {

namespace {

class GenerateCommand final : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    GenerateOptions& o = options_;
    auto* c = app.add_subcommand(
        "generate",
        "Draw samples from a generative checkpoint and ONE reference per identity: a PNG grid of "
        "[reference | one sample per content label], each sample also without the identity tokens. Audio: the "
        "grid shows log-mels, and the reference and every sample are also written as WAVs into OUT-wav/ beside "
        "OUT.png.");
    c->add_option("--checkpoint", o.checkpoint, "A checkpoint of a run with objective.denoise")->required();
    c->add_option("--reference", o.reference,
                  "One reference: an image (PNG or JPEG), or for an audio checkpoint a WAV/FLAC clip (its first "
                  "data.clip_seconds)");
    c->add_option("--data", o.data,
                  "A dataset: sample 0 of each held-out identity is a reference; with --reference, only the names of "
                  "its content labels are taken (so --content takes them by name)");
    integer_in(c->add_option("--max-references", o.max_references, "With --data: at most this many identities")
                   ->capture_default_str(),
               Range::closed(1, 1e5));
    c->add_option("--content", o.content,
                  "Comma-separated content labels (names with --data, else indices), or all; default: the first 16");
    c->add_option("--out", o.out, "PNG file to write")->capture_default_str();
    like_key(c->add_option("--steps", o.sampler.steps, "DDIM steps (at most the generator's timesteps)")
                 ->capture_default_str(),
             "eval.fidelity_steps");
    like_key(c->add_option("--guidance", o.sampler.guidance,
                           "Classifier-free guidance scale (1 = none): the content's, and the identity's unless "
                           "--guidance-identity is given")
                 ->capture_default_str(),
             "eval.fidelity_guidance");
    like_key(c->add_option("--guidance-identity", o.sampler.guidance_identity,
                           "The identity's own guidance scale (three predictions per step, InstructPix2Pix); -1: "
                           "the same as --guidance")
                 ->capture_default_str(),
             "eval.fidelity_guidance_identity");
    like_key(c->add_option("--id-scale", o.sampler.id_scale, "Weight of the identity branch")->capture_default_str(),
             "objective.denoise.id_scale");
    c->add_option("--seed", o.sampler.seed, "Seed of the starting noise")->capture_default_str();
    integer_in(c->add_option("--zoom", o.zoom, "Draw each pixel as N x N")->capture_default_str(),
               Range::closed(1, 64));
    return c;
  }

  int run(std::unique_ptr<Communicator>&) override {
    GenerateOptions o = options_;
    o.progress = progress_printer("generate", "references");
    const auto r = generate_grid(o);
    std::string labels;
    for (const auto& c : r.content) labels += (labels.empty() ? "" : ", ") + c;
    log::info(
        log::strf("wrote %s: %lld reference(s) x %zu content label(s) (%s), each with and without the identity "
                  "tokens (%lld samples, %lld DDIM steps, guidance %.2g for content, %.2g for identity)",
                  r.out.c_str(), (long long)r.references, r.content.size(), labels.c_str(), (long long)r.samples,
                  (long long)o.sampler.steps, o.sampler.guidance, o.sampler.identity_guidance()));
    if (!r.wav_folder.empty())
      log::info(
          log::strf("wrote %lld WAV file(s) into %s (per reference: the reference, and each label with and "
                    "without the identity tokens)",
                    (long long)r.wav_files, r.wav_folder.c_str()));
    return kExitOk;
  }

 private:
  GenerateOptions options_;
};

}  // namespace

std::unique_ptr<Command> generate_command() { return std::make_unique<GenerateCommand>(); }

}  // namespace imprint
