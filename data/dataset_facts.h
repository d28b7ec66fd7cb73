// What components need to know about a dataset before (or without) reading its samples: the modality, sizes,
// how many identities and content labels it has. Read from a shard dataset's manifest, or from the synthetic
// generator's spec. Objectives check these against their own keys (trainer/objectives/objective.h).
#pragma once
#include <cstdint>
#include <string>

#include "core/modality.h"

namespace imprint {

struct DatasetFacts {
  std::string where;  // "the dataset at PATH" / "the synthetic dataset", for messages
  Modality modality = Modality::Image;
  int64_t identities = 0;      // identity indices run 0 .. identities-1 (held-out ones included)
  int64_t content_labels = 0;  // 0: the dataset has none
  int64_t image_size = 0, sample_rate = 0;
};

}  // namespace imprint
