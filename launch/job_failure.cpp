#include "launch/job_failure.h"

#include <cstdlib>
#include <string>

#include "collectives/bootstrap.h"
#include "collectives/communicator.h"
#include "config/config_error.h"
#include "core/exit_codes.h"
#include "core/log.h"
#include "core/text.h"
#include "data/shard_format.h"
#include "trainer/checkpoint/checkpoint_store.h"
#include "trainer/run_directory.h"

namespace imprint {

void fail_job() {
  auto fail = [](const std::string& message, int code) {
    log::error(message);
    abort_job(code);
  };
  try {
    throw;
  } catch (const ConfigError& e) {
    fail(std::string("config error: ") + e.what(), kExitUsage);
  } catch (const CheckpointError& e) {
    fail(std::string("checkpoint error: ") + e.what(), kExitCheckpoint);
  } catch (const RunDirectoryError& e) {
    fail(std::string("run directory error: ") + e.what(), kExitCheckpoint);
  } catch (const CollectiveError& e) {
    fail(std::string("collective error: ") + e.what(), kExitCollective);
  } catch (const DatasetError& e) {
    fail(std::string("dataset error: ") + e.what(), kExitDataset);
  } catch (const BootstrapError& e) {
    fail(std::string("launch error: ") + e.what(), kExitLaunch);
  } catch (const std::exception& e) {
    fail(std::string("error: ") + first_line(e.what()), kExitError);
  } catch (...) {
    fail("error: unknown exception", kExitError);
  }
  std::abort();  // unreachable: fail() does not return
}

}  // namespace imprint
