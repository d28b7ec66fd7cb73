// `imprint eval`: a checkpoint's encoder on a dataset, the checkpoint only read.
#include <cmath>

#include "core/exit_codes.h"
#include "core/log.h"
#include "launch/command.h"
#include "trainer/inference/checkpoint_eval.h"

namespace imprint {

namespace {

void log_trials(const CheckpointEvalOptions& o, const CheckpointEvalReport& r) {
  const auto& t = r.trials;
  log::info(log::strf(
      "trials %s: EER %.2f%%, minDCF(0.01) %.3f over %lld target / %lld non-target trials%s", o.trials.c_str(),
      100 * t.raw.eer, t.raw.min_dcf, (long long)t.raw.target_trials, (long long)t.raw.nontarget_trials,
      std::isnan(t.eer_asnorm)
          ? ""
          : log::strf("; with AS-norm EER %.2f%%, minDCF(0.01) %.3f", 100 * t.eer_asnorm, t.min_dcf_asnorm).c_str()));
  if (r.training_identity_trials > 0)
    log::warn(
        log::strf("%lld of the trials involve identities %s trains on: not a held-out measurement for a model "
                  "trained on it",
                  (long long)r.training_identity_trials, o.data.c_str()));
}

void log_report(const CheckpointEvalOptions& o, const CheckpointEvalReport& r) {
  int64_t hits = 0;
  std::string missed;
  for (const auto& i : r.identities) {
    hits += i.hit;
    if (!i.hit && missed.size() < 300) missed += (missed.empty() ? "" : ", ") + i.name;
  }
  const auto& s = r.score;
  log::info(log::strf(
      "eval %s (step %lld%s) on %s: top-1 %.1f%% (%lld of %lld identities; chance %.1f%%, gallery %lld) | every sample "
      "as the reference: top-1 %.1f%% [95%% CI %.1f-%.1f], top-5 %.1f%% (%lld queries; chance %.1f%%) | EER %.2f%%, "
      "minDCF(0.01) %.3f over %lld target / %lld non-target pairs",
      o.checkpoint.c_str(), (long long)r.trained.step, r.trained.averaged_weights ? ", weight average" : "",
      o.data.c_str(), 100 * s.top1, (long long)hits, (long long)s.identities, 100 * s.chance, (long long)s.gallery_size,
      100 * s.top1_all, 100 * s.top1_all_low, 100 * s.top1_all_high, 100 * s.top5_all, (long long)s.queries,
      100 * s.chance_all, 100 * s.eer, s.min_dcf, (long long)s.target_trials, (long long)s.nontarget_trials));
  if (!std::isnan(s.eer_asnorm))
    log::info(log::strf("with AS-norm (%lld training identities, top %lld): EER %.2f%%, minDCF(0.01) %.3f",
                        (long long)o.asnorm_cohort, (long long)o.asnorm_top_k, 100 * s.eer_asnorm, s.min_dcf_asnorm));
  if (!o.trials.empty()) log_trials(o, r);
  if (!missed.empty()) log::info("missed: " + missed);
  if (!o.json_out.empty()) log::info("wrote " + o.json_out);
}

class EvalCommand final : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    CheckpointEvalOptions& o = options_;
    auto* c = app.add_subcommand(
        "eval",
        "Evaluate a checkpoint's encoder on a dataset: top-1 retrieval from ONE reference per identity, "
        "verification EER and minDCF over every pair, per-identity hits. The checkpoint is only read.");
    c->add_option("--checkpoint", o.checkpoint, "A checkpoint file")->required();
    c->add_option("--data", o.data, "A dataset folder (imprint pack / synth)")->required();
    c->add_flag("--all", o.all_identities,
                "Every identity of the dataset (for a dataset the encoder never saw), not only its held-out ones");
    c->add_option("--gallery-per-identity", o.gallery_per_identity,
                  "Gallery samples of each identity (samples 1..N; sample 0 is its reference)")
        ->capture_default_str();
    c->add_option("--clip-seconds", o.clip_seconds, "Audio: clip length fed to the encoder")->capture_default_str();
    c->add_option("--batch-size", o.batch_size, "Samples per forward pass")->capture_default_str();
    c->add_option("--json", o.json_out, "Also write the report (and per-identity hits) as JSON here");
    c->add_option("--asnorm-cohort", o.asnorm_cohort,
                  "Also report EER/minDCF with AS-norm over a cohort of this many of the dataset's training identities "
                  "(sample 0 each)")
        ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
    c->add_option("--trials", o.trials,
                  "A trial list (lines 'LABEL IDENTITY/INDEX IDENTITY/INDEX', docs/running.md): also report EER/minDCF "
                  "over exactly these trials");
    c->add_option("--asnorm-top-k", o.asnorm_top_k, "AS-norm: highest cohort scores per sample used")
        ->capture_default_str()
        ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
    return c;
  }

  int run(std::unique_ptr<Communicator>&) override {
    log_report(options_, evaluate_checkpoint(options_));
    return kExitOk;
  }

 private:
  CheckpointEvalOptions options_;
};

}  // namespace

std::unique_ptr<Command> eval_command() { return std::make_unique<EvalCommand>(); }

}  // namespace imprint
