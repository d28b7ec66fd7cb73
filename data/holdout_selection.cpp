#include "data/holdout_selection.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>

#include "core/checksum.h"
#include "data/shard_format.h"

namespace imprint {
namespace {

std::string trimmed(std::string line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

// The identities of the held-out groups; `names` sorted.
std::vector<std::string> group_holdout(const HoldoutChoice& o, const std::vector<std::string>& names,
                                       const std::string& kind, const std::string& source) {
  std::ifstream in(o.groups);
  if (!in) throw DatasetError(o.groups + ": --holdout-groups: cannot open");
  std::map<std::string, std::string> group_of;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    line = trimmed(line);
    if (line.empty() || line[0] == '#') continue;
    const auto tab = line.find('\t');
    if (tab == std::string::npos || tab == 0 || tab + 1 == line.size())
      throw DatasetError(o.groups + ":" + std::to_string(n) + ": expected <" + kind + "><TAB><group>, got '" + line +
                         "'");
    const std::string id = line.substr(0, tab), group = line.substr(tab + 1);
    if (!std::binary_search(names.begin(), names.end(), id))
      throw DatasetError(o.groups + ":" + std::to_string(n) + ": '" + id + "' is not an " + kind + " of " + source);
    if (!group_of.emplace(id, group).second)
      throw DatasetError(o.groups + ":" + std::to_string(n) + ": '" + id + "' is listed twice");
  }
  for (const auto& f : names)
    if (!group_of.count(f))
      throw DatasetError(o.groups + ": " + kind + " '" + f + "' has no group (every identity needs one)");
  std::map<std::string, std::vector<std::string>> members;
  for (const auto& [id, g] : group_of) members[g].push_back(id);
  const auto groups = static_cast<int64_t>(members.size());
  const int64_t want = o.group_count > 0
                           ? o.group_count
                           : static_cast<int64_t>(std::llround(o.group_fraction * static_cast<double>(groups)));
  if (want < 1 || want >= groups)
    throw DatasetError(o.groups + ": holding out " + std::to_string(want) + " of its " + std::to_string(groups) +
                       " groups leaves " + (want < 1 ? "nothing to evaluate" : "nothing to train on") +
                       " (--holdout-group-count N or --holdout-group-fraction F)");
  std::vector<std::pair<uint64_t, std::string>> order;
  for (const auto& kv : members) order.emplace_back(fnv1a64_bytes(kv.first.data(), kv.first.size()), kv.first);
  std::sort(order.begin(), order.end());
  std::vector<std::string> held;
  for (int64_t k = 0; k < want; ++k)
    for (const auto& id : members[order[k].second]) held.push_back(id);
  return held;
}

}  // namespace

std::vector<std::string> chosen_holdout(const HoldoutChoice& o, std::vector<std::string> names, const std::string& kind,
                                        const std::string& source) {
  if (!o.list.empty() && !o.groups.empty())
    throw DatasetError("--holdout-list, --holdout-groups: give one of them, not both");
  if ((o.group_count > 0 || o.group_fraction > 0) && o.groups.empty())
    throw DatasetError("--holdout-group-count / --holdout-group-fraction: need --holdout-groups FILE");
  if (o.list.empty() && o.groups.empty()) return {};
  std::sort(names.begin(), names.end());  // plain order for binary_search
  std::vector<std::string> held;
  const std::string& file = o.list.empty() ? o.groups : o.list;
  if (!o.groups.empty()) {
    held = group_holdout(o, names, kind, source);
  } else {
    std::ifstream in(o.list);
    if (!in) throw DatasetError(o.list + ": --holdout-list: cannot open");
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      line = trimmed(line);
      if (line.empty() || line[0] == '#') continue;
      if (!std::binary_search(names.begin(), names.end(), line))
        throw DatasetError(o.list + ":" + std::to_string(n) + ": '" + line + "' is not an " + kind + " of " + source);
      held.push_back(line);
    }
  }
  if (held.size() < 2)
    throw DatasetError(file + ": names " + std::to_string(held.size()) + " identities; evaluation needs at least 2");
  std::sort(held.begin(), held.end());
  held.erase(std::unique(held.begin(), held.end()), held.end());
  return held;
}

}  // namespace imprint
