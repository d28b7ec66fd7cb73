#include "trainer/evaluator.h"

#include <chrono>
#include <cmath>

#include "config/config_error.h"
#include "core/log.h"
#include "trainer/checkpoint/safetensors_writer.h"
#include "trainer/checkpoint/weight_average.h"

namespace imprint {

Evaluator::Evaluator(const JobConfig& job, const IdentityDataset& dataset, ModelParts& parts)
    : parts_(parts), every_(job.train.eval_every), batch_size_(job.eval.batch_size) {
  const at::Device& device = parts.device;
  if (dataset.eval_identities().empty()) return;  // nothing held out (dataset_setup allows it without evaluations)
  HeldoutSplit split;
  try {
    split = split_heldout(dataset.eval_identities(), job.eval.validation_identities);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(e.what());
  }
  heldout_ = build_eval_set(dataset, split.test, job.eval.gallery_per_identity);
  if (!split.validation.empty()) validation_ = build_eval_set(dataset, split.validation, job.eval.gallery_per_identity);
  for (EvalSet* set : {&heldout_, &validation_}) {
    if (!set->references.defined()) continue;
    if (job.eval.asnorm_cohort > 0) {
      add_asnorm_cohort(*set, dataset, job.eval.asnorm_cohort, job.eval.asnorm_top_k);
      set->cohort = set->cohort.to(device);
    }
    set->references = set->references.to(device);
    set->gallery = set->gallery.to(device);
    set->gallery_identity = set->gallery_identity.to(device);
  }
  objective_evaluations_ = parts.objective->evaluations({dataset, heldout_, device, job.seed, batch_size_});
}

void Evaluator::log_retrieval(int64_t step, const RetrievalScore& s, double seconds, MetricsLog* metrics) {
  log::info(
      log::strf("eval step %lld: %s top-1 retrieval %.1f%% (chance %.1f%%; %lld identities, gallery %lld); "
                "every sample as the reference: top-1 %.1f%% [95%% CI %.1f-%.1f], top-5 %.1f%% (%lld queries); "
                "verification EER %.2f%%, minDCF(0.01) %.3f (%lld target / %lld non-target pairs) in %.1fs",
                (long long)step, has_validation() ? "test" : "held-out", 100 * s.top1, 100 * s.chance,
                (long long)s.identities, (long long)s.gallery_size, 100 * s.top1_all, 100 * s.top1_all_low,
                100 * s.top1_all_high, 100 * s.top5_all, (long long)s.queries, 100 * s.eer, s.min_dcf,
                (long long)s.target_trials, (long long)s.nontarget_trials, seconds));
  const bool asnorm = !std::isnan(s.eer_asnorm);
  if (asnorm)
    log::info(
        log::strf("eval step %lld: with AS-norm (cohort of %lld training identities, top %lld): EER %.2f%%, "
                  "minDCF(0.01) %.3f",
                  (long long)step, (long long)heldout_.cohort.size(0), (long long)heldout_.cohort_top_k,
                  100 * s.eer_asnorm, s.min_dcf_asnorm));
  if (!metrics) return;
  nlohmann::json record = {{"step", step},
                           {"eval_top1", s.top1},
                           {"chance", s.chance},
                           {"identities", s.identities},
                           {"eval_top1_all", s.top1_all},
                           {"eval_top1_all_low", s.top1_all_low},
                           {"eval_top1_all_high", s.top1_all_high},
                           {"eval_top5_all", s.top5_all},
                           {"eval_eer", s.eer},
                           {"eval_min_dcf", s.min_dcf}};
  if (asnorm) record["eval_eer_asnorm"] = s.eer_asnorm, record["eval_min_dcf_asnorm"] = s.min_dcf_asnorm;
  metrics->write(record);
}

std::string Evaluator::selection_set() const {
  const EvalSet& set = has_validation() ? validation_ : heldout_;
  return log::strf("%s (%lld identities)", has_validation() ? "validation" : "held-out",
                   (long long)set.references.size(0));
}

void Evaluator::log_validation(int64_t step, const RetrievalScore& s, MetricsLog* metrics) {
  const bool asnorm = !std::isnan(s.eer_asnorm);
  log::info(
      log::strf("eval step %lld: validation (%lld identities, what checkpoint.keep_best chooses on): top-1 "
                "%.1f%%, every sample as the reference %.1f%%, EER %.2f%%, minDCF(0.01) %.3f%s",
                (long long)step, (long long)s.identities, 100 * s.top1, 100 * s.top1_all, 100 * s.eer, s.min_dcf,
                asnorm ? log::strf(", AS-norm EER %.2f%%", 100 * s.eer_asnorm).c_str() : ""));
  if (!metrics) return;
  nlohmann::json record = {{"step", step},     {"val_top1", s.top1},       {"val_top1_all", s.top1_all},
                           {"val_eer", s.eer}, {"val_min_dcf", s.min_dcf}, {"val_identities", s.identities}};
  if (asnorm) record["val_eer_asnorm"] = s.eer_asnorm, record["val_min_dcf_asnorm"] = s.min_dcf_asnorm;
  metrics->write(record);
}

RetrievalScore Evaluator::run(int64_t step, MetricsLog* metrics) {
  // With ema.decay, what is evaluated is what generate and export will use: the averaged weights.
  std::unique_ptr<AveragedWeights> averaged;
  if (!parts_.average.empty()) averaged = std::make_unique<AveragedWeights>(parts_.named, parts_.average);
  const auto t = std::chrono::steady_clock::now();
  RetrievalScore s;
  if (!heldout_.references.defined()) {
    // A dataset without held-out identities (allowed with train.eval_every 0: e.g. a content reader trained on
    // every word): nothing to score on.
    s.measured = false;
    s.top1 = s.chance = std::nan("");
    s.why_not_measured = "the dataset holds out no identities";
    log::info(log::strf("eval step %lld: no held-out retrieval: %s", (long long)step, s.why_not_measured.c_str()));
    validation_score_ = s;
  } else if (parts_.views_read > 0) {
    s = evaluate_retrieval(*parts_.encoder, heldout_, batch_size_);
    log_retrieval(step, s, std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count(), metrics);
    if (has_validation()) {
      validation_score_ = evaluate_retrieval(*parts_.encoder, validation_, batch_size_);
      log_validation(step, validation_score_, metrics);
    }
  } else {
    // Its weights are as initialised: a retrieval score would measure nothing the run did.
    s.measured = false;
    s.top1 = s.chance = std::nan("");
    s.why_not_measured = "no objective of this run trains the encoder";
    log::info(log::strf("eval step %lld: no held-out retrieval: %s", (long long)step, s.why_not_measured.c_str()));
    validation_score_ = s;
  }
  test_score_ = s;
  for (auto& evaluation : objective_evaluations_) {
    const EvaluationResult r = evaluation->run(*parts_.encoder, step);
    log::info(r.line);
    nlohmann::json record{{"step", step}};
    for (const auto& [key, value] : r.values) record[key] = value, objective_values_[key] = value;
    if (metrics) {
      metrics->write(record);
      for (const auto& image : r.images) metrics->image(image.tag, image.width, image.height, image.rgb, step);
      for (const auto& clip : r.audio) metrics->audio(clip.tag, clip.samples, clip.sample_rate, step);
    }
  }
  return s;
}

void Evaluator::write_embeddings(const std::string& run_dir, const RetrievalScore& score) const {
  write_npy(run_dir + "/heldout_embeddings.npy", score.gallery_embeddings.cpu().contiguous());
  write_npy(run_dir + "/heldout_identity.npy", heldout_.gallery_identity.cpu().contiguous());
}

}  // namespace imprint
