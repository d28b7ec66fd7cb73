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
  std::string error, warning;  // warning: packed, but the user should know (clipped audio)
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
  const int ways = (o.holdout_identities > 0) + !o.holdout_list.empty() + !o.holdout_groups.empty() + o.eval_only;
  if (ways > 1)
    throw DatasetError(
        "--holdout-identities, --holdout-list, --holdout-groups, --eval-only: give one of them, not several");
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
                       entries.front().filename().string() +
                       "); choose a new folder, or pass --overwrite to replace "
                       "the dataset there");
  if (!foreign.empty())
    throw DatasetError(o.output +
                       ": --overwrite replaces only a dataset (manifest.json, shard-*.h5), but the folder "
                       "also holds " +
                       foreign.front().filename().string() + " (" + std::to_string(foreign.size()) +
                       " such entries); nothing was removed");
  for (const auto& p : entries) fs::remove(p, ec);
}

}  // namespace

namespace {

// ROOT's identity folders (natural order) and each one's media files (natural order).
struct Listing {
  std::vector<fs::path> identities;
  std::vector<std::vector<fs::path>> files;
  std::vector<std::string> problems;  // entries that could not be read (a symlink loop), folder names that clash
};

// Folders whose names differ only in letter case are distinct identities on Linux but one person to most
// users (and one folder on a case-insensitive filesystem): packed as they are, said so.
void warn_case_clashes(Listing& l) {
  std::map<std::string, std::vector<std::string>> by_lower;
  for (const auto& d : l.identities) {
    std::string lower = d.filename().string();
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    by_lower[lower].push_back(d.filename().string());
  }
  for (const auto& [lower, names] : by_lower) {
    if (names.size() < 2) continue;
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    l.problems.push_back("identity folders " + list + " differ only in letter case: packed as " +
                         std::to_string(names.size()) + " identities (merge them if they are one)");
  }
}

Listing list_input(const PackOptions& o) {
  std::error_code ec;
  if (!fs::is_directory(o.input, ec)) throw DatasetError(o.input + ": input folder does not exist");
  Listing l;
  for (const auto& e : fs::directory_iterator(o.input, ec))
    if (e.is_directory()) l.identities.push_back(e.path());
  std::sort(l.identities.begin(), l.identities.end(), path_less);
  if (l.identities.empty())
    throw DatasetError(o.input + ": no identity folders (expected " + o.input + "/<identity>/**/*." +
                       (o.modality == Modality::Image ? "{png,jpg,jpeg}" : "{wav,flac}") + ")");
  l.files.resize(l.identities.size());
  for (size_t i = 0; i < l.identities.size(); ++i) {
    for (const auto& e : fs::recursive_directory_iterator(l.identities[i], ec)) {
      if (!is_media_file(e.path().string(), o.modality)) continue;
      std::error_code type_ec;  // a symlink loop or a dangling link: that entry is skipped, not the whole pack
      const bool regular = e.is_regular_file(type_ec);
      if (type_ec)
        l.problems.push_back(e.path().string() + ": skipped: " + type_ec.message());
      else if (regular)
        l.files[i].push_back(e.path());
    }
    std::sort(l.files[i].begin(), l.files[i].end(), path_less);
  }
  warn_case_clashes(l);
  return l;
}

// Everything that can be known before decoding is checked before the output folder is touched.
void check_before_writing(const PackOptions& o, const Listing& l) {
  size_t found = 0, with_two = 0;
  for (const auto& files : l.files) found += files.size(), with_two += files.size() >= 2;
  const char* kind =
      o.modality == Modality::Image ? "image files (*.png, *.jpg, *.jpeg)" : "audio files (*.wav, *.flac)";
  if (found == 0)
    throw DatasetError(
        o.input + ": no " + kind + " found under its " + std::to_string(l.identities.size()) + " identity folders" +
        (o.modality == Modality::Image ? " (audio? pass --modality audio)" : " (images? pass --modality image)") +
        "; nothing was written");
  if (o.holdout_identities > 0 && static_cast<size_t>(o.holdout_identities) + 1 >= with_two)
    throw DatasetError(o.input + ": --holdout-identities " + std::to_string(o.holdout_identities) +
                       " leaves too few of " + "the " + std::to_string(with_two) + " identities with 2 or more " +
                       kind + " to train on; nothing was written");
}

// The content labels' names (sorted; index = label) and each file's label index.
struct Vocabulary {
  std::vector<std::string> names;
  std::map<std::string, int32_t> index;
};

Vocabulary vocabulary_of(const std::map<std::string, std::string>& label_of) {
  Vocabulary v;
  for (const auto& kv : label_of) v.names.push_back(kv.second);
  std::sort(v.names.begin(), v.names.end());
  v.names.erase(std::unique(v.names.begin(), v.names.end()), v.names.end());
  for (size_t c = 0; c < v.names.size(); ++c) v.index[v.names[c]] = static_cast<int32_t>(c);
  return v;
}

// Decodes the files of `n` identities on `threads` threads.
std::vector<std::vector<Decoded>> decode_group(const PackOptions& o, const std::vector<fs::path>* files, size_t n) {
  std::vector<std::pair<size_t, size_t>> jobs;  // (identity in group, file)
  for (size_t i = 0; i < n; ++i)
    for (size_t f = 0; f < files[i].size(); ++f) jobs.emplace_back(i, f);
  std::vector<std::vector<Decoded>> out(n);
  for (size_t i = 0; i < n; ++i) out[i].resize(files[i].size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t j; (j = next++) < jobs.size();) {
      const auto [i, f] = jobs[j];
      Decoded& d = out[i][f];
      d.ok = o.modality == Modality::Image
                 ? decode_image(files[i][f].string(), o.image_size, d.image, d.error)
                 : decode_audio(files[i][f].string(), o.sample_rate, d.audio, d.error, &d.warning);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < std::max(1, o.threads); ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  return out;
}

// Adds one identity's decoded samples to the writer; false (and the reason in `report`) when it has fewer
// than 2 usable ones.
bool add_identity(const PackOptions& o, const fs::path& dir, const std::vector<fs::path>& files,
                  std::vector<Decoded>& decoded, const Vocabulary& vocabulary,
                  const std::map<std::string, std::string>& label_of, DatasetWriter& writer, PackReport& report) {
  std::vector<std::vector<uint8_t>> images;
  std::vector<std::vector<int16_t>> clips;
  std::vector<int32_t> content;
  for (size_t f = 0; f < files.size(); ++f) {
    Decoded& d = decoded[f];
    if (!d.ok) {
      ++report.skipped_files;
      report.problems.push_back(files[f].string() + ": skipped: " + d.error);
      continue;
    }
    if (!d.warning.empty()) report.problems.push_back(files[f].string() + ": " + d.warning);
    if (!vocabulary.names.empty())
      content.push_back(vocabulary.index.at(label_of.at(files[f].lexically_relative(o.input).generic_string())));
    if (o.modality == Modality::Image) {
      images.push_back(std::move(d.image));
    } else {
      clips.push_back(std::move(d.audio));
    }
  }
  const size_t usable = o.modality == Modality::Image ? images.size() : clips.size();
  if (usable < 2) {
    ++report.skipped_identities;
    report.problems.push_back(dir.string() + ": identity skipped: " + std::to_string(usable) +
                              " usable sample(s), a reference/target pair needs 2");
    return false;
  }
  const std::string name = dir.filename().string();
  if (o.modality == Modality::Image) {
    writer.add_image_identity(name, images, content);
  } else {
    writer.add_audio_identity(name, clips, content);
  }
  report.samples += static_cast<int64_t>(usable);
  return true;
}

// The held-out identities among those packed: the listed ones, or --holdout-identities chosen by a hash of the
// name (not by position: adding identities later does not move others across the split).
std::vector<int64_t> choose_holdout(const PackOptions& o, const std::vector<std::string>& kept,
                                    const std::vector<std::string>& listed) {
  const auto packed = static_cast<int64_t>(kept.size());
  if (o.eval_only) {
    if (packed < 2)
      throw DatasetError(o.input + ": --eval-only: " + std::to_string(packed) +
                         " usable identities; "
                         "evaluation needs at least 2");
    std::vector<int64_t> all(kept.size());
    for (size_t id = 0; id < kept.size(); ++id) all[id] = static_cast<int64_t>(id);
    return all;
  }
  if (o.holdout_identities > 0 && o.holdout_identities >= packed - 1)
    throw DatasetError(o.input + ": --holdout-identities " + std::to_string(o.holdout_identities) +
                       " leaves too few of " + std::to_string(packed) + " usable identities to train on");
  std::vector<int64_t> holdout;
  if (!listed.empty()) {
    for (size_t id = 0; id < kept.size(); ++id)
      if (std::binary_search(listed.begin(), listed.end(), kept[id])) holdout.push_back(static_cast<int64_t>(id));
    if (holdout.size() < 2 || holdout.size() + 1 >= kept.size())
      throw DatasetError((o.holdout_list.empty() ? o.holdout_groups : o.holdout_list) + ": " +
                         std::to_string(holdout.size()) + " of the held-out identities were packed (" +
                         std::to_string(kept.size()) + " in all); evaluation needs at least 2 and training 2");
    return holdout;
  }
  std::vector<std::pair<uint64_t, int64_t>> order;
  for (size_t id = 0; id < kept.size(); ++id)
    order.emplace_back(fnv1a64_bytes(kept[id].data(), kept[id].size()), static_cast<int64_t>(id));
  std::sort(order.begin(), order.end());
  for (int64_t k = 0; k < o.holdout_identities; ++k) holdout.push_back(order[static_cast<size_t>(k)].second);
  std::sort(holdout.begin(), holdout.end());
  return holdout;
}

// Fewer than 2 identities kept (every file unusable, say): there is no dataset to write. Names the input and
// the first problems; the caller lists every one.
void check_enough_kept(const PackOptions& o, const Listing& l, const std::vector<std::string>& kept,
                       const PackReport& report) {
  if (kept.size() >= 2) return;
  std::string first;
  for (size_t i = 0; i < report.problems.size() && i < 2; ++i) first += (i ? "; " : "") + report.problems[i];
  throw DatasetError(o.input + ": " + std::to_string(kept.size()) + " of its " + std::to_string(l.identities.size()) +
                     " identities have the 2 usable samples a reference/target pair needs, and a dataset needs at "
                     "least 2 such identities; nothing was written (" +
                     std::to_string(report.skipped_files) + " file(s) skipped" +
                     (first.empty() ? "" : ", first: " + first) + ")");
}

}  // namespace

PackReport pack_folders(const PackOptions& o) {
  Listing l = list_input(o);
  check_before_writing(o, l);
  const auto label_of = content_labels_of(o, l.files);
  const auto listed_holdout = holdout_names(o, l.identities);
  const Vocabulary vocabulary = vocabulary_of(label_of);
  prepare_output(o);
  DatasetWriter writer(o.output, o.modality, o.modality == Modality::Image ? o.image_size : o.sample_rate,
                       o.shard_bytes);
  PackReport report;
  report.problems = l.problems;
  try {
    writer.set_content_labels(vocabulary.names);
    std::vector<std::string> kept;
    constexpr size_t kGroup = 16;  // identities decoded together (bounds memory)
    for (size_t g = 0; g < l.identities.size(); g += kGroup) {
      const size_t n = std::min(l.identities.size(), g + kGroup) - g;
      auto decoded = decode_group(o, &l.files[g], n);
      for (size_t i = 0; i < n; ++i)
        if (add_identity(o, l.identities[g + i], l.files[g + i], decoded[i], vocabulary, label_of, writer, report))
          kept.push_back(l.identities[g + i].filename().string());
      if (o.progress) o.progress(static_cast<int64_t>(g + n), static_cast<int64_t>(l.identities.size()));
    }
    report.identities = static_cast<int64_t>(kept.size());
    check_enough_kept(o, l, kept, report);
    report.manifest = writer.finish(choose_holdout(o, kept, listed_holdout));
  } catch (const DatasetError& e) {
    // Nothing half-written stays: the shards written so far go (and the output folder, if pack made it).
    writer.discard();
    throw PackError(e.what(), std::move(report.problems));
  } catch (...) {
    writer.discard();
    throw;
  }
  return report;
}

}  // namespace imprint
