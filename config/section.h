// A typed view of the keys under one prefix: each field of a plain struct T is bound to ONE key — its type,
// default, range or choices, meaning and role — so the struct, the schema (`keys()`), the parse (`read()`)
// and the way back to text (`write()`, for checkpoints) cannot drift apart. Choices bind to enums: a choice
// value is compared as text only here.
//
//   struct OptimizerConfig { OptimizerKind kind; double lr; };
//   const Section<OptimizerConfig>& optimizer_section() {
//     static const auto s = Section<OptimizerConfig>("optimizer")
//         .choice("name", &OptimizerConfig::kind, {{"adamw", OptimizerKind::AdamW}, {"lamb", OptimizerKind::Lamb}},
//                 OptimizerKind::AdamW, "AdamW or LAMB.")
//         .real("lr", &OptimizerConfig::lr, 1e-3, Range::above(0), "Peak learning rate.");
//     return s;
//   }
//   OptimizerConfig o = optimizer_section().read(values);
#pragma once
#include <cmath>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "config/config_values.h"
#include "config/key_spec.h"

namespace imprint {

template <class T>
class Section {
 public:
  explicit Section(std::string prefix = "") : prefix_(std::move(prefix)) {}

  template <class I>
  Section integer(const std::string& leaf, I T::*field, I def, Range range, std::string doc,
                  KeyRole role = KeyRole::Plain) const {
    static_assert(std::is_integral<I>::value, "integer() binds an integral field");
    return with(
        {key(leaf), KeyType::Int, std::to_string(def), range, {}, std::move(doc), role},
        [field](T& t, const std::string& v) { t.*field = static_cast<I>(std::stoll(v)); },
        [field](const T& t) { return std::to_string(t.*field); });
  }
  Section real(const std::string& leaf, double T::*field, double def, Range range, std::string doc,
               KeyRole role = KeyRole::Plain) const {
    return with(
        {key(leaf), KeyType::Float, number_text(def), range, {}, std::move(doc), role},
        [field](T& t, const std::string& v) { t.*field = std::stod(v); },
        [field](const T& t) { return shortest_text(t.*field); });
  }
  Section flag(const std::string& leaf, bool T::*field, bool def, std::string doc,
               KeyRole role = KeyRole::Plain) const {
    return with(
        {key(leaf), KeyType::Bool, def ? "true" : "false", {}, {}, std::move(doc), role},
        [field](T& t, const std::string& v) { t.*field = v == "true"; },
        [field](const T& t) { return std::string(t.*field ? "true" : "false"); });
  }
  Section text(const std::string& leaf, std::string T::*field, std::string def, std::string doc,
               KeyRole role = KeyRole::Plain) const {
    return with(
        {key(leaf), KeyType::String, std::move(def), {}, {}, std::move(doc), role},
        [field](T& t, const std::string& v) { t.*field = v; }, [field](const T& t) { return t.*field; });
  }
  // A file or folder: stored absolute (a relative one against the working directory, KeyType::Path).
  Section path(const std::string& leaf, std::string T::*field, std::string def, std::string doc,
               KeyRole role = KeyRole::Plain) const {
    return with(
        {key(leaf), KeyType::Path, std::move(def), {}, {}, std::move(doc), role},
        [field](T& t, const std::string& v) { t.*field = v; }, [field](const T& t) { return t.*field; });
  }
  // A choice among named values of E (an enum, or strings for an open set such as registry names).
  template <class E>
  Section choice(const std::string& leaf, E T::*field, std::vector<std::pair<std::string, E>> names, E def,
                 std::string doc, KeyRole role = KeyRole::Plain) const {
    std::vector<std::string> choices;
    std::string def_name;
    for (const auto& [name, value] : names) {
      choices.push_back(name);
      if (value == def) def_name = name;
    }
    if (def_name.empty()) throw std::logic_error("config section: the default of " + key(leaf) + " is not a choice");
    const std::string path = key(leaf);
    return with(
        {path, KeyType::Choice, def_name, {}, choices, std::move(doc), role},
        [field, names, path](T& t, const std::string& v) {
          for (const auto& [name, value] : names)
            if (name == v) return void(t.*field = value);
          throw std::logic_error("config section: " + path + " = '" + v + "' is not a choice");
        },
        [field, names, path](const T& t) {
          for (const auto& [name, value] : names)
            if (value == t.*field) return name;
          throw std::logic_error("config section: " + path + " holds a value that is not a choice");
        });
  }

  const std::vector<KeySpec>& keys() const { return keys_; }
  const std::string& prefix() const { return prefix_; }
  // Every bound field from its key's canonical text (defaults where `values` has them).
  T read(const ConfigValues& values) const {
    T t{};
    read_into(values, t);
    return t;
  }
  void read_into(const ConfigValues& values, T& t) const {
    for (size_t i = 0; i < keys_.size(); ++i) readers_[i](t, values.text(keys_[i].path));
  }
  // Key path -> canonical text of every bound field of `t`.
  std::map<std::string, std::string> write(const T& t) const {
    std::map<std::string, std::string> out;
    for (size_t i = 0; i < keys_.size(); ++i) out[keys_[i].path] = writers_[i](t);
    return out;
  }

 private:
  std::string key(const std::string& leaf) const { return prefix_.empty() ? leaf : prefix_ + "." + leaf; }
  Section with(KeySpec spec, std::function<void(T&, const std::string&)> read,
               std::function<std::string(const T&)> write) const {
    Section s = *this;
    s.keys_.push_back(std::move(spec));
    s.readers_.push_back(std::move(read));
    s.writers_.push_back(std::move(write));
    return s;
  }

  std::string prefix_;
  std::vector<KeySpec> keys_;
  std::vector<std::function<void(T&, const std::string&)>> readers_;
  std::vector<std::function<std::string(const T&)>> writers_;
};

}  // namespace imprint
