// Which identities a new dataset holds out, from a list of names or from groups (e.g. font face -> family,
// voice -> engine): shared by `imprint pack` (identity folder names) and `imprint synth` (synthetic-NNNNNN).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace imprint {

struct HoldoutChoice {
  // A file naming the held-out identities, one per line ('#' comments).
  std::string list;
  // Or a TSV of "<identity>\t<group>" lines naming every identity: whole groups are held out, group_count of
  // them or group_fraction of them (rounded), the ones with the smallest FNV-1a hash of the group name (so
  // adding groups later moves no other group across the split).
  std::string groups;
  int64_t group_count = 0;
  double group_fraction = 0;
};

// The held-out names (sorted, unique), or none when neither a list nor groups is given. `names` are every
// identity of the dataset; messages call one a `kind` (e.g. "identity folder") of `source` (e.g. ROOT).
// Throws DatasetError naming FILE:LINE for a name that is not one of them, a duplicate, an identity without
// a group, a split that leaves nothing to train on or evaluate, or fewer than 2 held-out identities.
std::vector<std::string> chosen_holdout(const HoldoutChoice& choice, std::vector<std::string> names,
                                        const std::string& kind, const std::string& source);

}  // namespace imprint
