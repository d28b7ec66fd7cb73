// `imprint synth`: the built-in synthetic identities written as a shard dataset. Training identities come
// first, then the held-out ones (listed as holdout in the manifest): the same split as training on the
// generator directly.
#pragma once
#include <functional>
#include <string>

#include "data/shard_format.h"
#include "data/synthetic_dataset.h"

namespace imprint {

// progress(identities written, identities in all) is called after each identity.
Manifest export_synthetic(const SyntheticSpec& spec, const std::string& dir, int64_t shard_bytes,
                          const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace imprint
