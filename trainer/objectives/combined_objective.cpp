#include "trainer/objectives/combined_objective.h"

#include <algorithm>

namespace imprint {

CombinedObjective::CombinedObjective(const std::vector<ObjectiveTerm>& terms, const ObjectiveContext& context) {
  for (const auto& t : terms) {
    names_.push_back(t.info->name);
    weights_.push_back(t.weight);
    terms_.push_back(register_module(t.info->name, t.info->make(context)));
  }
}

int64_t CombinedObjective::views_read(int64_t k) const {
  int64_t n = 0;
  for (const auto& t : terms_) n = std::max(n, t->views_read(k));
  return n;
}

bool CombinedObjective::reads_pooled(int64_t k) const {
  for (const auto& t : terms_)
    if (t->views_read(k) > 0 && t->reads_pooled()) return true;
  return false;
}

std::vector<std::string> CombinedObjective::readers(int64_t k) const {
  std::vector<std::string> names;
  for (size_t i = 0; i < terms_.size(); ++i)
    if (terms_[i]->views_read(k) > 0) names.push_back(names_[i]);
  return names;
}

bool CombinedObjective::augments_targets() const {
  return std::all_of(terms_.begin(), terms_.end(), [](const auto& t) { return t->augments_targets(); });
}

void CombinedObjective::check_dataset(const DatasetFacts& facts) const {
  for (const auto& t : terms_) t->check_dataset(facts);
}

std::vector<std::unique_ptr<ObjectiveEvaluation>> CombinedObjective::evaluations(const EvaluationContext& context) {
  std::vector<std::unique_ptr<ObjectiveEvaluation>> all;
  for (const auto& t : terms_)
    if (auto e = t->evaluation(context)) all.push_back(std::move(e));
  return all;
}

std::map<std::string, std::string> CombinedObjective::signature() const {
  std::map<std::string, std::string> all;
  for (const auto& t : terms_) all.merge(t->signature());
  return all;
}

void CombinedObjective::place(int rank, int world, const at::Device& device) {
  for (const auto& t : terms_) t->place(rank, world, device);
}

bool CombinedObjective::has_shards() const {
  return std::any_of(terms_.begin(), terms_.end(), [](const auto& t) { return t->has_shards(); });
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

ObjectiveOutput CombinedObjective::compute(const TrainBatch& batch, const EncodedBatch& encoded, Communicator& comm) {
  ObjectiveOutput total;
  for (size_t i = 0; i < terms_.size(); ++i) {
    ObjectiveOutput term = terms_[i]->compute(batch, encoded, comm);
    const at::Tensor weighted = weights_[i] * term.loss;
    total.loss = i == 0 ? weighted : total.loss + weighted;
    total.terms.emplace_back(names_[i], weighted);
    if (terms_.size() > 1) {
      total.logged.emplace_back("loss_" + names_[i], term.loss.detach());
      total.shown.push_back("loss_" + names_[i]);
    }
    for (auto& kv : term.logged) total.logged.push_back(std::move(kv));
    for (auto& name : term.shown) total.shown.push_back(std::move(name));
  }
  return total;
}

}  // namespace imprint
