#include "trainer/inference/embedding_eval.h"

#include <ATen/ATen.h>
#include <torch/nn/functional/normalization.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "config/config_error.h"
#include "core/text.h"
#include "generation/content_tokens.h"

namespace imprint {

namespace {

struct Row {
  std::string file, identity;
};

std::vector<Row> read_index(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot open (--embeddings needs the index.tsv `imprint embed` writes)");
  std::vector<Row> rows;
  std::string line;
  std::getline(in, line);  // the header
  for (int64_t n = 2; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const auto a = line.find('\t'), b = a == std::string::npos ? a : line.find('\t', a + 1);
    if (a == std::string::npos)
      throw ConfigError(path + ":" + std::to_string(n) + ": expected <row>\\t<file>[\\t<identity>]");
    if (line.substr(0, a) != std::to_string(rows.size()))
      throw ConfigError(path + ":" + std::to_string(n) + ": row " + line.substr(0, a) + " out of order (expected " +
                        std::to_string(rows.size()) + ")");
    Row r;
    r.file = line.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
    r.identity =
        b == std::string::npos ? std::filesystem::path(r.file).parent_path().filename().string() : line.substr(b + 1);
    if (r.identity.empty())
      throw ConfigError(path + ":" + std::to_string(n) + ": " + r.file +
                        " has no identity (no folder above it, no third column)");
    rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace

EmbeddingEvalReport evaluate_embeddings(const std::string& dir, int64_t gallery_per_identity) {
  if (gallery_per_identity < 1) throw ConfigError("--gallery-per-identity: expected at least 1");
  const std::string npy = dir + "/pooled.npy", tsv = dir + "/index.tsv";
  at::Tensor pooled;
  try {
    pooled = read_npy(npy);
  } catch (const std::exception& e) {
    throw ConfigError(std::string(e.what()) + " (--embeddings needs the pooled.npy `imprint embed` writes)");
  }
  if (pooled.dim() != 2 || !pooled.is_floating_point())
    throw ConfigError(npy + ": expected a float array [rows, dim], got " + c10::str(pooled.sizes()));
  if (!at::isfinite(pooled).all().item<bool>()) throw ConfigError(npy + ": holds non-finite values");
  const std::vector<Row> rows = read_index(tsv);
  if (static_cast<int64_t>(rows.size()) != pooled.size(0))
    throw ConfigError(tsv + " lists " + std::to_string(rows.size()) + " rows but " + npy + " holds " +
                      std::to_string(pooled.size(0)));
  namespace F = torch::nn::functional;
  const at::Tensor unit = F::normalize(pooled.to(at::kFloat), F::NormalizeFuncOptions().dim(1));
  std::map<std::string, std::vector<int64_t>> by_identity;
  for (size_t r = 0; r < rows.size(); ++r) by_identity[rows[r].identity].push_back(static_cast<int64_t>(r));
  EmbeddingEvalReport report;
  report.rows = pooled.size(0);
  report.dim = pooled.size(1);
  std::vector<std::string> names;
  for (const auto& [identity, members] : by_identity) names.push_back(identity);
  std::sort(names.begin(), names.end(), natural_less);
  std::vector<int64_t> ref_rows, gallery_rows, gallery_identity;
  for (const auto& name : names) {
    std::vector<int64_t> members = by_identity[name];
    if (static_cast<int64_t>(members.size()) < gallery_per_identity + 1) {
      report.skipped.push_back(name + ": " + std::to_string(members.size()) + " file(s)");
      continue;
    }
    std::sort(members.begin(), members.end(),
              [&](int64_t a, int64_t b) { return natural_less(rows[a].file, rows[b].file); });
    ref_rows.push_back(members[0]);
    for (int64_t g = 1; g <= gallery_per_identity; ++g) {
      gallery_rows.push_back(members[g]);
      gallery_identity.push_back(static_cast<int64_t>(report.identities.size()));
    }
    report.identities.push_back(name);
  }
  if (report.identities.size() < 2)
    throw ConfigError(dir + ": " + std::to_string(report.identities.size()) + " identities with at least " +
                      std::to_string(gallery_per_identity + 1) +
                      " files each (a reference and --gallery-per-identity more); at least 2 are needed");
  const auto index = [](const std::vector<int64_t>& v) { return at::tensor(v, at::kLong); };
  report.score = score_embeddings(unit.index_select(0, index(ref_rows)), unit.index_select(0, index(gallery_rows)),
                                  index(gallery_identity), at::Tensor(), 0);
  return report;
}

}  // namespace imprint
