#include "config/key_spec.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>

#include "config/config_error.h"
#include "core/text.h"

namespace imprint {

bool Range::contains(double v) const {
  const bool below = min_open ? v <= min : v < min;
  const bool above = max_open ? v >= max : v > max;
  return !below && !above;
}

namespace {

std::string fmt_bound(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::ostringstream s;
  s << v;
  return s.str();
}

[[noreturn]] void fail(const std::string& source, const std::string& path, const std::string& what) {
  throw ConfigError(source + ": " + path + ": " + what);
}

}  // namespace

// 0.07 stays "0.07", not 0.070000000000000007; whole numbers print whole (300, not 3e+02).
std::string shortest_text(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  std::ostringstream s;
  for (int precision = 1; precision <= 17; ++precision) {
    s.str("");
    s.precision(precision);
    s << v;
    if (std::strtod(s.str().c_str(), nullptr) == v) break;
  }
  return s.str();
}

namespace {

std::string canonical_number(const KeySpec& spec, const std::string& text, const std::string& source,
                             const std::string& expected) {
  errno = 0;
  char* end = nullptr;
  if (spec.type == KeyType::Int) {
    const long long v = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno == ERANGE || !spec.range.contains(static_cast<double>(v)))
      fail(source, spec.path, expected);
    return std::to_string(v);
  }
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno == ERANGE || std::isnan(v) || !spec.range.contains(v))
    fail(source, spec.path, expected);
  return shortest_text(v);
}

}  // namespace

std::string number_text(double v) {
  std::string s = shortest_text(v);
  // 1e-08 -> 1e-8, 9e+15 stays: how the exponent is written in docs and configs.
  const auto e = s.find("e-0");
  if (e != std::string::npos) s.erase(e + 2, 1);
  return s;
}

std::string describe_expected(const KeySpec& spec) {
  const Range& r = spec.range;
  const std::string range = std::string(r.min_open ? "(" : "[") + fmt_bound(r.min) + ", " + fmt_bound(r.max) +
                            (r.max_open || std::isinf(r.max) ? ")" : "]");
  switch (spec.type) {
    case KeyType::Int:
      return "an integer in " + range;
    case KeyType::Float:
      return "a number in " + range;
    case KeyType::Bool:
      return "true or false";
    case KeyType::String:
      return "a string";
    case KeyType::Path:
      return "a path";
    case KeyType::Choice: {
      std::string s = "one of";
      for (size_t i = 0; i < spec.choices.size(); ++i) s += (i ? ", " : " ") + spec.choices[i];
      return s;
    }
  }
  return "";
}

std::string canonical_value(const KeySpec& spec, const std::string& text, const std::string& source) {
  const std::string expected = "expected " + describe_expected(spec) + ", got '" + text + "'";
  switch (spec.type) {
    case KeyType::Int:
    case KeyType::Float:
      return canonical_number(spec, text, source, expected);
    case KeyType::String:
      return text;
    case KeyType::Path:
      return text.empty() ? text : std::filesystem::absolute(text).lexically_normal().string();
    case KeyType::Bool:
      if (text == "true" || text == "True") return "true";
      if (text == "false" || text == "False") return "false";
      fail(source, spec.path, expected);
    case KeyType::Choice: {
      if (std::find(spec.choices.begin(), spec.choices.end(), text) != spec.choices.end()) return text;
      // What other tools call a choice ("gpu" for cuda) before spelling: "gpu" is closer to "cpu" in letters.
      static const std::map<std::string, std::string> other_names = {
          {"gpu", "cuda"},     {"nvidia", "cuda"}, {"bfloat16", "bf16"},
          {"float32", "fp32"}, {"adam", "adamw"},  {"cosine_annealing", "cosine"}};
      const auto other = other_names.find(text);
      const std::string guess = other != other_names.end() && std::find(spec.choices.begin(), spec.choices.end(),
                                                                        other->second) != spec.choices.end()
                                    ? other->second
                                    : closest(text, spec.choices, 2);
      fail(source, spec.path, expected + (guess.empty() ? "" : " (did you mean '" + guess + "'?)"));
    }
  }
  fail(source, spec.path, "unsupported key type");
}

}  // namespace imprint
