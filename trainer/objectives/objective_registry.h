// The objectives imprint can train, one entry each. An entry owns every fact about its objective: its name,
// what it does, its keys (with defaults, ranges, docs and which shape its parameters), its factory, its rules,
// what it takes from the dataset, and the smallest run of it. The schema (`objective.<name>.weight` and its own
// keys), the config reference, the checkpoint signature and the tests that every objective must pass
// (N-rank parity, a checkpoint round trip of all its keys) are made from these entries.
//
// Adding an objective: its file pair (an Objective subclass, and a function returning its ObjectiveInfo with
// its keys as a Section in the same file) and one line in objective_registry.cpp. Nothing else names it.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config_values.h"
#include "config/key_spec.h"
#include "data/dataset_facts.h"
#include "models/encoder.h"
#include "trainer/objectives/objective.h"
#include "trainer/optim/optimizer.h"

namespace imprint {

// What a factory or a rule may read beyond the objective's own keys.
struct ObjectiveContext {
  const ConfigValues& values;        // its own keys are read from here, by the Section that declares them
  const EncoderSpec& encoder;        // the encoder it trains (token width, modality, image size)
  uint64_t seed = 0;                 // the run's seed: per-row randomness is keyed by it
  std::vector<std::string> enabled;  // every objective the config turns on (rules between objectives)
  int64_t gallery_per_identity = 4;  // eval.gallery_per_identity (fidelity scores real samples leave-one-out)
  OptimizerOptions optimizer;        // for state an objective optimizes itself (the sharded classifier)
};

struct ObjectiveInfo {
  std::string name, summary;
  double default_weight = 0;  // of objective.<name>.weight, which the registry adds to the schema
  std::vector<KeySpec> keys;  // its own keys; those with a Shaping role enter the checkpoint's signature
  // Whether it reads every view of a P x K batch (its views_read(K) is K): with train.samples_per_identity > 2
  // some objective that is on must, which the config rules check before anything is built.
  bool reads_every_view = false;
  std::function<std::shared_ptr<Objective>(const ObjectiveContext&)> make;
  // Rules between its keys and the rest of the config (may be empty). Throws ConfigError naming the key.
  std::function<void(const ObjectiveContext&)> check;
  // That the files its keys name can be opened (may be empty): run only by commands that read them.
  std::function<void(const ObjectiveContext&)> check_files;
  // Takes from the dataset what the config leaves to it (aam: its class count; may be empty). Returns
  // "key: value from WHERE" for each value taken.
  std::function<std::vector<std::string>(ConfigValues&, const DatasetFacts&)> adopt;
  // --set lines the smallest run of it alone needs beyond its weight (tests train every objective with them).
  std::vector<std::string> example;
};

const std::vector<ObjectiveInfo>& objective_registry();
// The registered objectives that read every view of a P x K batch, as "a, b or c" (for messages and docs;
// `prefix` goes before each name, e.g. "objective.").
std::string every_view_objectives(const std::string& prefix = "");
std::string weight_key(const ObjectiveInfo& info);  // "objective.<name>.weight"
// Every entry's weight key and own keys, in registry order: the objective part of a schema.
std::vector<KeySpec> objective_keys();

// An objective the config turns on (its weight above 0), in registry order.
struct ObjectiveTerm {
  const ObjectiveInfo* info = nullptr;
  double weight = 0;
};
// The objectives `values` turns on. Throws ConfigError when none is.
std::vector<ObjectiveTerm> enabled_objectives(const ConfigValues& values);
// Runs the rules of every objective `terms` holds, and refuses a key that an objective which is off reads
// outside its own section (eval.judge without the denoise objective) set to anything but its default.
void check_objectives(const std::vector<ObjectiveTerm>& terms, const ObjectiveContext& context);
// Runs every objective's check_files.
void check_objective_files(const std::vector<ObjectiveTerm>& terms, const ObjectiveContext& context);
// The checkpoint signature of the objectives: their names ("objectives") and their Shaping keys' values.
std::map<std::string, std::string> objectives_signature(const std::vector<ObjectiveTerm>& terms,
                                                        const ConfigValues& values);

}  // namespace imprint
