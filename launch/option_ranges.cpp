#include "launch/option_ranges.h"

#include <stdexcept>

#include "config/config_error.h"
#include "trainer/job_config.h"

namespace imprint {

namespace {

CLI::Option* checked_as(CLI::Option* option, const KeySpec& spec, const std::string& twin) {
  const std::string expected = describe_expected(spec) + (twin.empty() ? "" : " (as " + twin + ")");
  option->check(CLI::Validator(
      [spec, expected](std::string& text) -> std::string {
        try {
          canonical_value(spec, text, "");
          return "";
        } catch (const ConfigError&) {
          return "expected " + expected + ", got '" + text + "'";
        }
      },
      "", ""));
  return option;
}

}  // namespace

CLI::Option* like_key(CLI::Option* option, const std::string& key) {
  const KeySpec* spec = job_schema().find(key);
  if (!spec) throw std::logic_error("command-line option " + option->get_name() + " names no config key " + key);
  return checked_as(option, *spec, key);
}

CLI::Option* folder(CLI::Option* option) {
  option->transform(CLI::Validator(
      [](std::string& path) {
        while (path.size() > 1 && path.back() == '/') path.pop_back();
        return std::string();
      },
      "", ""));
  return option;
}

CLI::Option* integer_in(CLI::Option* option, const Range& range) {
  KeySpec spec;
  spec.path = option->get_name();
  spec.type = KeyType::Int;
  spec.range = range;
  return checked_as(option, spec, "");
}

CLI::Option* real_in(CLI::Option* option, const Range& range) {
  KeySpec spec;
  spec.path = option->get_name();
  spec.type = KeyType::Float;
  spec.range = range;
  return checked_as(option, spec, "");
}

}  // namespace imprint
