// Which config a `train` invocation runs with. A resumed run compares the given config with the config.yaml
// it saved: a change to a key that shapes the run (steps, schedule, batch, model, data, ...) is refused
// unless allowed, so a forgotten --set cannot silently turn a 60-step run into a 300-step one; changes to
// operational keys (threads, logging, timeouts: KeyRole::Operational) are logged and accepted. Without
// --config, a resume uses the saved one (with train.stop_at reset: it belongs to one invocation, not the run).
#pragma once
#include <string>
#include <vector>

#include "config/config_values.h"

namespace imprint {

struct ConfigRequest {
  std::string config_file;        // "" with --resume: the run directory's config.yaml
  std::vector<std::string> sets;  // --set overrides
  std::string run_dir;
  bool resume = false, allow_config_change = false;
};

struct ResolvedConfig {
  ConfigValues values;
  std::string source;        // the file named in messages
  bool write_config = true;  // whether rank 0 (re)writes run_dir/config.yaml
};

// Throws ConfigError naming the saved config and every refused change.
ResolvedConfig resolve_train_config(const ConfigRequest& request);

}  // namespace imprint
