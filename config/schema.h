// The keys a command accepts: the union of what each component declares (config/section.h), assembled once
// by whoever owns the command (trainer/job_config.h for `imprint train`). Declaring a path twice is allowed
// when both declarations agree on type, default, range, choices and role (two encoders reading
// `model.depth`); their docs are then joined. Anything else is a programming error, reported at start-up.
#pragma once
#include <string>
#include <vector>

#include "config/key_spec.h"

namespace imprint {

class Schema {
 public:
  Schema() = default;
  explicit Schema(const std::vector<KeySpec>& keys) { add(keys); }
  // Throws std::logic_error naming the key when it contradicts an earlier declaration of the same path.
  void add(const KeySpec& key);
  void add(const std::vector<KeySpec>& keys);

  const std::vector<KeySpec>& keys() const { return keys_; }  // in declaration order
  const KeySpec* find(const std::string& path) const;
  // `path` is a prefix of some key ("optimizer" for "optimizer.lr").
  bool is_section(const std::string& path) const;
  // Closest key to `path` when it is near enough to be a likely typo (or its leaf sits under another
  // section: "lr" for "optimizer.lr"), else "".
  std::string did_you_mean(const std::string& path) const;

 private:
  std::vector<KeySpec> keys_;
};

}  // namespace imprint
