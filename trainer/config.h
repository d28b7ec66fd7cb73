// A resolved, validated configuration: YAML file + --set overrides + schema defaults.
#pragma once
#include <cstdint>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace imprint {

// One message naming the source (file or --set) and the key path, and what was expected.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Config {
 public:
  // Schema defaults only.
  Config();
  // Reads `file` (YAML), applies `overrides` ("key.path=value", in order) and validates every key
  // before returning. Throws ConfigError.
  static Config load(const std::string& file, const std::vector<std::string>& overrides = {});
  // Applies overrides to an in-memory YAML text; `source` names it in messages.
  static Config parse(const std::string& yaml_text, const std::string& source,
                      const std::vector<std::string>& overrides = {});

  int64_t get_int(const std::string& path) const;
  double get_float(const std::string& path) const;
  bool get_bool(const std::string& path) const;
  const std::string& get_string(const std::string& path) const;

  // Values as canonical scalar text, every key of the schema.
  const std::map<std::string, std::string>& values() const { return values_; }
  // The resolved configuration as nested YAML; `prefix` keeps only keys under it.
  std::string to_yaml(const std::string& prefix = "") const;

  void set(const std::string& path, const std::string& value, const std::string& source);
  // Whether the config file or an override set `path` (rather than the schema default).
  bool given(const std::string& path) const { return given_.count(path) > 0; }

 private:
  std::map<std::string, std::string> values_;
  std::set<std::string> given_;
};

// A key whose value differs between two configs (a resumed run's saved config.yaml and the one given now).
struct ConfigChange {
  std::string key, before, after;
  bool changes_run;  // false for keys that only change how the run is carried out (threads, logging, timeouts)
};
std::vector<ConfigChange> diff_configs(const Config& before, const Config& after);

// Rules between keys (batch vs identities, clip vs FFT size, ...); throws ConfigError naming `source`.
void check_config_rules(const Config& config, const std::string& source);

// Closest schema key to `path` when it is near enough to be a likely typo, else "".
std::string did_you_mean(const std::string& path);

}  // namespace imprint
