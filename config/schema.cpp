#include "config/schema.h"

#include <algorithm>
#include <map>
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

namespace {

std::string leaf_of(const std::string& path) {
  const auto dot = path.rfind('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

// The names other training tools (PyTorch Lightning, Hugging Face Trainer, torchtitan) give keys imprint has.
std::string imprint_leaf(const std::string& leaf) {
  static const std::map<std::string, std::string> other_names = {{"learning_rate", "lr"},
                                                                 {"max_steps", "steps"},
                                                                 {"num_steps", "steps"},
                                                                 {"train_steps", "steps"},
                                                                 {"num_workers", "workers"},
                                                                 {"max_grad_norm", "grad_clip"},
                                                                 {"clip_grad_norm", "grad_clip"},
                                                                 {"gradient_clipping", "grad_clip"},
                                                                 {"warmup", "warmup_steps"},
                                                                 {"lr_warmup_steps", "warmup_steps"},
                                                                 {"global_batch_size", "batch_size"},
                                                                 {"embedding_dim", "embed_dim"}};
  const auto it = other_names.find(leaf);
  return it == other_names.end() ? leaf : it->second;
}

}  // namespace

std::string Schema::did_you_mean(const std::string& path) const {
  std::string best;
  size_t best_d = std::string::npos;
  const std::string leaf = imprint_leaf(leaf_of(path));
  for (const auto& k : keys_) {
    size_t d = edit_distance(path, k.path);
    // A right leaf under the wrong section ("lr" or "train.lr" for "optimizer.lr"), or under another tool's
    // name ("optimizer.learning_rate"), is also a likely slip.
    if (leaf_of(k.path) == leaf) d = std::min<size_t>(d, 1);
    if (d < best_d) best_d = d, best = k.path;
  }
  const size_t limit = std::max<size_t>(2, path.size() / 4);
  return best_d <= limit ? best : "";
}

}  // namespace imprint
