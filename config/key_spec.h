// One configuration key: its dotted path, type, default, allowed range or choices, meaning, and the facts
// the rest of imprint needs about it (does it shape the model's parameters? does it only change how a run
// is carried out?). Keys are declared where they are read (config/section.h), never in a central list.
#pragma once
#include <limits>
#include <string>
#include <vector>

namespace imprint {

// Path: a file or folder; a relative one is made absolute against the working directory when it is read, so
// the resolved configuration (config.yaml, the checkpoint's settings) still names it from another directory.
enum class KeyType { Int, Float, Bool, Choice, String, Path };

// What a key means for checkpoints and resumes.
enum class KeyRole {
  Plain,                 // part of what a run trains: a change on resume must be allowed (--allow-config-change)
  Operational,           // only how the run is carried out (threads, logging, timeouts): may change on resume
  Shaping,               // shapes the model's parameters: in the checkpoint's model signature, must match to load
  ShapingUnlessDefault,  // as Shaping, but in the signature only when not the default (keys added after
                         // checkpoints existed without them, so those still load)
};

// An allowed interval [min, max], either end open.
struct Range {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_open = false, max_open = false;

  static Range any() { return {}; }
  static Range closed(double lo, double hi) { return {lo, hi, false, false}; }
  static Range at_least(double lo) { return {lo, std::numeric_limits<double>::infinity(), false, false}; }
  static Range above(double lo) { return {lo, std::numeric_limits<double>::infinity(), true, false}; }
  Range open_below() const {
    Range r = *this;
    r.min_open = true;
    return r;
  }
  Range open_above() const {
    Range r = *this;
    r.max_open = true;
    return r;
  }
  bool contains(double v) const;
};

struct KeySpec {
  std::string path;  // dotted, e.g. "optimizer.lr"
  KeyType type = KeyType::String;
  std::string default_value;         // as it would be written in YAML
  Range range;                       // Int and Float
  std::vector<std::string> choices;  // Choice only
  std::string doc;
  KeyRole role = KeyRole::Plain;

  bool shapes_model() const { return role == KeyRole::Shaping || role == KeyRole::ShapingUnlessDefault; }
};

// "an integer in [1, inf)", "one of image, audio", ...
std::string describe_expected(const KeySpec& spec);
// Validates `text` against `spec` and returns its canonical form (integers as digits, floats as the shortest
// text that reads back as the same double, true/false). Throws ConfigError "SOURCE: PATH: expected ..., got
// 'TEXT'" (with a did-you-mean for a near choice).
std::string canonical_value(const KeySpec& spec, const std::string& text, const std::string& source);

// The shortest text that reads back as the same double (the canonical form of a float value).
std::string shortest_text(double v);
// The same with the exponent written as people write it (1e-8, not 1e-08): defaults in docs.
std::string number_text(double v);

}  // namespace imprint
