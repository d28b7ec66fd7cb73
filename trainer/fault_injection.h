// Deliberate failures for testing the failure contract with the real binary under the real launcher:
// IMPRINT_FAULT=KIND@RANK:STEP makes rank RANK misbehave at the start of step STEP. KIND is
//   throw  an exception (like a bad sample or out of memory): the rank logs it and ends the job
//   exit   the process exits at once with status 1, without a word (like a crash)
//   hang   the training thread sleeps forever outside any collective (like a deadlocked data loader)
// Unset in normal runs; a malformed value is a launch error.
#pragma once
#include <cstdint>
#include <string>

namespace imprint {

struct Fault {
  std::string kind;  // "" when none
  int rank = -1;
  int64_t step = -1;
};

// Parses IMPRINT_FAULT (throws BootstrapError when malformed).
Fault fault_from_environment();
// Misbehaves as `fault` says when this is its rank and step.
void maybe_inject_fault(const Fault& fault, int rank, int64_t step);

}  // namespace imprint
