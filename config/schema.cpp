#include "config/schema.h"

#include <algorithm>
#include <stdexcept>

#include "core/text.h"

namespace imprint {

void Schema::add(const KeySpec& key) {
  for (auto& k : keys_) {
    if (k.path != key.path) continue;
    if (k.type != key.type || k.default_value != key.default_value || k.range.min != key.range.min ||
        k.range.max != key.range.max || k.range.min_open != key.range.min_open ||
        k.range.max_open != key.range.max_open || k.choices != key.choices || k.role != key.role)
      throw std::logic_error("config schema: " + key.path +
                             " is declared twice with different types, defaults, "
                             "ranges or roles");
    if (k.doc.find(key.doc) == std::string::npos) k.doc += " " + key.doc;
    return;
  }
  keys_.push_back(key);
}

void Schema::add(const std::vector<KeySpec>& keys) {
  for (const auto& k : keys) add(k);
}

const KeySpec* Schema::find(const std::string& path) const {
  for (const auto& k : keys_)
    if (k.path == path) return &k;
  return nullptr;
}

bool Schema::is_section(const std::string& path) const {
  const std::string p = path + ".";
  return std::any_of(keys_.begin(), keys_.end(), [&](const KeySpec& k) { return k.path.compare(0, p.size(), p) == 0; });
}

std::string Schema::did_you_mean(const std::string& path) const {
  std::string best;
  size_t best_d = std::string::npos;
  for (const auto& k : keys_) {
    size_t d = edit_distance(path, k.path);
    // A right leaf under the wrong section ("lr" for "optimizer.lr") is also a likely slip.
    const auto dot = k.path.rfind('.');
    if (dot != std::string::npos && k.path.substr(dot + 1) == path) d = std::min<size_t>(d, 1);
    if (d < best_d) best_d = d, best = k.path;
  }
  const size_t limit = std::max<size_t>(2, path.size() / 4);
  return best_d <= limit ? best : "";
}

}  // namespace imprint
