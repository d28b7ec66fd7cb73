// `imprint synth`: write the built-in synthetic identities as a shard dataset.
#include "config/config_error.h"
#include "core/exit_codes.h"
#include "core/log.h"
#include "data/synthetic_export.h"
#include "data/synthetic_request.h"
#include "launch/command.h"
#include "launch/option_ranges.h"
#include "launch/progress.h"

namespace imprint {

namespace {

class SynthCommand final : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    SynthRequest& r = request_;
    auto* c = app.add_subcommand("synth", "Write the built-in synthetic identities as a shard dataset.");
    c->add_option("--modality", r.modality, "image or audio")->check(CLI::IsMember({"image", "audio"}));
    // Each option that stands for a config key is checked against that key's range (launch/option_ranges.h):
    // --identities 2000000000 once grew to 5 GB and --samples-per-identity 1000000000 never ended.
    like_key(
        c->add_option("--identities", r.identities, "Identities in all, held-out ones included")->capture_default_str(),
        "data.train_identities");
    holdout_ = like_key(c->add_option("--holdout-identities", r.holdout,
                                      "The last N identities are held out (manifest holdout); default: 1/11 of "
                                      "--identities (100 of 1100), at least 2"),
                        "data.eval_identities");
    c->add_option("--holdout-list", r.holdout_choice.list,
                  "A file naming the held-out identities (synthetic-NNNNNN), one per line");
    c->add_option("--holdout-groups", r.holdout_choice.groups,
                  "A TSV of <synthetic-NNNNNN><TAB><group> lines: whole groups are held out (with "
                  "--holdout-group-count or --holdout-group-fraction), chosen by a hash of the group name");
    integer_in(c->add_option("--holdout-group-count", r.holdout_choice.group_count, "Groups to hold out"),
               Range::closed(0, 1e9));
    real_in(c->add_option("--holdout-group-fraction", r.holdout_choice.group_fraction,
                          "Fraction of the groups to hold out"),
            Range::closed(0, 1));
    like_key(c->add_option("--samples-per-identity", r.per_identity, "Samples of each identity")->capture_default_str(),
             "data.samples_per_identity");
    c->add_option("--output", output_, "Dataset folder to create")->required();
    like_key(c->add_option("--image-size", r.image_size, "Image side in pixels")->capture_default_str(),
             "data.image_size");
    like_key(c->add_option("--sample-rate", r.sample_rate, "Audio sample rate in Hz")->capture_default_str(),
             "data.sample_rate");
    like_key(c->add_option("--clip-seconds", r.clip_seconds, "Audio clip length")->capture_default_str(),
             "data.clip_seconds");
    like_key(c->add_option("--seed", r.seed, "Seed of the identities (data.seed)")->capture_default_str(), "data.seed");
    like_key(c->add_option("--content-classes", r.content_classes,
                           "Images: sample i gets content label i % N, which decides where its shape sits (0: none)")
                 ->capture_default_str(),
             "data.content_classes");
    c->add_option("--shard-size", shard_size_, "Target shard size, e.g. 256MB")->capture_default_str();
    return c;
  }

  int run(std::unique_ptr<Communicator>&) override {
    request_.holdout_given = holdout_->count() > 0;
    SynthPlan plan;
    try {
      plan = plan_synthetic(request_);
    } catch (const std::invalid_argument& e) {
      throw ConfigError(e.what());
    }
    const auto m = export_synthetic(plan.spec, output_, parse_size(shard_size_, "--shard-size"),
                                    progress_printer("synth", "identities"), plan.held_out);
    log::info(log::strf("wrote %zu identities (%zu held out), %lld samples each, in %zu shard(s) to %s",
                        m.identities.size(), m.holdout.size(), (long long)request_.per_identity, m.shards.size(),
                        output_.c_str()));
    return kExitOk;
  }

 private:
  SynthRequest request_;
  std::string output_, shard_size_ = "256MB";
  CLI::Option* holdout_ = nullptr;
};

}  // namespace

std::unique_ptr<Command> synth_command() { return std::make_unique<SynthCommand>(); }

}  // namespace imprint
