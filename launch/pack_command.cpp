// `imprint pack`: a dataset from ROOT/<identity>/**/*.{png,jpg,jpeg} or *.{wav,flac}.
#include "core/exit_codes.h"
#include "core/log.h"
#include "data/folder_pack.h"
#include "launch/command.h"
#include "launch/option_ranges.h"
#include "launch/progress.h"
#include "trainer/job_config.h"

namespace imprint {

namespace {

class PackCommand final : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    PackOptions& o = options_;
    // The sizes a config takes when it says nothing, so a dataset packed with the defaults trains with them.
    o.image_size = std::stoi(job_schema().find("data.image_size")->default_value);
    o.sample_rate = std::stoi(job_schema().find("data.sample_rate")->default_value);
    auto* c = app.add_subcommand("pack", "Make a dataset from ROOT/<identity>/**/*.{png,jpg,jpeg} or *.{wav,flac}.");
    c->add_option("--modality", modality_, "image or audio")->required()->check(CLI::IsMember({"image", "audio"}));
    c->add_option("--input", o.input, "ROOT: one folder per identity")->required();
    c->add_option("--output", o.output, "Dataset folder to create")->required();
    like_key(c->add_option("--image-size", o.image_size,
                           "Images are centre-cropped and resized to N x N (the config's data.image_size)")
                 ->capture_default_str(),
             "data.image_size");
    like_key(c->add_option("--sample-rate", o.sample_rate,
                           "Audio is mixed to mono and resampled to HZ (the config's data.sample_rate)")
                 ->capture_default_str(),
             "data.sample_rate");
    c->add_option("--shard-size", shard_size_, "Target shard size, e.g. 256MB")->capture_default_str();
    integer_in(c->add_option("--threads", o.threads, "Decoding threads")->capture_default_str(),
               Range::closed(1, 1024));
    integer_in(c->add_option("--holdout-identities", o.holdout_identities,
                             "Identities held out for evaluation, chosen by a hash of their name")
                   ->capture_default_str(),
               Range::closed(0, 1e9));
    c->add_option("--holdout-list", o.holdout_list,
                  "A file naming the held-out identity folders, one per line (e.g. whole font families)");
    c->add_option("--holdout-groups", o.holdout_groups,
                  "A TSV of <identity folder><TAB><group> lines: whole groups are held out (with "
                  "--holdout-group-count or --holdout-group-fraction), chosen by a hash of the group name");
    integer_in(c->add_option("--holdout-group-count", o.holdout_group_count, "Groups to hold out"),
               Range::closed(0, 1e9));
    real_in(c->add_option("--holdout-group-fraction", o.holdout_group_fraction, "Fraction of the groups to hold out"),
            Range::closed(0, 1));
    c->add_option("--content-from", o.content_from,
                  "Content labels (format v2): 'stem' (file name without extension) or a TSV of "
                  "<path relative to ROOT><TAB><label> lines");
    c->add_flag("--eval-only", o.eval_only,
                "Hold out EVERY identity: a set to score a trained encoder on (imprint eval), not to train on");
    c->add_flag("--overwrite", o.overwrite,
                "Replace the dataset in a non-empty --output (refused if it holds anything else)");
    return c;
  }

  int run(std::unique_ptr<Communicator>&) override {
    PackOptions o = options_;
    o.modality = parse_modality(modality_);
    o.shard_bytes = parse_size(shard_size_, "--shard-size");
    o.progress = progress_printer("pack", "identities");
    PackReport r;
    try {
      r = pack_folders(o);
    } catch (const PackError& e) {  // what was skipped is as much the answer as why pack stopped
      for (const auto& p : e.problems) log::warn(p);
      throw;
    }
    for (const auto& p : r.problems) log::warn(p);
    log::info(
        log::strf("packed %lld identities (%zu held out), %lld samples into %zu shard(s) in %s; skipped %lld "
                  "file(s) and %lld identit%s",
                  (long long)r.identities, r.manifest.holdout.size(), (long long)r.samples, r.manifest.shards.size(),
                  o.output.c_str(), (long long)r.skipped_files, (long long)r.skipped_identities,
                  r.skipped_identities == 1 ? "y" : "ies"));
    return kExitOk;
  }

 private:
  PackOptions options_;
  std::string modality_ = "image", shard_size_ = "256MB";
};

}  // namespace

std::unique_ptr<Command> pack_command() { return std::make_unique<PackCommand>(); }

}  // namespace imprint
