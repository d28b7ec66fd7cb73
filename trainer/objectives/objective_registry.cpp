// One line per objective, in the order their losses are summed and their parameters registered.
#include "trainer/objectives/objective_registry.h"

#include <algorithm>

#include "config/config_error.h"
#include "trainer/objectives/aam_softmax.h"
#include "trainer/objectives/autoencoder.h"
#include "trainer/objectives/denoise.h"
#include "trainer/objectives/ge2e.h"
#include "trainer/objectives/infonce.h"
#include "trainer/objectives/supcon.h"
#include "trainer/objectives/triplet.h"

namespace imprint {

const std::vector<ObjectiveInfo>& objective_registry() {
  static const std::vector<ObjectiveInfo> registry = {
      infonce_objective(), denoise_objective(), aam_objective(),         supcon_objective(),
      ge2e_objective(),    triplet_objective(), autoencoder_objective(),
  };
  return registry;
}

std::string weight_key(const ObjectiveInfo& info) { return "objective." + info.name + ".weight"; }

std::vector<KeySpec> objective_keys() {
  std::vector<KeySpec> keys;
  for (const auto& info : objective_registry()) {
    KeySpec weight;
    weight.path = weight_key(info);
    weight.type = KeyType::Float;
    weight.default_value = number_text(info.default_weight);
    weight.range = Range::closed(0, 1e6);
    weight.doc = "Weight of " + info.summary +
                 " in the training loss; 0 turns it off. The loss is the weighted sum "
                 "of every objective with a weight above 0.";
    keys.push_back(weight);
    keys.insert(keys.end(), info.keys.begin(), info.keys.end());
  }
  return keys;
}

std::vector<ObjectiveTerm> enabled_objectives(const ConfigValues& values) {
  std::vector<ObjectiveTerm> terms;
  std::string keys;
  for (const auto& info : objective_registry()) {
    const double weight = std::stod(values.text(weight_key(info)));
    if (weight > 0) terms.push_back({&info, weight});
    keys += (keys.empty() ? "" : ", ") + weight_key(info);
  }
  if (terms.empty())
    throw ConfigError("objective: every objective's weight is 0; give at least one a weight above 0 (" + keys + ")");
  return terms;
}

void check_objectives(const std::vector<ObjectiveTerm>& terms, const ObjectiveContext& context) {
  for (const auto& t : terms)
    if (t.info->check) t.info->check(context);
  for (const auto& info : objective_registry()) {
    if (std::any_of(terms.begin(), terms.end(), [&](const ObjectiveTerm& t) { return t.info == &info; })) continue;
    const std::string own = "objective." + info.name + ".";
    for (const auto& k : info.keys)
      if (k.path.compare(0, own.size(), own) != 0 &&
          context.values.text(k.path) != canonical_value(k, k.default_value, "schema"))
        throw ConfigError(k.path + ": is read by the " + info.name + " objective, which is off (" + weight_key(info) +
                          " is 0)");
  }
}

void check_objective_files(const std::vector<ObjectiveTerm>& terms, const ObjectiveContext& context) {
  for (const auto& t : terms)
    if (t.info->check_files) t.info->check_files(context);
}

std::map<std::string, std::string> objectives_signature(const std::vector<ObjectiveTerm>& terms,
                                                        const ConfigValues& values) {
  std::map<std::string, std::string> sig;
  std::string names;
  for (const auto& t : terms) {
    names += (names.empty() ? "" : ",") + t.info->name;
    for (const auto& k : t.info->keys)
      if (k.shapes_model()) sig[k.path] = values.text(k.path);
  }
  sig["objectives"] = names;
  return sig;
}

}  // namespace imprint
