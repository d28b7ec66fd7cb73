#include <stdexcept>

#include "trainer/objectives/aam_softmax.h"
#include "trainer/objectives/denoise.h"
#include "trainer/objectives/ge2e.h"
#include "trainer/objectives/infonce.h"
#include "trainer/objectives/objective.h"
#include "trainer/objectives/supcon.h"

namespace imprint {

const std::vector<ObjectiveInfo>& objective_registry() {
  static const std::vector<ObjectiveInfo> registry = {
      {"infonce", "symmetric InfoNCE of reference vs target pooled embeddings, global-batch negatives",
       {"objective.infonce.learn_temperature"},
       [](const Config& c) {
         return std::make_shared<InfoNCE>(c.get_float("objective.infonce.temperature"),
                                          c.get_bool("objective.infonce.learn_temperature"));
       }},
      {"denoise", "a conditional diffusion generator predicts the target's noise from the reference's tokens",
       {"objective.denoise.train", "objective.denoise.width", "objective.denoise.heads",
        "objective.denoise.content_classes", "objective.denoise.generator_from", "objective.denoise.schedule",
        "objective.denoise.timesteps", "objective.denoise.prediction"},
       [](const Config& c) { return std::make_shared<DenoiseObjective>(denoise_options(c)); }},
      {"aam", "additive angular margin softmax (ArcFace) over the training identities' class centres",
       {"objective.aam.classes", "objective.aam.sub_centers", "objective.aam.shard_classifier"},
       [](const Config& c) { return std::make_shared<AamSoftmax>(aam_options(c)); }},
      {"supcon", "supervised contrastive loss over every view of a P x K batch, global-batch negatives",
       {},
       [](const Config& c) { return std::make_shared<SupCon>(c.get_float("objective.supcon.temperature")); }},
      {"ge2e", "generalised end-to-end loss: every view against every identity's centroid of the global batch",
       {"objective.ge2e.form"},
       [](const Config& c) {
         return std::make_shared<Ge2e>(c.get_string("objective.ge2e.form"), c.get_float("objective.ge2e.init_scale"),
                                       c.get_float("objective.ge2e.init_bias"));
       }},
  };
  return registry;
}

CombinedObjective::CombinedObjective(const Config& config) {
  for (const auto& info : objective_registry()) {
    const double weight = config.get_float("objective." + info.name + ".weight");
    if (weight <= 0) continue;
    names_.push_back(info.name);
    weights_.push_back(weight);
    terms_.push_back(register_module(info.name, info.make(config)));
  }
  if (terms_.empty()) {
    std::string keys;
    for (const auto& info : objective_registry()) keys += (keys.empty() ? "" : ", ") + ("objective." + info.name + ".weight");
    throw ConfigError("objective: every objective's weight is 0; give at least one a weight above 0 (" + keys + ")");
  }
}

std::shared_ptr<Objective> CombinedObjective::find(const std::string& name) const {
  for (size_t i = 0; i < names_.size(); ++i)
    if (names_[i] == name) return terms_[i];
  return nullptr;
}

bool CombinedObjective::reads_reference() const {
  for (const auto& t : terms_)
    if (t->reads_reference()) return true;
  return false;
}

bool CombinedObjective::reads_target() const {
  for (const auto& t : terms_)
    if (t->reads_target()) return true;
  return false;
}

bool CombinedObjective::reads_extra() const {
  for (const auto& t : terms_)
    if (t->reads_extra()) return true;
  return false;
}

void CombinedObjective::place(int rank, int world, const at::Device& device) {
  for (const auto& t : terms_) t->place(rank, world, device);
}

bool CombinedObjective::has_shards() const {
  for (const auto& t : terms_)
    if (t->has_shards()) return true;
  return false;
}

void CombinedObjective::step_shards(double lr) {
  for (const auto& t : terms_) t->step_shards(lr);
}

std::map<std::string, at::Tensor> CombinedObjective::gather_shards(Communicator& comm) {
  std::map<std::string, at::Tensor> all;
  for (size_t i = 0; i < terms_.size(); ++i)
    for (auto& [key, value] : terms_[i]->gather_shards(comm)) all[names_[i] + "." + key] = value;
  return all;
}

void CombinedObjective::load_shards(const Objective::ShardReader& read) {
  for (size_t i = 0; i < terms_.size(); ++i) {
    if (!terms_[i]->has_shards()) continue;
    const std::string prefix = names_[i] + ".";
    terms_[i]->load_shards([&](const std::string& key) { return read(prefix + key); });
  }
}

torch::Tensor EncodedBatch::pooled_views() const {
  std::vector<torch::Tensor> views{reference.pooled.unsqueeze(1), target.pooled.unsqueeze(1)};
  if (extra.pooled.defined()) {
    const int64_t rows = reference.pooled.size(0);
    views.push_back(extra.pooled.view({rows, -1, extra.pooled.size(-1)}));
  }
  return torch::cat(views, 1);
}

std::map<std::string, std::string> CombinedObjective::signature() const {
  std::map<std::string, std::string> all;
  for (const auto& t : terms_) all.merge(t->signature());
  return all;
}

ObjectiveOutput CombinedObjective::compute(const TrainBatch& batch, const EncodedBatch& encoded, Communicator& comm) {
  ObjectiveOutput total;
  for (size_t i = 0; i < terms_.size(); ++i) {
    ObjectiveOutput term = terms_[i]->compute(batch, encoded, comm);
    total.loss = i == 0 ? weights_[i] * term.loss : total.loss + weights_[i] * term.loss;
    if (terms_.size() > 1) total.logged.emplace_back("loss_" + names_[i], term.loss.detach());
    for (auto& kv : term.logged) total.logged.push_back(std::move(kv));
  }
  return total;
}

}  // namespace imprint
