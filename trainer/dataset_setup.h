// The dataset a training run reads: what it is before its samples are read (DatasetFacts, from the manifest or
// the synthetic spec), the config values it fixes when the config leaves them open, and opening it.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "collectives/communicator.h"
#include "config/config_values.h"
#include "data/dataset_facts.h"
#include "data/identity_dataset.h"
#include "data/synthetic_dataset.h"
#include "trainer/job_config.h"

namespace imprint {

SyntheticSpec synthetic_spec(const JobConfig& job);

// With data.source: shards and a dataset at data.path, takes data.image_size / data.sample_rate from its
// manifest when the config does not set them (a value the config sets must match; open_dataset checks it),
// and lets each objective take what it leaves to the dataset (objective.aam.classes: 0). Returns what it took
// ("data.image_size: 32 from DIR/manifest.json"), empty when nothing.
std::vector<std::string> adopt_dataset_shape(ConfigValues& values);

// The dataset the config names: the generator itself, or shards (written from the generator first when
// data.create_if_missing asks for it and the folder holds none; rank 0 writes, the others wait). Checks it
// against the config (modality, size, rate, at least 2 held-out identities). Throws ConfigError / DatasetError.
std::unique_ptr<IdentityDataset> open_dataset(const JobConfig& job, Communicator& comm);
// The facts of an opened dataset; `where` names it in messages.
DatasetFacts facts_of(const IdentityDataset& dataset, const std::string& where);
std::string dataset_name(const JobConfig& job);  // "the dataset at PATH" / "the synthetic dataset"

}  // namespace imprint
