// `imprint synth`: the built-in synthetic identities written as a shard dataset, named synthetic-NNNNNN.
// By default the training identities come first, then the held-out ones (listed as holdout in the
// manifest): the same split as training on the generator directly; `holdout` may name other ones.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "data/shard_format.h"
#include "data/synthetic_dataset.h"

namespace imprint {

std::string synthetic_identity_name(int64_t identity);

// progress(identities written, identities in all) is called after each identity. `holdout`: the held-out
// identity ids when not the last spec.eval_identities (same count; e.g. whole groups, imprint synth
// --holdout-groups).
Manifest export_synthetic(const SyntheticSpec& spec, const std::string& dir, int64_t shard_bytes,
                          const std::function<void(int64_t, int64_t)>& progress = {},
                          std::vector<int64_t> holdout = {});

}  // namespace imprint
