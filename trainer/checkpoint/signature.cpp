#include "trainer/checkpoint/signature.h"

#include <sstream>

namespace imprint {

std::string signature_text(const Signature& sig) {
  std::string s;
  for (const auto& [k, v] : sig) s += k + "=" + v + "\n";
  return s;
}

std::string signature_differences(const Signature& here, const Signature& there) {
  std::string diffs;
  for (const auto& [k, v] : here) {
    const auto it = there.find(k);
    const std::string other = it == there.end() ? "(absent)" : it->second;
    if (other != v) diffs += (diffs.empty() ? "" : "; ") + k + " is " + other + " there, " + v + " here";
  }
  return diffs;
}

Signature parse_signature(const std::string& text) {
  Signature out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const auto eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

}  // namespace imprint
