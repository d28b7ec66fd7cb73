// `imprint pack`: a dataset from the folder layouts users already have,
//   images: ROOT/<identity>/**/*.{png,jpg,jpeg}      audio: ROOT/<identity>/**/*.{wav,flac}
// (VCTK / LibriSpeech-style nesting below the identity folder is fine). Identities and their files are taken
// in natural order (2.png before 10.png; sample 0 is the reference in evaluation). Files are decoded on `threads`
// threads but written in sorted order, so the output is byte-identical for the same input whatever the
// thread count. A file that fails to decode is reported and skipped; an identity with fewer than 2 usable
// samples cannot form a reference/target pair and is skipped with a warning. With content_from, each sample
// also gets a content label (dataset format v2).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "data/shard_format.h"

namespace imprint {

struct PackOptions {
  Modality modality = Modality::Image;
  std::string input, output;
  int image_size = 64;
  int sample_rate = 16000;
  int64_t shard_bytes = 256 << 20;
  int threads = 2;
  bool eval_only = false;          // every identity held out: a set to evaluate on (imprint eval), never to train on
  int64_t holdout_identities = 0;  // chosen by a hash of the identity name: stable when identities are added
  // Or a file naming the held-out identities (folder names), one per line ('#' comments): e.g. every face of
  // the held-out font families. Every name must be an identity folder of the input.
  std::string holdout_list;
  // Or a TSV of "<identity folder>\t<group>" lines (every identity; e.g. font face -> family, utterance
  // speaker -> corpus or accent): whole groups are held out, holdout_group_count of them or
  // holdout_group_fraction of them (rounded), the ones with the smallest hash of the group name.
  std::string holdout_groups;
  int64_t holdout_group_count = 0;
  double holdout_group_fraction = 0;
  // Content labels: "" none; "stem" the file name without its extension (ROOT/font/A.png -> "A"); otherwise
  // a TSV file of "<path relative to ROOT>\t<label>" lines that must name every file packed. The labels'
  // vocabulary is their sorted set.
  std::string content_from;
  // An output folder that is not empty is refused unless this is set; then it may hold only a dataset
  // (manifest.json, shard-*.h5), which is replaced. Checked before anything is decoded.
  bool overwrite = false;
  std::function<void(int64_t done, int64_t total)> progress;
};

struct PackReport {
  int64_t identities = 0, samples = 0, skipped_files = 0, skipped_identities = 0;
  std::vector<std::string> problems;  // "path: reason", one per skipped file or identity
  Manifest manifest;
};

// Why pack_folders stopped once decoding had begun (fewer than 2 usable identities, a hold-out that leaves too
// few, a write that failed), with the problems found until then ("path: reason", as PackReport's), which the
// caller reports as it would on success. Nothing is left in the output folder: what was written is removed.
class PackError : public DatasetError {
 public:
  PackError(const std::string& what, std::vector<std::string> problems)
      : DatasetError(what), problems(std::move(problems)) {}
  std::vector<std::string> problems;
};

// Throws DatasetError before anything is decoded or written (no input, no media files, an output folder in
// use, a hold-out list that names no identity), PackError after.
PackReport pack_folders(const PackOptions& options);

}  // namespace imprint
