#include "data/folder_pack.h"

#include "core/text.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "core/checksum.h"
#include "data/holdout_selection.h"
#include "data/media_decode.h"
#include "data/shard_writer.h"

namespace imprint {
namespace fs = std::filesystem;

namespace {

struct Decoded {
  bool ok = false;
  std::string error;
  std::vector<uint8_t> image;
  std::vector<int16_t> audio;
};

// The content label of every file, by path relative to the input root (docs/dataset-format.md, "pack").
std::map<std::string, std::string> content_labels_of(const PackOptions& o,
                                                     const std::vector<std::vector<fs::path>>& files) {
  std::map<std::string, std::string> label;
  if (o.content_from.empty()) return label;
  std::map<std::string, std::string> table;
  if (o.content_from != "stem") {
    std::ifstream in(o.content_from);
    if (!in) throw DatasetError(o.content_from + ": --content-from: cannot open (expected \"stem\" or a TSV file)");
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty() || line[0] == '#') continue;
      const auto tab = line.find('\t');
      if (tab == std::string::npos || tab == 0 || tab + 1 == line.size())
        throw DatasetError(o.content_from + ":" + std::to_string(n) + ": expected <path relative to " + o.input +
                           ">\t<label>");
      table[line.substr(0, tab)] = line.substr(tab + 1);
    }
  }
  for (const auto& identity : files)
    for (const auto& f : identity) {
      const std::string rel = f.lexically_relative(o.input).generic_string();
      if (o.content_from == "stem") {
        label[rel] = f.stem().string();
        continue;
      }
      const auto it = table.find(rel);
      if (it == table.end())
        throw DatasetError(o.content_from + ": no content label for " + rel + " (every file packed needs a line)");
      label[rel] = it->second;
    }
  return label;
}

// The held-out identity folder names of --holdout-list or --holdout-groups, checked against the input
// before anything is decoded.
std::vector<std::string> holdout_names(const PackOptions& o, const std::vector<fs::path>& identity_dirs) {
  const int ways = (o.holdout_identities > 0) + !o.holdout_list.empty() + !o.holdout_groups.empty();
  if (ways > 1)
    throw DatasetError("--holdout-identities, --holdout-list, --holdout-groups: give one of them, not several");
  std::vector<std::string> folders;
  for (const auto& d : identity_dirs) folders.push_back(d.filename().string());
  return chosen_holdout({o.holdout_list, o.holdout_groups, o.holdout_group_count, o.holdout_group_fraction}, folders,
                        "identity folder", o.input);
}

}  // namespace

namespace {

bool path_less(const fs::path& a, const fs::path& b) { return natural_less(a.generic_string(), b.generic_string()); }

// The output folder must be new or empty; with --overwrite it may hold a dataset, which is removed. Nothing
// else is ever deleted.
void prepare_output(const PackOptions& o) {
  std::error_code ec;
  if (!fs::exists(o.output, ec)) return;
  if (!fs::is_directory(o.output, ec)) throw DatasetError(o.output + ": --output exists and is not a folder");
  std::vector<fs::path> entries, foreign;
  for (const auto& e : fs::directory_iterator(o.output, ec)) {
    entries.push_back(e.path());
    const std::string name = e.path().filename().string();
    const bool dataset_file = e.is_regular_file() && (name == "manifest.json" ||
                                                      (name.rfind("shard-", 0) == 0 && e.path().extension() == ".h5"));
    if (!dataset_file) foreign.push_back(e.path());
  }
  if (entries.empty()) return;
  if (!o.overwrite)
    throw DatasetError(o.output + ": --output is not empty (" + std::to_string(entries.size()) + " entries, e.g. " +
                       entries.front().filename().string() + "); choose a new folder, or pass --overwrite to replace "
                       "the dataset there");
  if (!foreign.empty())
    throw DatasetError(o.output + ": --overwrite replaces only a dataset (manifest.json, shard-*.h5), but the folder "
                       "also holds " + foreign.front().filename().string() + " (" + std::to_string(foreign.size()) +
                       " such entries); nothing was removed");
  for (const auto& p : entries) fs::remove(p, ec);
}

}  // namespace

PackReport pack_folders(const PackOptions& o) {
  std::error_code ec;
  if (!fs::is_directory(o.input, ec)) throw DatasetError(o.input + ": input folder does not exist");
  std::vector<fs::path> identity_dirs;
  for (const auto& e : fs::directory_iterator(o.input, ec))
    if (e.is_directory()) identity_dirs.push_back(e.path());
  std::sort(identity_dirs.begin(), identity_dirs.end(), path_less);
  if (identity_dirs.empty())
    throw DatasetError(o.input + ": no identity folders (expected " + o.input + "/<identity>/**/*." +
                       (o.modality == Modality::Image ? "{png,jpg,jpeg}" : "{wav,flac}") + ")");

  std::vector<std::vector<fs::path>> all_files(identity_dirs.size());
  for (size_t i = 0; i < identity_dirs.size(); ++i) {
    for (const auto& e : fs::recursive_directory_iterator(identity_dirs[i], ec))
      if (e.is_regular_file() && is_media_file(e.path().string(), o.modality)) all_files[i].push_back(e.path());
    std::sort(all_files[i].begin(), all_files[i].end(), path_less);
  }
  // Everything that can be known before decoding is checked before the output folder is touched.
  size_t found = 0, with_two = 0;
  for (const auto& files : all_files) found += files.size(), with_two += files.size() >= 2;
  const char* kind = o.modality == Modality::Image ? "image files (*.png, *.jpg, *.jpeg)" : "audio files (*.wav, *.flac)";
  if (found == 0)
    throw DatasetError(o.input + ": no " + kind + " found under its " + std::to_string(identity_dirs.size()) +
                       " identity folders" + (o.modality == Modality::Image ? " (audio? pass --modality audio)"
                                                                            : " (images? pass --modality image)") +
                       "; nothing was written");
  if (o.holdout_identities > 0 && static_cast<size_t>(o.holdout_identities) + 1 >= with_two)
    throw DatasetError(o.input + ": --holdout-identities " + std::to_string(o.holdout_identities) + " leaves too few of " +
                       "the " + std::to_string(with_two) + " identities with 2 or more " + kind +
                       " to train on; nothing was written");
  const auto label_of = content_labels_of(o, all_files);
  const auto listed_holdout = holdout_names(o, identity_dirs);
  std::vector<std::string> vocabulary;
  for (const auto& kv : label_of) vocabulary.push_back(kv.second);
  std::sort(vocabulary.begin(), vocabulary.end());
  vocabulary.erase(std::unique(vocabulary.begin(), vocabulary.end()), vocabulary.end());
  std::map<std::string, int32_t> label_index;
  for (size_t c = 0; c < vocabulary.size(); ++c) label_index[vocabulary[c]] = static_cast<int32_t>(c);

  prepare_output(o);
  DatasetWriter writer(o.output, o.modality, o.modality == Modality::Image ? o.image_size : o.sample_rate,
                       o.shard_bytes);
  writer.set_content_labels(vocabulary);
  PackReport report;
  std::vector<std::string> kept_names;
  const auto total = static_cast<int64_t>(identity_dirs.size());
  constexpr size_t kGroup = 16;  // identities decoded together (bounds memory)
  for (size_t g = 0; g < identity_dirs.size(); g += kGroup) {
    const size_t g_end = std::min(identity_dirs.size(), g + kGroup);
    const size_t n = g_end - g;
    const std::vector<fs::path>* files = &all_files[g];  // this group's identities
    std::vector<std::pair<size_t, size_t>> jobs;  // (identity in group, file)
    for (size_t i = g; i < g_end; ++i) {
      for (size_t f = 0; f < files[i - g].size(); ++f) jobs.emplace_back(i - g, f);
    }
    std::vector<std::vector<Decoded>> out(n);
    for (size_t i = 0; i < n; ++i) out[i].resize(files[i].size());
    std::atomic<size_t> next{0};
    auto work = [&] {
      for (size_t j; (j = next++) < jobs.size();) {
        const auto [i, f] = jobs[j];
        Decoded& d = out[i][f];
        d.ok = o.modality == Modality::Image ? decode_image(files[i][f].string(), o.image_size, d.image, d.error)
                                             : decode_audio(files[i][f].string(), o.sample_rate, d.audio, d.error);
      }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < std::max(1, o.threads); ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();

    for (size_t i = 0; i < n; ++i) {
      const std::string name = identity_dirs[g + i].filename().string();
      std::vector<std::vector<uint8_t>> images;
      std::vector<std::vector<int16_t>> clips;
      std::vector<int32_t> content;
      for (size_t f = 0; f < files[i].size(); ++f) {
        Decoded& d = out[i][f];
        if (!d.ok) {
          ++report.skipped_files;
          report.problems.push_back(files[i][f].string() + ": skipped: " + d.error);
          continue;
        }
        if (!vocabulary.empty())
          content.push_back(label_index.at(label_of.at(files[i][f].lexically_relative(o.input).generic_string())));
        if (o.modality == Modality::Image) {
          images.push_back(std::move(d.image));
        } else {
          clips.push_back(std::move(d.audio));
        }
      }
      const size_t usable = o.modality == Modality::Image ? images.size() : clips.size();
      if (usable < 2) {
        ++report.skipped_identities;
        report.problems.push_back(identity_dirs[g + i].string() + ": identity skipped: " + std::to_string(usable) +
                                  " usable sample(s), a reference/target pair needs 2");
        continue;
      }
      if (o.modality == Modality::Image) {
        writer.add_image_identity(name, images, content);
      } else {
        writer.add_audio_identity(name, clips, content);
      }
      kept_names.push_back(name);
      report.samples += static_cast<int64_t>(usable);
    }
    if (o.progress) o.progress(static_cast<int64_t>(g_end), total);
  }
  report.identities = static_cast<int64_t>(kept_names.size());
  if (o.holdout_identities > 0 && o.holdout_identities >= report.identities - 1)
    throw DatasetError(o.input + ": --holdout-identities " + std::to_string(o.holdout_identities) + " leaves too few of " +
                       std::to_string(report.identities) + " usable identities to train on");
  std::vector<int64_t> holdout;
  if (!listed_holdout.empty()) {
    for (size_t id = 0; id < kept_names.size(); ++id)
      if (std::binary_search(listed_holdout.begin(), listed_holdout.end(), kept_names[id]))
        holdout.push_back(static_cast<int64_t>(id));
    if (holdout.size() < 2 || holdout.size() + 1 >= kept_names.size())
      throw DatasetError((o.holdout_list.empty() ? o.holdout_groups : o.holdout_list) + ": " +
                         std::to_string(holdout.size()) + " of the held-out identities were packed (" +
                         std::to_string(kept_names.size()) + " in all); evaluation needs at least 2 and training 2");
    report.manifest = writer.finish(holdout);
    return report;
  }
  // Held out by a hash of the name, not by position: adding identities later does not move others across.
  std::vector<std::pair<uint64_t, int64_t>> order;
  for (size_t id = 0; id < kept_names.size(); ++id)
    order.emplace_back(fnv1a64_bytes(kept_names[id].data(), kept_names[id].size()), static_cast<int64_t>(id));
  std::sort(order.begin(), order.end());
  for (int64_t k = 0; k < o.holdout_identities; ++k) holdout.push_back(order[k].second);
  std::sort(holdout.begin(), holdout.end());
  report.manifest = writer.finish(holdout);
  return report;
}

}  // namespace imprint
