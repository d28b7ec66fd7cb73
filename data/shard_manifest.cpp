#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>

#include "core/checksum.h"
#include "core/temp_path.h"
#include "data/shard_format.h"

namespace imprint {
namespace {

[[noreturn]] void bad(const std::string& path, const std::string& key, const std::string& what) {
  throw DatasetError(path + ": " + key + ": " + what);
}

template <typename T>
T get(const nlohmann::json& j, const char* key, const std::string& path, const std::string& prefix = "") {
  if (!j.contains(key)) bad(path, prefix + key, "missing");
  try {
    return j.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    bad(path, prefix + key, "has the wrong type (" + std::string(j.at(key).type_name()) + ")");
  }
}

}  // namespace

std::string shard_fnv1a64(const std::string& path) {
  try {
    return file_fnv1a64(path);
  } catch (const std::runtime_error& e) {
    throw DatasetError(e.what());
  }
}

Manifest Manifest::read(const std::string& dir) {
  const std::string path = dir + "/manifest.json";
  std::ifstream in(path);
  if (!in)
    throw DatasetError(path + ": cannot open (is " + dir +
                       " an imprint dataset? `imprint synth` or a "
                       "script following docs/dataset-format.md makes one)");
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    throw DatasetError(path + ": not valid JSON: " + e.what());
  }
  if (get<std::string>(j, "format", path) != kFormat) bad(path, "format", std::string("expected '") + kFormat + "'");
  const int version = get<int>(j, "version", path);
  if (version < 1 || version > kVersion)
    bad(path, "version",
        "is " + std::to_string(version) + ", this imprint reads versions 1 to " + std::to_string(kVersion));
  Manifest m;
  m.version = version;
  const std::string modality = get<std::string>(j, "modality", path);
  if (modality != "image" && modality != "audio")
    bad(path, "modality", "expected image or audio, got '" + modality + "'");
  m.modality = parse_modality(modality);
  if (m.modality == Modality::Image) {
    m.image_size = get<int64_t>(j, "image_size", path);
    if (m.image_size < 1 || m.image_size > 8192) bad(path, "image_size", "expected 1..8192");
  } else {
    m.sample_rate = get<int64_t>(j, "sample_rate", path);
    if (m.sample_rate < 1000 || m.sample_rate > 384000) bad(path, "sample_rate", "expected 1000..384000");
  }
  m.identities = get<std::vector<std::string>>(j, "identities", path);
  m.holdout = get<std::vector<int64_t>>(j, "holdout", path);
  if (j.contains("content_labels")) {
    if (version < 2) bad(path, "content_labels", "needs version 2 (version 1 datasets have no content labels)");
    m.content_labels = get<std::vector<std::string>>(j, "content_labels", path);
    std::set<std::string> names;
    for (const auto& c : m.content_labels)
      if (!names.insert(c).second) bad(path, "content_labels", "'" + c + "' is listed twice");
  }
  const auto n_ids = static_cast<int64_t>(m.identities.size());
  std::set<int64_t> seen;
  for (int64_t h : m.holdout) {
    if (h < 0 || h >= n_ids) bad(path, "holdout", "identity " + std::to_string(h) + " is not in the identity table");
    if (!seen.insert(h).second) bad(path, "holdout", "identity " + std::to_string(h) + " is listed twice");
  }
  if (!j.contains("shards") || !j.at("shards").is_array() || j.at("shards").empty())
    bad(path, "shards", "expected a non-empty list");
  int64_t next_identity = 0;
  for (size_t i = 0; i < j.at("shards").size(); ++i) {
    const auto& s = j.at("shards")[i];
    const std::string prefix = "shards[" + std::to_string(i) + "].";
    ShardInfo info;
    info.file = get<std::string>(s, "file", path, prefix);
    info.samples = get<int64_t>(s, "samples", path, prefix);
    info.identity_begin = get<int64_t>(s, "identity_begin", path, prefix);
    info.identity_end = get<int64_t>(s, "identity_end", path, prefix);
    info.bytes = get<int64_t>(s, "bytes", path, prefix);
    info.fnv1a64 = get<std::string>(s, "fnv1a64", path, prefix);
    if (info.file.find('/') != std::string::npos)
      bad(path, prefix + "file", "must be a file name in the dataset folder");
    if (info.identity_begin != next_identity || info.identity_end <= info.identity_begin || info.identity_end > n_ids)
      bad(path, prefix + "identity_begin", "shards must cover the identity table in order without gaps");
    next_identity = info.identity_end;
    m.shards.push_back(info);
  }
  if (next_identity != n_ids)
    bad(path, "shards",
        "cover identities up to " + std::to_string(next_identity) + ", the identity table has " +
            std::to_string(n_ids));
  return m;
}

void Manifest::write(const std::string& dir) const {
  nlohmann::json j;
  j["format"] = kFormat;
  j["version"] = kVersion;
  j["modality"] = modality_name(modality);
  if (modality == Modality::Image) {
    j["image_size"] = image_size;
  } else {
    j["sample_rate"] = sample_rate;
  }
  j["identities"] = identities;
  j["holdout"] = holdout;
  if (!content_labels.empty()) j["content_labels"] = content_labels;
  j["shards"] = nlohmann::json::array();
  for (const auto& s : shards)
    j["shards"].push_back({{"file", s.file},
                           {"samples", s.samples},
                           {"identity_begin", s.identity_begin},
                           {"identity_end", s.identity_end},
                           {"bytes", s.bytes},
                           {"fnv1a64", s.fnv1a64}});
  const std::string path = dir + "/manifest.json";
  const std::string tmp = temp_path_for(path);
  bool written = false;
  {
    std::ofstream out(tmp);
    out << j.dump(1) << "\n";
    out.close();
    written = static_cast<bool>(out);
  }
  if (!written || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw DatasetError(path + (written ? ": cannot move the manifest into place" : ": cannot write the manifest"));
  }
}

}  // namespace imprint
