// The one error a bad configuration raises: its message names the source (a file, `--set ...`, a
// checkpoint's stored settings), the key path, and what was expected.
#pragma once
#include <stdexcept>

namespace imprint {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace imprint
