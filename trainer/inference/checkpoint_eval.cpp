#include "trainer/inference/checkpoint_eval.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "config/key_spec.h"
#include "core/log.h"
#include "data/shard_dataset.h"
#include "trainer/checkpoint/checkpoint_store.h"

namespace imprint {

namespace {

// --json: the report, with every identity's hit.
void write_json(const CheckpointEvalOptions& o, const CheckpointEvalReport& report) {
  nlohmann::json j = score_json(report.score);
  j["checkpoint"] = o.checkpoint;
  j["step"] = report.trained.step;
  j["data"] = o.data;
  if (!o.trials.empty()) {
    const TrialScore& t = report.trials;
    j["trials"] = {{"file", o.trials},
                   {"target_trials", t.raw.target_trials},
                   {"nontarget_trials", t.raw.nontarget_trials},
                   {"eer", t.raw.eer},
                   {"min_dcf", t.raw.min_dcf},
                   {"training_identity_trials", report.training_identity_trials}};
    if (!std::isnan(t.eer_asnorm))
      j["trials"]["eer_asnorm"] = t.eer_asnorm, j["trials"]["min_dcf_asnorm"] = t.min_dcf_asnorm;
  }
  for (const auto& r : report.identities) j["per_identity"][r.name] = r.hit;
  std::ofstream out(o.json_out);
  if (!out) throw std::invalid_argument(o.json_out + ": --json: cannot write");
  out << j.dump(2) << "\n";
}

// A dataset the checkpoint's encoder can read: its modality, image size or sample rate.
void check_matches(const ShardDataset& ds, const EncoderSpec& spec, const std::string& data,
                   const std::string& checkpoint) {
  const Manifest& m = ds.manifest();
  if (m.modality != spec.modality)
    throw DatasetError(data + ": is an " + modality_name(m.modality) + " dataset but " + checkpoint + " holds an " +
                       modality_name(spec.modality) + " encoder");
  if (m.modality == Modality::Image && m.image_size != spec.image_size)
    throw DatasetError(data + ": images are " + std::to_string(m.image_size) + " pixels but " + checkpoint +
                       " was trained on " + std::to_string(spec.image_size) + " (re-pack with --image-size " +
                       std::to_string(spec.image_size) + ")");
  if (m.modality == Modality::Audio && m.sample_rate != spec.sample_rate)
    throw DatasetError(data + ": audio is at " + std::to_string(m.sample_rate) + " Hz but " + checkpoint +
                       " was trained at " + std::to_string(spec.sample_rate) + " Hz (re-pack with --sample-rate " +
                       std::to_string(spec.sample_rate) + ")");
}

// A clip length past every clip evaluated pads each with silence: the embeddings, so the scores, are not those
// of the clips as they are (and it is slower). Said once; training pads a short clip the same way.
void warn_if_all_padded(const ShardDataset& ds, const std::vector<int64_t>& ids, int64_t gallery, int64_t clip,
                        double clip_seconds) {
  if (ds.modality() != Modality::Audio) return;
  int64_t longest = 0;
  for (const int64_t id : ids)
    for (int64_t k = 0; k <= gallery; ++k) longest = std::max(longest, ds.stored_length(id, k));
  if (longest >= clip) return;
  const double rate = static_cast<double>(ds.manifest().sample_rate);
  log::warn(
      log::strf("--clip-seconds %s is longer than every clip evaluated (the longest is %.2f s): each is "
                "zero-padded to %s s, which changes the embeddings and the scores; pass --clip-seconds %.2f "
                "to score the clips as they are",
                number_text(clip_seconds).c_str(), longest / rate, number_text(clip_seconds).c_str(),
                std::max(0.1, std::floor(100 * longest / rate) / 100)));
}

}  // namespace

nlohmann::json score_json(const RetrievalScore& s) {
  nlohmann::json j = {{"identities", s.identities},
                      {"gallery", s.gallery_size},
                      {"top1", s.top1},
                      {"chance", s.chance},
                      {"eer", s.eer},
                      {"min_dcf", s.min_dcf},
                      {"target_trials", s.target_trials},
                      {"nontarget_trials", s.nontarget_trials},
                      {"top1_all_queries", s.top1_all},
                      {"top1_all_queries_ci95", {s.top1_all_low, s.top1_all_high}},
                      {"top5_all_queries", s.top5_all},
                      {"queries", s.queries}};
  if (!std::isnan(s.eer_asnorm)) j["eer_asnorm"] = s.eer_asnorm, j["min_dcf_asnorm"] = s.min_dcf_asnorm;
  return j;
}

CheckpointEvalReport evaluate_checkpoint(const CheckpointEvalOptions& o) {
  CheckpointEvalReport report;
  report.trained = load_trained_encoder(o.checkpoint);
  const EncoderSpec& spec = report.trained.spec;
  const int64_t clip = static_cast<int64_t>(std::lround(o.clip_seconds * static_cast<double>(spec.sample_rate)));
  ShardDataset ds(o.data, spec.modality == Modality::Audio ? clip : 0);
  const Manifest& m = ds.manifest();
  check_matches(ds, spec, o.data, o.checkpoint);
  std::vector<int64_t> ids = ds.eval_identities();
  if (!o.all_identities && o.validation_identities > 0 &&
      static_cast<int64_t>(ids.size()) >= o.validation_identities + 2)
    ids = split_heldout(ids, o.validation_identities).test;
  if (o.all_identities) {
    ids = ds.train_identities();
    ids.insert(ids.end(), ds.eval_identities().begin(), ds.eval_identities().end());
    std::sort(ids.begin(), ids.end());
  }
  if (ids.size() < 2)
    throw DatasetError(o.data + ": " + std::to_string(ids.size()) + " identities to evaluate; needs 2 or more" +
                       (o.all_identities ? "" : " (pass --all to use every identity, not only the held-out)"));
  for (const int64_t id : ids)
    if (ds.num_samples(id) <= o.gallery_per_identity)
      throw DatasetError("--gallery-per-identity " + std::to_string(o.gallery_per_identity) + ": identity " +
                         m.identities.at(static_cast<size_t>(id)) + " of " + o.data + " has " +
                         std::to_string(ds.num_samples(id)) + " samples (1 reference + the gallery); pass " +
                         "--gallery-per-identity " + std::to_string(ds.num_samples(id) - 1) + " or less");
  // A large set takes a while to read and embed: say what is being done before the first progress line.
  log::info(
      log::strf("eval: reading %zu identities x %lld samples (1 reference + gallery) from %s, then embedding "
                "them %lld per forward pass",
                ids.size(), static_cast<long long>(1 + o.gallery_per_identity), o.data.c_str(),
                static_cast<long long>(o.batch_size)));
  warn_if_all_padded(ds, ids, o.gallery_per_identity, clip, o.clip_seconds);
  EvalSet set = build_eval_set(ds, ids, o.gallery_per_identity);
  if (o.asnorm_cohort > 0) {
    // The cohort: training identities of this dataset, or of another one (an --eval-only set has none).
    std::unique_ptr<ShardDataset> other;
    if (!o.asnorm_cohort_data.empty()) {
      other = std::make_unique<ShardDataset>(o.asnorm_cohort_data, spec.modality == Modality::Audio ? clip : 0);
      check_matches(*other, spec, o.asnorm_cohort_data, o.checkpoint);
    }
    const ShardDataset& cohort = other ? *other : ds;
    const std::string& cohort_name = other ? o.asnorm_cohort_data : o.data;
    if (o.all_identities && !other)
      throw DatasetError("--asnorm-cohort: with --all every identity of " + o.data +
                         " is evaluated; the cohort must be identities that are not (drop --all, or take the "
                         "cohort from another dataset with --asnorm-cohort-data)");
    if (cohort.train_identities().empty())
      throw DatasetError("--asnorm-cohort: " + cohort_name +
                         " has no training identities to form a cohort (give a dataset that has, e.g. the "
                         "checkpoint's training set, with --asnorm-cohort-data)");
    report.asnorm_cohort = std::min<int64_t>(o.asnorm_cohort, static_cast<int64_t>(cohort.train_identities().size()));
    add_asnorm_cohort(set, cohort, report.asnorm_cohort, o.asnorm_top_k);
  }
  report.score = evaluate_retrieval(*report.trained.encoder, set, o.batch_size);
  if (!o.trials.empty()) {
    const TrialList trials = read_trials(o.trials, ds);
    report.training_identity_trials = trials.training_identity_trials;
    report.trials = score_trials(*report.trained.encoder, ds, trials, o.batch_size, set.cohort, o.asnorm_top_k);
  }
  const auto hits = report.score.reference_hit.to(at::kBool).contiguous();
  for (size_t i = 0; i < ids.size(); ++i)
    report.identities.push_back({m.identities.at(ids[i]), hits.data_ptr<bool>()[i]});
  if (!o.json_out.empty()) write_json(o, report);
  return report;
}

}  // namespace imprint
