#include "trainer/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/text.h"
#include "trainer/config_schema.h"

namespace imprint {
namespace {

bool is_section(const std::string& path) {
  const std::string p = path + ".";
  for (const auto& k : config_schema())
    if (k.path.compare(0, p.size(), p) == 0) return true;
  return false;
}

[[noreturn]] void fail(const std::string& source, const std::string& path, const std::string& what) {
  throw ConfigError(source + ": " + (path.empty() ? "" : path + ": ") + what);
}

std::string unknown_key_message(const std::string& path) {
  std::string msg = "unknown key";
  const std::string guess = did_you_mean(path);
  if (!guess.empty()) msg += " (did you mean '" + guess + "'?)";
  return msg;
}

// Validates `text` against `spec` and returns its canonical form.
std::string canonical(const KeySpec& spec, const std::string& text, const std::string& source) {
  const std::string expected = "expected " + describe_expected(spec) + ", got '" + text + "'";
  switch (spec.type) {
    case KeyType::Int: {
      errno = 0;
      char* end = nullptr;
      const long long v = std::strtoll(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0' || errno == ERANGE) fail(source, spec.path, expected);
      const double d = static_cast<double>(v);
      if (d < spec.min || d > spec.max) fail(source, spec.path, expected);
      return std::to_string(v);
    }
    case KeyType::Float: {
      errno = 0;
      char* end = nullptr;
      const double v = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || errno == ERANGE || std::isnan(v)) fail(source, spec.path, expected);
      const bool below = spec.min_exclusive ? v <= spec.min : v < spec.min;
      const bool above = spec.max_exclusive ? v >= spec.max : v > spec.max;
      if (below || above) fail(source, spec.path, expected);
      // The shortest text that reads back as the same double: 0.07 stays "0.07", not 0.070000000000000007.
      std::ostringstream s;
      for (int precision = 1; precision <= 17; ++precision) {
        s.str("");
        s.precision(precision);
        s << v;
        if (std::strtod(s.str().c_str(), nullptr) == v) break;
      }
      return s.str();
    }
    case KeyType::String: return text;
    case KeyType::Bool:
      if (text == "true" || text == "True") return "true";
      if (text == "false" || text == "False") return "false";
      fail(source, spec.path, expected);
    case KeyType::Choice: {
      if (std::find(spec.choices.begin(), spec.choices.end(), text) != spec.choices.end()) return text;
      std::string msg = expected;
      for (const auto& c : spec.choices)
        if (edit_distance(c, text) <= 2) {
          msg += " (did you mean '" + c + "'?)";
          break;
        }
      fail(source, spec.path, msg);
    }
  }
  fail(source, spec.path, "unsupported key type");
}

void walk(const YAML::Node& node, const std::string& prefix, const std::string& source, Config& cfg) {
  std::map<std::string, int> seen;  // key -> line, for duplicates (YAML forbids them; yaml-cpp keeps one silently)
  for (const auto& item : node) {
    const std::string key = item.first.as<std::string>();
    const std::string path = prefix.empty() ? key : prefix + "." + key;
    const int line = item.first.Mark().line + 1;
    const auto [it, fresh] = seen.emplace(key, line);
    if (!fresh)
      fail(source + ":" + std::to_string(line), path,
           "appears twice in one mapping (first on line " + std::to_string(it->second) + "); keep one");
    const YAML::Node& value = item.second;
    const KeySpec* spec = find_key(path);
    if (value.IsMap()) {
      if (spec) fail(source, path, "expected " + describe_expected(*spec) + ", got a mapping");
      if (!is_section(path)) fail(source, path, unknown_key_message(path));
      walk(value, path, source, cfg);
      continue;
    }
    if (!spec) {
      if (is_section(path)) fail(source, path, "expected a mapping of keys, got a value");
      fail(source, path, unknown_key_message(path));
    }
    if (!value.IsScalar())
      fail(source, path, "expected " + describe_expected(*spec) + ", got " + (value.IsNull() ? "nothing" : "a list"));
    cfg.set(path, value.Scalar(), source);
  }
}

void apply_overrides(Config& cfg, const std::vector<std::string>& overrides) {
  for (const auto& o : overrides) {
    const auto eq = o.find('=');
    const std::string source = "--set " + o;
    if (eq == std::string::npos || eq == 0) fail(source, "", "expected key.path=value");
    const std::string path = o.substr(0, eq);
    if (!find_key(path)) fail(source, path, is_section(path) ? "is a section, not a key" : unknown_key_message(path));
    cfg.set(path, o.substr(eq + 1), source);
  }
}

}  // namespace

std::string did_you_mean(const std::string& path) {
  std::string best;
  size_t best_d = std::string::npos;
  for (const auto& k : config_schema()) {
    size_t d = edit_distance(path, k.path);
    // A right leaf under the wrong section ("lr" for "optimizer.lr") is also a likely slip.
    const auto dot = k.path.rfind('.');
    if (dot != std::string::npos && k.path.substr(dot + 1) == path) d = std::min<size_t>(d, 1);
    if (d < best_d) best_d = d, best = k.path;
  }
  const size_t limit = std::max<size_t>(2, path.size() / 4);
  return best_d <= limit ? best : "";
}

Config::Config() {
  for (const auto& k : config_schema()) values_[k.path] = canonical(k, k.default_value, "schema");
}

namespace {

YAML::Node load_yaml(const std::string& yaml_text, const std::string& source) {
  try {
    return YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(source + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                      ": YAML syntax error: " + e.msg);
  }
}

Config from_yaml(const YAML::Node& root, const std::string& source, const std::vector<std::string>& overrides) {
  Config cfg;
  if (root.IsMap()) {
    walk(root, "", source, cfg);
  } else if (!root.IsNull()) {
    fail(source, "", "expected a mapping of keys at the top level");
  }
  apply_overrides(cfg, overrides);
  check_config_rules(cfg, overrides.empty() ? source : source + " (with --set overrides)");
  return cfg;
}

}  // namespace

Config Config::parse(const std::string& yaml_text, const std::string& source,
                     const std::vector<std::string>& overrides) {
  return from_yaml(load_yaml(yaml_text, source), source, overrides);
}

Config Config::load(const std::string& file, const std::vector<std::string>& overrides) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec))
    throw ConfigError(file + ": is a directory; expected a YAML config file (e.g. configs/smoke-image.yaml)");
  std::ifstream in(file);
  if (!in) throw ConfigError(file + ": cannot open config file (does it exist and is it readable?)");
  std::stringstream buf;
  buf << in.rdbuf();
  if (in.bad()) throw ConfigError(file + ": cannot read config file");
  const YAML::Node root = load_yaml(buf.str(), file);
  // A file with no keys at all is a mistake (a wrong or truncated file), not a request for every default.
  if (root.IsNull() || (root.IsMap() && root.size() == 0))
    throw ConfigError(file + ": holds no config keys; expected a mapping such as 'train:\n  steps: 300' "
                      "(every key: docs/configuration.md)");
  return from_yaml(root, file, overrides);
}

std::vector<ConfigChange> diff_configs(const Config& before, const Config& after) {
  // Keys that change how a run is carried out or logged, not what it trains.
  static const std::vector<std::string> operational = {
      "train.stop_at", "train.threads", "train.device", "train.log_every", "train.eval_every", "eval.batch_size",
      "checkpoint.", "distributed.", "log.", "data.workers", "data.prefetch", "data.verify_checksums",
      "data.create_if_missing"};
  std::vector<ConfigChange> out;
  for (const auto& [key, value] : after.values()) {
    const auto it = before.values().find(key);
    const std::string old = it == before.values().end() ? "(absent)" : it->second;
    if (old == value) continue;
    bool changes_run = true;
    for (const auto& p : operational)
      if (key == p || (p.back() == '.' && key.compare(0, p.size(), p) == 0)) changes_run = false;
    out.push_back({key, old, value, changes_run});
  }
  return out;
}

void Config::set(const std::string& path, const std::string& value, const std::string& source) {
  const KeySpec* spec = find_key(path);
  if (!spec) fail(source, path, unknown_key_message(path));
  values_[path] = canonical(*spec, value, source);
  given_.insert(path);
}

int64_t Config::get_int(const std::string& path) const { return std::stoll(values_.at(path)); }
double Config::get_float(const std::string& path) const { return std::stod(values_.at(path)); }
bool Config::get_bool(const std::string& path) const { return values_.at(path) == "true"; }
const std::string& Config::get_string(const std::string& path) const { return values_.at(path); }

std::string Config::to_yaml(const std::string& prefix) const {
  // values_ is sorted by path, so keys of one section are adjacent: open and close maps as the path's
  // sections change.
  YAML::Emitter out;
  out << YAML::BeginMap;
  std::vector<std::string> open;
  for (const auto& [path, value] : values_) {
    if (!prefix.empty() && path.compare(0, prefix.size(), prefix) != 0) continue;
    std::vector<std::string> parts;
    std::stringstream ss(path);
    for (std::string p; std::getline(ss, p, '.');) parts.push_back(p);
    size_t common = 0;
    while (common < open.size() && common + 1 < parts.size() && open[common] == parts[common]) ++common;
    while (open.size() > common) {
      out << YAML::EndMap;
      open.pop_back();
    }
    for (size_t i = common; i + 1 < parts.size(); ++i) {
      out << YAML::Key << parts[i] << YAML::Value << YAML::BeginMap;
      open.push_back(parts[i]);
    }
    out << YAML::Key << parts.back() << YAML::Value << value;
  }
  while (!open.empty()) {
    out << YAML::EndMap;
    open.pop_back();
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace imprint
