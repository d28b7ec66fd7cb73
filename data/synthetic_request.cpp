#include "data/synthetic_request.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "data/synthetic_export.h"

namespace imprint {

namespace {

std::vector<int64_t> chosen_identities(const SynthRequest& a) {
  const HoldoutChoice& c = a.holdout_choice;
  if (c.list.empty() && c.groups.empty() && c.group_count <= 0 && c.group_fraction <= 0) return {};
  if (a.holdout_given)
    throw std::invalid_argument(
        "--holdout-identities, --holdout-list, --holdout-groups: give one of them, not several");
  std::vector<std::string> names;
  for (int64_t id = 0; id < a.identities; ++id) names.push_back(synthetic_identity_name(id));
  std::vector<int64_t> chosen;
  for (const auto& n :
       chosen_holdout(c, names, "identity", "the synthetic dataset (" + names.front() + " to " + names.back() + ")"))
    chosen.push_back(std::stoll(n.substr(n.find('-') + 1)));
  if (static_cast<int64_t>(chosen.size()) >= a.identities)
    throw std::invalid_argument("--holdout-list: holds out all " + std::to_string(a.identities) + " identities");
  return chosen;
}

}  // namespace

SynthPlan plan_synthetic(const SynthRequest& a) {
  if (a.identities < 3)
    throw std::invalid_argument("--identities " + std::to_string(a.identities) +
                                ": expected at least 3 (at least 1 to train on and 2 held out)");
  SynthPlan plan;
  plan.held_out = chosen_identities(a);
  // Not given: the default share (100 of the default 1100), so a small --identities needs no second option.
  const int64_t holdout =
      a.holdout_given ? a.holdout : std::clamp<int64_t>(std::llround(a.identities / 11.0), 2, a.identities - 1);
  if (plan.held_out.empty() && (holdout < 2 || holdout >= a.identities))
    throw std::invalid_argument("--holdout-identities " + std::to_string(holdout) +
                                ": expected 2 to --identities - 1 (" + std::to_string(a.identities - 1) + ")");
  if (a.per_identity < 2) throw std::invalid_argument("--samples-per-identity: expected at least 2");
  SyntheticSpec& spec = plan.spec;
  spec.modality = parse_modality(a.modality);
  if (a.content_classes < 0 || (a.content_classes > 0 && spec.modality != Modality::Image))
    throw std::invalid_argument("--content-classes " + std::to_string(a.content_classes) +
                                ": expected 0, or a positive count for image datasets");
  spec.data_seed = static_cast<uint64_t>(a.seed);
  spec.eval_identities = plan.held_out.empty() ? holdout : static_cast<int64_t>(plan.held_out.size());
  spec.train_identities = a.identities - spec.eval_identities;
  spec.samples_per_identity = a.per_identity;
  spec.image_size = static_cast<int>(a.image_size);
  spec.sample_rate = static_cast<int>(a.sample_rate);
  spec.clip_samples = static_cast<int>(std::lround(a.clip_seconds * static_cast<double>(a.sample_rate)));
  spec.content_classes = static_cast<int>(a.content_classes);
  return plan;
}

}  // namespace imprint
