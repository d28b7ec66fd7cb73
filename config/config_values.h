// Every key of a schema as canonical text: the schema's defaults, overlaid with a YAML file and `--set`
// overrides, each value checked against its key's type and range where it enters. Typed sections
// (config/section.h) read from here; nothing else should parse a value.
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "config/config_error.h"
#include "config/schema.h"

namespace imprint {

class ConfigValues {
 public:
  // The schema's defaults. `schema` must outlive this object.
  explicit ConfigValues(const Schema& schema);
  // Reads `file` (YAML), then applies `overrides` ("key.path=value", in order). Throws ConfigError naming the
  // file (or the --set) and the key.
  static ConfigValues load(const Schema& schema, const std::string& file,
                           const std::vector<std::string>& overrides = {});
  // The same from YAML text; `source` names it in messages.
  static ConfigValues parse(const Schema& schema, const std::string& yaml_text, const std::string& source,
                            const std::vector<std::string>& overrides = {});

  // The canonical text of `path`. Throws std::logic_error naming it when the schema has no such key: a
  // component reading a key it never declared is a programming error, found the first time it runs.
  const std::string& text(const std::string& path) const;
  // Sets `path` from `value` (validated; ConfigError naming `source`) and marks it as given.
  void set(const std::string& path, const std::string& value, const std::string& source);
  // Whether the file or an override set `path` (rather than the schema default).
  bool given(const std::string& path) const { return given_.count(path) > 0; }

  const std::map<std::string, std::string>& values() const { return values_; }
  const Schema& schema() const { return *schema_; }
  // The values as nested YAML; `prefix` keeps only keys under it. Itself a valid config.
  std::string to_yaml(const std::string& prefix = "") const;

 private:
  const Schema* schema_;
  std::map<std::string, std::string> values_;
  std::set<std::string> given_;
};

// A key whose value differs between two configs (a resumed run's saved config.yaml and the one given now).
struct ConfigChange {
  std::string key, before, after;
  bool changes_run;  // false for KeyRole::Operational keys (threads, logging, timeouts)
};
std::vector<ConfigChange> diff_configs(const ConfigValues& before, const ConfigValues& after);

}  // namespace imprint
