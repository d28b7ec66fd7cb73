#include "config/config_values.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace imprint {
namespace {

[[noreturn]] void fail(const std::string& source, const std::string& path, const std::string& what) {
  throw ConfigError(source + ": " + (path.empty() ? "" : path + ": ") + what);
}

std::string unknown_key_message(const Schema& schema, const std::string& path) {
  const std::string guess = schema.did_you_mean(path);
  return "unknown key" + (guess.empty() ? std::string() : " (did you mean '" + guess + "'?)");
}

void walk(const YAML::Node& node, const std::string& prefix, const std::string& source, ConfigValues& cfg) {
  const Schema& schema = cfg.schema();
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
    const KeySpec* spec = schema.find(path);
    if (value.IsMap()) {
      if (spec) fail(source, path, "expected " + describe_expected(*spec) + ", got a mapping");
      if (!schema.is_section(path)) fail(source, path, unknown_key_message(schema, path));
      walk(value, path, source, cfg);
      continue;
    }
    if (!spec) {
      if (schema.is_section(path)) fail(source, path, "expected a mapping of keys, got a value");
      fail(source, path, unknown_key_message(schema, path));
    }
    if (!value.IsScalar())
      fail(source, path, "expected " + describe_expected(*spec) + ", got " + (value.IsNull() ? "nothing" : "a list"));
    cfg.set(path, value.Scalar(), source);
  }
}

void apply_overrides(ConfigValues& cfg, const std::vector<std::string>& overrides) {
  for (const auto& o : overrides) {
    const auto eq = o.find('=');
    const std::string source = "--set " + o;
    if (eq == std::string::npos || eq == 0) fail(source, "", "expected key.path=value");
    const std::string path = o.substr(0, eq);
    if (!cfg.schema().find(path))
      fail(source, path,
           cfg.schema().is_section(path) ? "is a section, not a key" : unknown_key_message(cfg.schema(), path));
    cfg.set(path, o.substr(eq + 1), source);
  }
}

YAML::Node load_yaml(const std::string& yaml_text, const std::string& source) {
  try {
    return YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(source + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                      ": YAML syntax error: " + e.msg);
  }
}

ConfigValues from_yaml(const Schema& schema, const YAML::Node& root, const std::string& source,
                       const std::vector<std::string>& overrides) {
  ConfigValues cfg(schema);
  if (root.IsMap()) {
    walk(root, "", source, cfg);
  } else if (!root.IsNull()) {
    fail(source, "", "expected a mapping of keys at the top level");
  }
  apply_overrides(cfg, overrides);
  return cfg;
}

}  // namespace

ConfigValues::ConfigValues(const Schema& schema) : schema_(&schema) {
  for (const auto& k : schema.keys()) values_[k.path] = canonical_value(k, k.default_value, "schema");
}

ConfigValues ConfigValues::parse(const Schema& schema, const std::string& yaml_text, const std::string& source,
                                 const std::vector<std::string>& overrides) {
  return from_yaml(schema, load_yaml(yaml_text, source), source, overrides);
}

ConfigValues ConfigValues::load(const Schema& schema, const std::string& file,
                                const std::vector<std::string>& overrides) {
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
    throw ConfigError(file +
                      ": holds no config keys; expected a mapping such as 'train:\n  steps: 300' "
                      "(every key: docs/configuration.md)");
  return from_yaml(schema, root, file, overrides);
}

const std::string& ConfigValues::text(const std::string& path) const {
  const auto it = values_.find(path);
  if (it == values_.end())
    throw std::logic_error("config: '" + path + "' is read but no component declares it in the schema");
  return it->second;
}

void ConfigValues::set(const std::string& path, const std::string& value, const std::string& source) {
  const KeySpec* spec = schema_->find(path);
  if (!spec) fail(source, path, unknown_key_message(*schema_, path));
  values_[path] = canonical_value(*spec, value, source);
  given_.insert(path);
}

std::string ConfigValues::to_yaml(const std::string& prefix) const {
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
    for (; open.size() > common; open.pop_back()) out << YAML::EndMap;
    for (size_t i = common; i + 1 < parts.size(); ++i) {
      out << YAML::Key << parts[i] << YAML::Value << YAML::BeginMap;
      open.push_back(parts[i]);
    }
    out << YAML::Key << parts.back() << YAML::Value << value;
  }
  for (; !open.empty(); open.pop_back()) out << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::vector<ConfigChange> diff_configs(const ConfigValues& before, const ConfigValues& after) {
  std::vector<ConfigChange> out;
  for (const auto& [key, value] : after.values()) {
    const auto it = before.values().find(key);
    const std::string old = it == before.values().end() ? "(absent)" : it->second;
    if (old == value) continue;
    const KeySpec* spec = after.schema().find(key);
    out.push_back({key, old, value, !spec || spec->role != KeyRole::Operational});
  }
  return out;
}

}  // namespace imprint
