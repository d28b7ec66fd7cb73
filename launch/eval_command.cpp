// `imprint eval`: a checkpoint's encoder on a dataset, the checkpoint only read.
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <type_traits>

#include "config/config_error.h"
#include "core/exit_codes.h"
#include "core/log.h"
#include "launch/command.h"
#include "launch/option_ranges.h"
#include "models/encoder_spec.h"
#include "trainer/checkpoint/checkpoint_reader.h"
#include "trainer/inference/checkpoint_eval.h"
#include "trainer/inference/checkpoint_fidelity.h"
#include "trainer/inference/embedding_eval.h"
#include "trainer/job_config.h"
#include "trainer/objectives/denoise.h"

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
    log::info(log::strf("with AS-norm (%lld training identities%s, top %lld): EER %.2f%%, minDCF(0.01) %.3f",
                        (long long)r.asnorm_cohort,
                        r.asnorm_cohort < o.asnorm_cohort
                            ? log::strf(": all the dataset has, of %lld asked for", (long long)o.asnorm_cohort).c_str()
                            : "",
                        (long long)o.asnorm_top_k, 100 * s.eer_asnorm, s.min_dcf_asnorm));
  if (!o.trials.empty()) log_trials(o, r);
  if (!missed.empty()) log::info("missed: " + missed);
  if (!o.json_out.empty()) log::info("wrote " + o.json_out);
}

// The evaluation settings the run itself used, for the options not given: the same checkpoint scored with
// 0.5 s clips and a gallery of 4 instead of its 2 s and 29 gives another (far worse) figure, unwarned.
void take_run_settings(CheckpointEvalOptions& o, const CLI::App& command) {
  const CheckpointReader reader(o.checkpoint);
  const ConfigValues run = reader.settings(job_schema());
  // Format-1 checkpoints store no settings: what they give is the schema's default, and is called that.
  const std::string from = reader.format() >= 2 ? "the run's " : "the default ";
  std::string used;
  auto take = [&](const char* option, const char* key, auto& field) {
    const bool given = command.get_option(option)->count() > 0;
    if (!given) field = static_cast<std::remove_reference_t<decltype(field)>>(std::stod(run.text(key)));
    used += log::strf("%s%s %s (%s)", used.empty() ? "" : ", ", option, number_text(static_cast<double>(field)).c_str(),
                      given ? "given" : (from + key).c_str());
  };
  take("--gallery-per-identity", "eval.gallery_per_identity", o.gallery_per_identity);
  take("--batch-size", "eval.batch_size", o.batch_size);
  if (read_encoder_spec(run).modality == Modality::Audio) take("--clip-seconds", "data.clip_seconds", o.clip_seconds);
  o.validation_identities = std::stoll(run.text("eval.validation_identities"));
  if (o.validation_identities > 0 && !o.all_identities)
    used += log::strf(
        ", the run's %lld validation identities left out (eval.validation_identities: the test "
        "identities only; --all for every identity)",
        (long long)o.validation_identities);
  log::info("evaluation settings: " + used +
            (reader.format() >= 2 ? "" : "; this format-1 checkpoint stores no settings, so defaults stand in"));
}

// --judge: the generator's identity fidelity on the same dataset, with the run's own fidelity settings for
// what is not given.
void log_fidelity(const CheckpointEvalOptions& e, const CLI::App& command, const std::string& judge,
                  const std::string& content_judge, int64_t seed, int64_t identities) {
  const ConfigValues run = CheckpointReader(e.checkpoint).settings(job_schema());
  CheckpointFidelityOptions f;
  f.checkpoint = e.checkpoint;
  f.data = e.data;
  f.judge = judge;
  f.all_identities = e.all_identities;
  f.gallery_per_identity = e.gallery_per_identity;
  f.batch_size = e.batch_size;
  const DenoiseOptions d = denoise_options(run);  // the run's fidelity settings, typed by the objective's keys
  f.identities = command.get_option("--fidelity-identities")->count() > 0 ? identities : d.fidelity_identities;
  f.content = d.fidelity_content;
  f.bank_identities = d.content_bank_identities;
  f.content_judge = content_judge.empty() ? d.content_judge : content_judge;  // else the run's reader, if any
  f.sampler.steps = d.fidelity_steps;
  f.sampler.guidance = d.fidelity_guidance;
  f.sampler.guidance_identity = d.fidelity_guidance_identity;
  f.sampler.id_scale = d.id_scale;
  f.sampler.seed = static_cast<uint64_t>(seed);
  f.draw_seed = static_cast<uint64_t>(seed);
  const FidelityReport r = evaluate_checkpoint_fidelity(f);
  log::info(describe_fidelity(r, e.all_identities ? "" : "held-out") +
            log::strf(" (identities drawn with seed %lld)", static_cast<long long>(seed)));
}

class EvalCommand final : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    CheckpointEvalOptions& o = options_;
    auto* c = command_ = app.add_subcommand(
        "eval",
        "Evaluate a checkpoint's encoder on a dataset: top-1 retrieval from ONE reference per identity, "
        "verification EER and minDCF over every pair, per-identity hits. The checkpoint is only read. Or, with "
        "--embeddings, score embeddings any encoder made with the same metrics.");
    c->add_option("--checkpoint", o.checkpoint, "A checkpoint file (with --data)");
    c->add_option("--data", o.data, "A dataset folder (imprint pack / synth)");
    c->add_option("--embeddings", embeddings_,
                  "Instead of --checkpoint and --data: a folder with pooled.npy [rows, dim] and index.tsv "
                  "(row, file[, identity]) as `imprint embed` writes them, from imprint's encoder or any other: "
                  "scored with the same metrics (identity = the file's folder unless index.tsv has a third column; "
                  "each identity's first file in natural order is its reference)");
    c->add_flag("--all", o.all_identities,
                "Every identity of the dataset (for a dataset the encoder never saw), not only its held-out ones");
    like_key(c->add_option("--gallery-per-identity", o.gallery_per_identity,
                           "Gallery samples of each identity (samples 1..N; sample 0 is its reference); default: "
                           "the checkpoint's eval.gallery_per_identity"),
             "eval.gallery_per_identity");
    like_key(c->add_option("--clip-seconds", o.clip_seconds,
                           "Audio: clip length fed to the encoder; default: the checkpoint's data.clip_seconds"),
             "data.clip_seconds");
    like_key(c->add_option("--batch-size", o.batch_size,
                           "Samples per forward pass; default: the checkpoint's eval.batch_size"),
             "eval.batch_size");
    c->add_option("--json", o.json_out, "Also write the report (and per-identity hits) as JSON here");
    like_key(c->add_option("--asnorm-cohort", o.asnorm_cohort,
                           "Also report EER/minDCF with AS-norm over a cohort of this many of the dataset's training "
                           "identities (sample 0 each; 0: off)"),
             "eval.asnorm_cohort");
    c->add_option("--asnorm-cohort-data", o.asnorm_cohort_data,
                  "AS-norm: take the cohort from this dataset's training identities (e.g. the checkpoint's own "
                  "training set) instead of --data's: how a set packed with --eval-only is AS-normed");
    c->add_option("--judge", judge_,
                  "A generative checkpoint: also score its identity fidelity on --data with this judge (an encoder "
                  "checkpoint): samples generated from ONE reference of each identity beside the identity-dropped "
                  "floor and the real ceiling, as training's eval.judge does");
    c->add_option("--content-judge", content_judge_,
                  "With --judge: read the content of real and generated samples with this reader (an encoder "
                  "checkpoint trained with the content labels as its identities) instead of the run's own "
                  "eval.content_judge (or, without one, the nearest training sample)");
    like_key(c->add_option("--fidelity-identities", fidelity_identities_,
                           "With --judge: identities scored, drawn by --seed (default: the run's "
                           "eval.fidelity_identities)"),
             "eval.fidelity_identities");
    c->add_option("--seed", seed_, "With --judge: which identities are drawn, and the starting noise")
        ->capture_default_str();
    c->add_option("--trials", o.trials,
                  "A trial list (lines 'LABEL IDENTITY/INDEX IDENTITY/INDEX', docs/running.md): also report EER/minDCF "
                  "over exactly these trials");
    like_key(c->add_option("--asnorm-top-k", o.asnorm_top_k, "AS-norm: highest cohort scores per sample used")
                 ->capture_default_str(),
             "eval.asnorm_top_k");
    return c;
  }

  int run(std::unique_ptr<Communicator>&) override {
    if (!embeddings_.empty()) {
      for (const CLI::Option* option : command_->get_options())
        if (option->count() > 0 && option->get_name() != "--embeddings" &&
            option->get_name() != "--gallery-per-identity" && option->get_name() != "--json" &&
            option->get_name() != "--help")
          throw ConfigError(
              "--embeddings scores embeddings already made: it takes --gallery-per-identity and --json "
              "only, not " +
              option->get_name());
      log_embeddings(evaluate_embeddings(embeddings_, options_.gallery_per_identity));
      return kExitOk;
    }
    if (options_.checkpoint.empty() || options_.data.empty())
      throw ConfigError("--checkpoint and --data are required (or --embeddings DIR)");
    if (!content_judge_.empty() && judge_.empty())
      throw ConfigError("--content-judge reads generated samples: it needs --judge");
    CheckpointEvalOptions o = options_;
    take_run_settings(o, *command_);
    log_report(o, evaluate_checkpoint(o));
    if (!judge_.empty()) log_fidelity(o, *command_, judge_, content_judge_, seed_, fidelity_identities_);
    return kExitOk;
  }

 private:
  void log_embeddings(const EmbeddingEvalReport& r) const {
    const auto& s = r.score;
    log::info(log::strf(
        "eval of the embeddings in %s (%lld rows of %lld): top-1 %.1f%% (%lld identities; chance %.1f%%, gallery "
        "%lld) | every sample as the reference: top-1 %.1f%% [95%% CI %.1f-%.1f], top-5 %.1f%% (%lld queries; "
        "chance %.1f%%) | EER %.2f%%, minDCF(0.01) %.3f over %lld target / %lld non-target pairs",
        embeddings_.c_str(), (long long)r.rows, (long long)r.dim, 100 * s.top1, (long long)s.identities, 100 * s.chance,
        (long long)s.gallery_size, 100 * s.top1_all, 100 * s.top1_all_low, 100 * s.top1_all_high, 100 * s.top5_all,
        (long long)s.queries, 100 * s.chance_all, 100 * s.eer, s.min_dcf, (long long)s.target_trials,
        (long long)s.nontarget_trials));
    if (!r.skipped.empty())
      log::warn(log::strf("%zu identities with fewer than %lld files skipped (first: %s)", r.skipped.size(),
                          (long long)options_.gallery_per_identity + 1, r.skipped.front().c_str()));
    if (options_.json_out.empty()) return;
    std::ofstream out(options_.json_out);
    if (!out) throw ConfigError(options_.json_out + ": --json: cannot write");
    nlohmann::json j = score_json(s);  // the keys of `eval --checkpoint --json`: one reader takes both
    j["embeddings"] = embeddings_;
    j["skipped"] = r.skipped;
    out << j.dump(2) << "\n";
    log::info("wrote " + options_.json_out);
  }

  CheckpointEvalOptions options_;
  CLI::App* command_ = nullptr;
  std::string embeddings_;
  std::string judge_, content_judge_;
  int64_t seed_ = 0, fidelity_identities_ = 16;
};

}  // namespace

std::unique_ptr<Command> eval_command() { return std::make_unique<EvalCommand>(); }

}  // namespace imprint
