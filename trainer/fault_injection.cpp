#include "trainer/fault_injection.h"

#include <chrono>
#include <cstdlib>
#include <regex>
#include <stdexcept>
#include <thread>

#include "collectives/bootstrap.h"

namespace imprint {

Fault fault_from_environment() {
  const char* env = std::getenv("IMPRINT_FAULT");
  if (!env || !*env) return {};
  static const std::regex form(R"((throw|exit|hang)@(\d+):(\d+))");
  std::cmatch m;
  if (!std::regex_match(env, m, form))
    throw BootstrapError(std::string("environment variable IMPRINT_FAULT='") + env +
                         "': expected KIND@RANK:STEP with KIND throw, exit or hang (docs/running.md)");
  return {m[1].str(), std::stoi(m[2].str()), std::stoll(m[3].str())};
}

void maybe_inject_fault(const Fault& f, int rank, int64_t step) {
  if (f.kind.empty() || f.rank != rank || f.step != step) return;
  if (f.kind == "throw")
    throw std::runtime_error("IMPRINT_FAULT: injected exception on rank " + std::to_string(rank) + " at step " +
                             std::to_string(step));
  if (f.kind == "exit") std::_Exit(1);
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}

}  // namespace imprint
