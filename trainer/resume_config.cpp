#include "trainer/resume_config.h"

#include <unistd.h>

#include <filesystem>

#include "collectives/bootstrap.h"
#include "core/log.h"
#include "trainer/job_config.h"

namespace imprint {

ResolvedConfig resolve_train_config(const ConfigRequest& a) {
  const std::string saved_path = a.run_dir + "/config.yaml";
  const bool have_saved = a.resume && std::filesystem::is_regular_file(saved_path);
  if (a.config_file.empty() && !have_saved) {
    // With several ranks, each reads the run directory: on another node than rank 0's, a missing file most
    // often means the directory is on that node's own disk.
    const Bootstrap boot = Bootstrap::from_environment();
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    const std::string where =
        boot.world_size > 1 ? " (seen from rank " + std::to_string(boot.rank) + " on host " + host +
                                  ": every rank reads the run directory, which must be on a filesystem every node "
                                  "sees)"
                            : "";
    throw ConfigError("--resume without --config: " + saved_path + " does not exist" + where + "; pass --config");
  }
  std::vector<std::string> sets = a.sets;
  if (a.config_file.empty()) sets.insert(sets.begin(), "train.stop_at=0");
  const std::string file = a.config_file.empty() ? saved_path : a.config_file;
  ResolvedConfig r{load_job_values(file, sets), sets.empty() ? file : file + " (with --set overrides)", true};
  if (!have_saved) return r;
  const auto changes = diff_configs(load_job_values(saved_path), r.values);
  std::string refused;
  for (const auto& c : changes) {
    const std::string line = c.key + ": " + c.before + " -> " + c.after;
    if (c.changes_run && !a.allow_config_change) {
      refused += "\n  " + line;
    } else {
      log::warn("config change on resume (" +
                std::string(c.changes_run ? "allowed by --allow-config-change" : "does not change what is trained") +
                "): " + line);
    }
  }
  if (!refused.empty())
    throw ConfigError(saved_path + ": resuming with a config that changes the run:" + refused +
                      "\nresume with `--run-dir " + a.run_dir +
                      " --resume` alone to keep the saved config, or pass "
                      "--allow-config-change to continue with the new values");
  r.write_config = !changes.empty();
  return r;
}

}  // namespace imprint
