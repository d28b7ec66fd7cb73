// Every configuration key imprint accepts: type, default, range and meaning.
// docs/configuration.md documents the same table; a test keeps the two in step.
#pragma once
#include <limits>
#include <string>
#include <vector>

namespace imprint {

enum class KeyType { Int, Float, Bool, Choice, String };

struct KeySpec {
  std::string path;           // dotted, e.g. "optimizer.lr"
  KeyType type;
  std::string default_value;  // as it would be written in YAML
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_exclusive = false;
  bool max_exclusive = false;
  std::vector<std::string> choices;  // KeyType::Choice only
  std::string doc;
};

const std::vector<KeySpec>& config_schema();
const KeySpec* find_key(const std::string& path);
std::string describe_expected(const KeySpec& spec);  // "an integer in [1, inf)"
// The key table of docs/configuration.md (markdown), printed by `imprint config-reference`.
std::string config_reference_markdown();

}  // namespace imprint
